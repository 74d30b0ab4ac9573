"""The autoencoder's exported functions: pixels (or image files) in, codes out."""

import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind, image_batch
from applications.core.serving import ServingModule
from data.image_decoding import decode_images


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


def reconstructed_images(serve, pixels, batch_size=512):
    """``{"error", "reconstruction", "code"}`` for each uint8 image of ``pixels``.

    ``serve`` is :attr:`AutoencoderServer.serve` or the exported signature of that name,
    which the ``predict`` command calls too. ``error`` is the mean squared error per pixel
    in [0, 1] units, ``reconstruction`` a uint8 ``[H, W, C]`` array, ``code`` the float32
    code vector.
    """
    results = []
    for start in range(0, len(pixels), batch_size):
        served = serve(pixels=tf.constant(pixels[start:start + batch_size]))
        results += [{"error": float(error), "reconstruction": image, "code": code}
                    for error, image, code in zip(served["errors"].numpy(),
                                                  served["reconstructions"].numpy(),
                                                  served["codes"].numpy())]
    return results


@exported_kind
class ExportedAutoencoder(ExportedModel):
    """An autoencoder's SavedModel, called like :class:`Autoencoder`: ``predict`` and
    ``reconstruct`` take image file paths or arrays (see :meth:`Autoencoder.reconstruct`)."""

    serve_outputs = frozenset({"codes", "reconstructions", "errors"})

    def reconstruct(self, images):
        serve = self.signatures["serve"]
        shape = serve.structured_input_signature[1]["pixels"].shape[1:]
        pixels, single = image_batch(images, tuple(shape))
        results = reconstructed_images(serve, pixels)
        return results[0] if single else results

    predict = reconstruct
