"""The captioner: a CNN's feature grid read by the shared attention decoder."""

import keras
import numpy as np
import tensorflow as tf

from applications.core.base import Application
from applications.core.metrics import TokenAccuracy
from applications.core.optimizers import make_scheduled_optimizer
from applications.captioner.pipeline import CaptionMetadata
from encoders import build_encoder
from encoders.seq_decoder import ATTENTIONS, AttentionDecoder

FEEDS = ("context", "where")


@keras.saving.register_keras_serializable(package="encore")
class GridPositions(keras.layers.Layer):
    """Adds a learned vector to each of the ``P`` positions of ``[B, P, C]`` features."""

    def build(self, input_shape):
        self.positions = self.add_weight(shape=tuple(input_shape[1:]), initializer="zeros",
                                         name="positions")
        self.built = True

    def call(self, features):
        return features + self.positions


@keras.saving.register_keras_serializable(package="encore")
class Captioner(Application):
    """Image captioning with attention (Show, Attend and Tell; Xu et al. 2015).

    A 2-D ``CNN_Encoder`` (any preset) turns uint8 pixels, scaled to [0, 1], into a feature
    map ``[B, h, w, c]``; its ``h*w`` positions (each plus a learned position vector) are
    what the decoder attends over. With ``state_from_image`` their mean, through
    ``tanh(W m)``, starts the decoder; by default it starts from a learned state. The
    decoder is the translator's :class:`~encoders.seq_decoder.AttentionDecoder` (Luong or
    Bahdanau); greedy and beam search are :mod:`encoders.search`.

    Training takes ``{"image": uint8 [B, H, W, C], "target_in": [B, T]}`` and returns
    logits ``[B, T, V]`` for ``target_out`` with teacher forcing, or with
    ``scheduled_sampling > 0`` feeding back its own predictions at random steps.

    Args:
        config: ``CaptionerConfig.to_dict()``.
        metadata: ``CaptionMetadata.get_config()``.

    Example:
        >>> from applications.captioner.config import CaptionerConfig
        >>> from data import Vocabulary
        >>> from encoders.search import output_vocabulary
        >>> meta = CaptionMetadata(output_vocabulary(Vocabulary(["a", "dog"])), 32, 32, 1)
        >>> model = Captioner(CaptionerConfig().to_dict(), meta.get_config())
        >>> out = model({"image": np.zeros((2, 32, 32, 1), "uint8"),
        ...              "target_in": np.ones((2, 5), "int32")})
        >>> tuple(out.shape)
        (2, 5, 6)
    """

    monitor = ("val_loss", "min")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        meta = CaptionMetadata.from_config(metadata)
        encoder = dict(config["encoder"])
        if encoder.get("name") != "cnn" or encoder.get("mode", "2d") != "2d":
            raise ValueError("the captioner needs a 2-D CNN encoder (encoder.name=cnn)")
        if config["attention"] not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, "
                             f"not {config['attention']!r}")
        if not 0.0 <= config["scheduled_sampling"] <= 1.0:
            raise ValueError("scheduled_sampling must be between 0 and 1")
        if not 0.0 <= config["dropout"] < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {config['dropout']}")
        if config["max_length"] < 1 or config["beam_size"] < 1:
            raise ValueError("max_length and beam_size must be 1 or more")
        # Models saved before this option existed fed the context.
        self.feed = config.get("feed", "context")
        if self.feed not in FEEDS:
            raise ValueError(f"feed must be one of {', '.join(FEEDS)}, not {self.feed!r}")
        self.encoder = build_encoder(encoder, layer_name="encoder")
        self.encoder.check_input_size(meta.height, meta.width)
        self.positions = (GridPositions(name="grid_positions")
                          if config["position_embedding"] else None)
        self.decoder = AttentionDecoder(
            len(meta.words), config["embedding_dim"], config["decoder_units"],
            attention=config["attention"], score=config["score"],
            attention_units=config["attention_units"], output_dim=config["output_dim"],
            dropout=config["dropout"], tie_embeddings=config["tie_embeddings"],
            name="decoder")

    def grid(self, images, training=False):
        """Feature positions ``[B, h*w, c]`` of uint8 images and the grid's ``(h, w)``."""
        x = tf.cast(images, tf.float32) / 255.0
        features = self.encoder(x, training=training)["sequence"]
        height, width, channels = features.shape[1:]
        positions = tf.reshape(features, [-1, height * width, channels])
        if self.positions is not None:
            positions = self.positions(positions)
        return positions, (height, width)

    def encode(self, images, training=False):
        """The decoder's per-image memory (what :mod:`encoders.search` calls)."""
        positions, _ = self.grid(images, training)
        mask = tf.ones(tf.shape(positions)[:2], tf.bool)
        summary = tf.reduce_mean(positions, axis=1)
        if not self.config["state_from_image"]:
            # The same learned start for every image: all it learns of the image, the
            # decoder learns through attention.
            summary = tf.zeros_like(summary)
        feed = None
        if self.feed == "where":
            # A one-hot code per position: the GRU reads the attention weights themselves.
            count = positions.shape[1]
            feed = tf.tile(tf.eye(count)[None], [tf.shape(positions)[0], 1, 1])
        return self.decoder.prepare(positions, summary, mask, feed=feed)

    def call(self, inputs, training=False):
        """Logits ``[B, K, T, V]`` for ``target_in`` ``[B, K, T]``: K captions per image
        (``[B, T]`` gives ``[B, T, V]``); each image is encoded once for all K."""
        target_in = tf.convert_to_tensor(inputs["target_in"])
        single = len(target_in.shape) == 2
        if single:
            target_in = target_in[:, None]
        per_image, length = tf.shape(target_in)[1], tf.shape(target_in)[2]
        memory = self.encode(inputs["image"], training=training)
        memory = {name: tf.repeat(value, per_image, axis=0) for name, value in memory.items()}
        flat = tf.reshape(target_in, [-1, length])
        ratio = self.config["scheduled_sampling"]
        if training and ratio > 0:
            logits = self.decoder.scheduled_sampling(flat, memory, ratio, training=True)
        else:
            logits = self.decoder.teacher_forced(flat, memory, training=training)[0]
        if single:
            return logits
        return tf.reshape(logits, tf.concat([tf.shape(target_in), [-1]], 0))

    @property
    def max_steps(self):
        """Decoding stops after the longest caption trained on and its ``</s>``."""
        return int(self.config["max_length"]) + 1

    def build(self, input_shape=None):
        self.built = True

    def build_from_config(self, config):
        meta = self.metadata
        self({"image": np.zeros((1, meta["height"], meta["width"], meta["channels"]),
                                np.uint8), "target_in": np.ones((1, 2), np.int32)})

    def get_build_config(self):
        return {"built": True}

    def make_loss(self):
        # Mean over real caption words: the weights are 0 at padding.
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def make_optimizer(self):
        return make_scheduled_optimizer(self, self.config["learning_rate"])

    def make_metrics(self):
        return [TokenAccuracy()]

    def caption(self, images, beam_size=None, length_penalty=None):
        """Captions of images, as the ``predict`` command writes them.

        Args:
            images: an image file path or a list of them; or arrays (``[H, W]``,
                ``[H, W, C]``, a batch ``[N, H, W, C]``), converted as files are.
            beam_size: beam width, 1 = greedy (default: the model's ``beam_size``).
            length_penalty: GNMT alpha (default: the model's).

        Returns:
            One caption ``str`` per image (one ``str`` for a single image).

        Example:
            >>> captioner = Captioner.load_model("runs/flickr8k")  # doctest: +SKIP
            >>> captioner.predict("dog.jpg")  # doctest: +SKIP
            'a dog runs through the grass'
        """
        from applications.core.api import image_batch, model_server
        from applications.core.decoding import checked_decoding
        from applications.captioner.serving import caption_pixels

        meta = self.metadata
        pixels, single = image_batch(images, (meta["height"], meta["width"],
                                              meta["channels"]))
        server = model_server(self)
        beam, alpha = checked_decoding(
            self.config["beam_size"] if beam_size is None else beam_size,
            self.config["length_penalty"] if length_penalty is None else length_penalty)
        captions = caption_pixels(server.captioner(beam, alpha), pixels)["captions"]
        return captions[0] if single else captions

    predict_raw = caption

    def serving_module(self):
        from applications.captioner.serving import CaptionerServer

        return CaptionerServer(self)

