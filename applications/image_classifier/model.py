"""The image classifier: ``CNN_Encoder`` plus a dense head on the shared base."""

import keras

from applications.core.base import Application
from applications.core.optimizers import make_scheduled_optimizer
from data.image_sets import ImageMetadata
from encoders import build_encoder
from encoders.backbones import has_pretrained_weights


def augmentation_layers(config):
    """Keras preprocessing layers for the ``augment_*`` options; each is a no-op at inference."""
    layers = []
    if config["augment_flip"]:
        layers.append(keras.layers.RandomFlip(config["augment_flip"], name="flip"))
    if config["augment_rotation"]:
        layers.append(keras.layers.RandomRotation(config["augment_rotation"],
                                                  fill_mode="constant", name="rotate"))
    if config["augment_zoom"]:
        layers.append(keras.layers.RandomZoom(config["augment_zoom"], fill_mode="constant",
                                              name="zoom"))
    if config["augment_translation"]:
        t = config["augment_translation"]
        layers.append(keras.layers.RandomTranslation(t, t, fill_mode="constant",
                                                     name="translate"))
    return layers


def inference_mirror_axes(config):
    """Image axes (of ``[B, H, W, C]``) to mirror at inference: those ``augment_flip`` trains
    with, when ``test_time_flip`` is on."""
    if not config.get("test_time_flip"):
        return []
    flip = config["augment_flip"]
    return [axis for axis, name in ((2, "horizontal"), (1, "vertical")) if name in flip]


@keras.saving.register_keras_serializable(package="encore")
class ImageClassifier(Application):
    """Classifies images: the notes' CNN with augmentation, batch norm and dropout.

    The model takes ``uint8`` pixels ``[B, H, W, C]`` and scales them in its own graph, so
    the input pipeline moves bytes, not floats. In training, the ``augment_*`` layers shift,
    rotate, zoom and flip each batch; the ``CNN_Encoder`` (``small`` preset by default)
    summarises the image; dense layers with dropout give one logit per class. With
    ``test_time_flip``, inference averages the logits of each image and its mirror images.

    With ``freeze_encoder`` the encoder (batch-norm statistics included) stays as it was
    loaded from ``init_from``, or as a backbone's pretrained weights (``encoder.weights``)
    set it, and only the dense head trains.

    Args:
        config: ``ImageClassifierConfig.to_dict()``.
        metadata: ``ImageMetadata.get_config()`` from the training images.

    Example:
        >>> import numpy as np
        >>> from applications.image_classifier.config import ImageClassifierConfig
        >>> meta = ImageMetadata(28, 28, 1, ["0", "1"], ["zero", "one"], 100)
        >>> model = ImageClassifier(ImageClassifierConfig().to_dict(), meta.get_config())
        >>> tuple(model(np.zeros((2, 28, 28, 1), "uint8")).shape)
        (2, 2)
    """

    monitor = ("val_accuracy", "max")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        meta = ImageMetadata.from_config(metadata)
        self.augment = augmentation_layers(config)
        self.encoder = build_encoder(config["encoder"], layer_name="encoder")
        if config.get("freeze_encoder"):
            self.encoder.trainable = False
        self.hidden = [keras.layers.Dense(size, activation="relu", name=f"hidden_{i}")
                       for i, size in enumerate(config["hidden"])]
        self.dropout = keras.layers.Dropout(config["dropout"])
        self.head = keras.layers.Dense(len(meta.labels), name="class_scores")

    def call(self, inputs, training=False):
        x = keras.ops.cast(inputs, "float32") / 255.0
        mirror_axes = inference_mirror_axes(self.config)
        if training or not mirror_axes:
            return self.class_scores(x, training)
        # Test-time augmentation: the mean of the scores of the image and its mirror images.
        scores = [self.class_scores(x)]
        scores += [self.class_scores(keras.ops.flip(x, axis)) for axis in mirror_axes]
        return keras.ops.mean(keras.ops.stack(scores), axis=0)

    def class_scores(self, x, training=False):
        """Logits ``[B, K]`` for images already scaled to [0, 1]."""
        for layer in self.augment:
            x = layer(x, training=training)
        # A frozen encoder runs in inference mode: its batch-norm statistics stay fixed.
        features = self.encoder(x, training=training and self.encoder.trainable)["pooled"]
        if not self.hidden:
            features = self.dropout(features, training=training)
        for layer in self.hidden:
            features = self.dropout(layer(features), training=training)
        return self.head(features)

    def make_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def make_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def make_optimizer(self):
        fine_tuning = ((self.config.get("init_from")
                        or has_pretrained_weights(self.config["encoder"]))
                       and not self.config.get("freeze_encoder"))
        rate = self.config["fine_tune_learning_rate" if fine_tuning else "learning_rate"]
        return make_scheduled_optimizer(self, rate)

    def classify(self, images):
        """The class and probabilities of images, as the ``predict`` command gives them.

        ``predict`` sends file paths here; this method also takes arrays.

        Args:
            images: an image file path (PNG, JPEG, GIF, BMP) or a list of them; or one
                image array (``[H, W]`` or ``[H, W, C]``), a batch ``[N, H, W, C]`` or a list
                of arrays: ``uint8`` pixels, or floats in [0, 1]. Other sizes and channel
                counts are converted as image files are.

        Returns:
            ``{"label": str, "probabilities": {class name: float}}`` per image (one dict for
            a single path or image array).

        Example:
            >>> classifier = ImageClassifier.load_model("runs/mnist")  # doctest: +SKIP
            >>> classifier.predict(["seven.png"])  # doctest: +SKIP
            [{'label': '7', 'probabilities': {'0': 0.0001, ..., '7': 0.998, ...}}]
        """
        from applications.core.api import image_batch, model_server
        from applications.image_classifier.serving import classified_images

        meta = self.metadata
        pixels, single = image_batch(images, (meta["height"], meta["width"], meta["channels"]))
        results = classified_images(model_server(self).classify_pixels, pixels)
        return results[0] if single else results

    predict_raw = classify

    def serving_module(self):
        from applications.image_classifier.serving import ImageClassifierServer

        return ImageClassifierServer(self)
