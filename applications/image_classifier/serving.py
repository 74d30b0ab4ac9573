"""The classifier's exported functions: image files (or pixels) in, class probabilities out."""

import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind, image_batch
from applications.core.serving import ServingModule
from data.image_decoding import decode_images


class ImageClassifierServer(ServingModule):
    """Wraps a trained :class:`ImageClassifier` for raw inputs.

    ``serve(images)`` takes a batch of encoded image files (``tf.string``: PNG, JPEG, GIF,
    BMP) and returns ``probabilities`` ``[N, K]``, ``class_names`` ``[N, K]`` (the same K
    names in every row) and ``predicted`` ``[N]``. ``classify_pixels(pixels)`` takes
    ``uint8 [N, H, W, C]`` arrays and returns the same.

    Args:
        model: a trained :class:`ImageClassifier`.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.serve(tf.constant([open("seven.png", "rb").read()]))["predicted"]
        <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'7'], dtype=object)>
    """

    def __init__(self, model):
        super().__init__(model)
        meta = model.metadata
        self.shape = (meta["height"], meta["width"], meta["channels"])
        self.class_names = tf.constant(meta["class_names"])
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None], tf.string, name="images")])
        self.classify_pixels = tf.function(self._outputs, input_signature=[
            tf.TensorSpec([None, *self.shape], tf.uint8, name="pixels")])

    def endpoints(self):
        return {"serve": self.serve, "classify_pixels": self.classify_pixels}

    def _serve(self, images):
        return self._outputs(decode_images(images, *self.shape))

    def _outputs(self, pixels):
        probabilities = tf.nn.softmax(self.model(pixels, training=False), axis=-1)
        names = tf.tile(self.class_names[tf.newaxis, :], [tf.shape(pixels)[0], 1])
        predicted = tf.gather(self.class_names, tf.argmax(probabilities, axis=-1))
        return {"probabilities": probabilities, "class_names": names, "predicted": predicted}


def classified_images(classify_pixels, pixels, batch_size=512):
    """``{"label", "probabilities"}`` for each uint8 image of ``pixels`` ``[N, H, W, C]``.

    ``classify_pixels`` is :attr:`ImageClassifierServer.classify_pixels` or the exported
    signature of that name, which the ``predict`` command calls too.
    """
    results = []
    for start in range(0, len(pixels), batch_size):
        served = classify_pixels(pixels=tf.constant(pixels[start:start + batch_size]))
        for label, row, names in zip(served["predicted"].numpy(),
                                     served["probabilities"].numpy(),
                                     served["class_names"].numpy()):
            results.append({"label": label.decode("utf-8"),
                            "probabilities": {name.decode("utf-8"): float(p)
                                              for name, p in zip(names, row)}})
    return results


@exported_kind
class ExportedImageClassifier(ExportedModel):
    """An image classifier's SavedModel, called like :class:`ImageClassifier`: ``predict``
    and ``classify`` take image file paths or arrays (see :meth:`ImageClassifier.classify`)."""

    serve_outputs = frozenset({"probabilities", "class_names", "predicted"})

    def classify(self, images):
        classify_pixels = self.signatures["classify_pixels"]
        shape = classify_pixels.structured_input_signature[1]["pixels"].shape[1:]
        pixels, single = image_batch(images, tuple(shape))
        results = classified_images(classify_pixels, pixels)
        return results[0] if single else results

    predict = classify
