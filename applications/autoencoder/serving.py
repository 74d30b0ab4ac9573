"""The autoencoder's exported functions: pixels (or image files) in, codes out."""

import tensorflow as tf

from applications.core.base import ServingModule
from applications.image_classifier.serving import decode_images


class AutoencoderServer(ServingModule):
    """Wraps a trained :class:`Autoencoder` for raw inputs.

    - ``encode(pixels)``: ``uint8 [N, H, W, C]`` -> ``codes`` ``float32 [N, code_dim]``.
    - ``encode_images(images)``: encoded PNG/JPEG bytes (``tf.string [N]``) -> ``codes``.
    - ``serve(pixels)``: ``codes``, ``reconstructions`` (``uint8 [N, H, W, C]``) and
      ``errors`` (each image's mean squared error per pixel, in [0, 1] units).

    Args:
        model: a trained :class:`Autoencoder`.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.encode(tf.zeros([2, 28, 28, 1], tf.uint8))["codes"].shape
        TensorShape([2, 32])
    """

    def __init__(self, model):
        super().__init__(model)
        meta = model.metadata
        self.shape = (meta["height"], meta["width"], meta["channels"])
        pixels = tf.TensorSpec([None, *self.shape], tf.uint8, name="pixels")
        self.encode = tf.function(self._encode, input_signature=[pixels])
        self.serve = tf.function(self._serve, input_signature=[pixels])
        self.encode_images = tf.function(self._encode_images, input_signature=[
            tf.TensorSpec([None], tf.string, name="images")])

    def endpoints(self):
        return {"serve": self.serve, "encode": self.encode, "encode_images": self.encode_images}

    def _encode(self, pixels):
        return {"codes": self.model.encode(pixels, training=False)}

    def _encode_images(self, images):
        return self._encode(decode_images(images, *self.shape))

    def _serve(self, pixels):
        codes = self.model.encode(pixels, training=False)
        scaled = self.model.decode(codes)
        errors = tf.reduce_mean(tf.square(scaled - tf.cast(pixels, tf.float32) / 255.0),
                                axis=[1, 2, 3])
        reconstructions = tf.cast(tf.round(tf.clip_by_value(scaled, 0.0, 1.0) * 255.0), tf.uint8)
        return {"codes": codes, "reconstructions": reconstructions, "errors": errors}
