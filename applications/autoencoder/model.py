"""Dense and convolutional autoencoders: a learned vector representation of images."""

import math

import keras

from applications.core.base import Application
from applications.core.optimizers import make_scheduled_optimizer
from data.image_sets import ImageMetadata
from encoders import build_encoder

KINDS = ("conv", "dense")


def feature_map_size(size, encoder):
    """Height or width of the encoder's feature map for an input of ``size`` ('same' padding)."""
    for _ in encoder.filters:
        size = math.ceil(size / encoder.strides)
        if encoder.pooling:
            size //= 2
    return size


def checked_encoder(config, layer_name=None):
    """Check the options an autoencoder is built from (a config dict, before any data is
    read); returns the ``conv`` kind's ``CNN_Encoder``, or None for ``dense``.

    Raises:
        ValueError: an unknown kind, no code, or an encoder the decoder cannot mirror.
    """
    if config["kind"] not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {config['kind']!r}")
    if config["code_dim"] < 1:
        raise ValueError("code_dim must be 1 or more")
    if config["kind"] == "dense":
        return None
    encoder = build_encoder(config["encoder"], layer_name=layer_name)
    if getattr(encoder, "backbone", None):
        raise ValueError("a conv autoencoder mirrors the encoder's convolution blocks; a "
                         f"{encoder.backbone} backbone has none to mirror")
    if any(p != "same" for p in encoder.padding) or encoder.mode != "2d":
        raise ValueError("a conv autoencoder needs a 2-D encoder with 'same' padding")
    return encoder


@keras.saving.register_keras_serializable(package="encore")
class Autoencoder(Application):
    """Compresses each image to ``code_dim`` numbers and reconstructs it from them.

    ``kind="conv"``: a ``CNN_Encoder`` (strided 3x3 convolutions by default) whose flattened
    feature map goes to a linear code; the decoder maps the code back to that feature map
    and mirrors each encoder block with a transposed convolution of the same stride.
    ``kind="dense"``: dense layers ``hidden`` down to the code and back up, mirrored.
    Both end in a sigmoid per pixel and train on the mean squared error in [0, 1].

    Args:
        config: ``AutoencoderConfig.to_dict()``.
        metadata: ``ImageMetadata.get_config()`` of the training images (no labels).

    Example:
        >>> import numpy as np
        >>> from applications.autoencoder.config import AutoencoderConfig
        >>> model = Autoencoder(AutoencoderConfig().to_dict(),
        ...                     ImageMetadata(28, 28, 1, train_examples=10).get_config())
        >>> tuple(model.encode(np.zeros((2, 28, 28, 1), "uint8")).shape)
        (2, 32)
    """

    monitor = ("val_loss", "min")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        meta = ImageMetadata.from_config(metadata)
        self.kind = config["kind"]
        self.encoder = checked_encoder(config, layer_name="encoder")
        height, width, channels = meta.shape
        if self.kind == "dense":
            self.down = [keras.layers.Flatten()] + [
                keras.layers.Dense(n, activation="relu") for n in config["hidden"]]
            self.up = [keras.layers.Dense(n, activation="relu") for n in config["hidden"][::-1]]
            self.up += [keras.layers.Dense(height * width * channels),
                        keras.layers.Reshape((height, width, channels))]
        else:
            h, w = feature_map_size(height, self.encoder), feature_map_size(width, self.encoder)
            factor = self.encoder.strides * (2 if self.encoder.pooling else 1)
            self.down = [keras.layers.Flatten()]
            self.up = [keras.layers.Dense(h * w * self.encoder.filters[-1], activation="relu"),
                       keras.layers.Reshape((h, w, self.encoder.filters[-1]))]
            for filters in self.encoder.filters[::-1][1:] + [self.encoder.filters[0]]:
                self.up.append(keras.layers.Conv2DTranspose(
                    filters, 3, strides=factor, padding="same", activation="relu"))
            self.up.append(keras.layers.Conv2D(channels, 3, padding="same"))
            grown = factor ** len(self.encoder.filters)
            extra_h, extra_w = h * grown - height, w * grown - width
            if extra_h or extra_w:  # 'same' padding rounded up on the way down: crop back
                self.up.append(keras.layers.Cropping2D(
                    ((extra_h // 2, extra_h - extra_h // 2),
                     (extra_w // 2, extra_w - extra_w // 2))))
        self.code = keras.layers.Dense(config["code_dim"], name="code")

    def encode(self, inputs, training=False):
        x = keras.ops.cast(inputs, "float32") / 255.0
        if self.encoder is not None:
            x = self.encoder(x, training=training)["sequence"]
        for layer in self.down:
            x = layer(x)
        return self.code(x)

    def decode(self, codes):
        x = codes
        for layer in self.up:
            x = layer(x)
        return keras.ops.sigmoid(x)

    def call(self, inputs, training=False):
        return self.decode(self.encode(inputs, training=training))

    def make_loss(self):
        return keras.losses.MeanSquaredError()

    def make_optimizer(self):
        return make_scheduled_optimizer(self, self.config["learning_rate"])

    def reconstruct(self, images):
        """Each image's reconstruction error, reconstruction and code, as ``predict`` scores.

        ``predict`` sends file paths here; this method also takes arrays.

        Args:
            images: an image file path or a list of them; or one image array (``[H, W]``
                or ``[H, W, C]``), a batch ``[N, H, W, C]`` or a list of arrays: ``uint8``
                pixels, or floats in [0, 1]. Other sizes and channel counts are converted
                as image files are.

        Returns:
            ``{"error": float, "reconstruction": uint8 [H, W, C], "code": float32 [D]}``
            per image (one dict for a single path or image array); ``error`` is the mean
            squared error per pixel in [0, 1] units, the ``predict`` command's ``mse``.

        Example:
            >>> autoencoder = Autoencoder.load_model("runs/ae")  # doctest: +SKIP
            >>> autoencoder.predict("digit.png")["error"]  # doctest: +SKIP
            0.0123
        """
        from applications.core.api import image_batch, model_server
        from applications.autoencoder.serving import reconstructed_images

        meta = self.metadata
        pixels, single = image_batch(images, (meta["height"], meta["width"], meta["channels"]))
        results = reconstructed_images(model_server(self).serve, pixels)
        return results[0] if single else results

    predict_raw = reconstruct

    def serving_module(self):
        from applications.autoencoder.serving import AutoencoderServer

        return AutoencoderServer(self)
