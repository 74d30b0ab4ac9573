"""The detector's exported functions: encoded images in, boxes in the image's own pixels out."""

import os

import numpy as np
import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind
from applications.core.serving import ServingModule
from data.errors import InputError
from data.image_decoding import declared_pixels
from data.image_files import MAX_IMAGE_PIXELS

CHUNK = 32  # images per serving call from Python


class DetectorServer(ServingModule):
    """Wraps a trained :class:`~applications.detector.model.Detector` for raw inputs.

    ``serve(images)`` takes a batch of encoded image files (``tf.string``: JPEG, PNG, GIF,
    BMP; greyscale ones are decoded to three channels) of any sizes and returns, per image,
    the detections best first: ``boxes [N, D, 4]`` (``xmin, ymin, xmax, ymax`` in the image's
    own pixels), ``scores [N, D]``, ``classes [N, D]`` (class names, "" past the count),
    ``class_ids [N, D]`` (-1 past it) and ``count [N]``. ``detect_pixels(pixels, sizes)``
    does the same for ``uint8 [N, S, S, 3]`` pixels already at the model's size and each
    image's own ``(height, width)``; ``serve`` decodes, resizes and calls it.

    Args:
        model: a trained detector.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.serve(tf.constant([open("raccoon.jpg", "rb").read()]))["classes"][0, 0]
        <tf.Tensor: shape=(), dtype=string, numpy=b'raccoon'>
    """

    def __init__(self, model):
        super().__init__(model)
        self.side = int(model.config["image_size"])
        self.class_names = tf.constant(list(model.class_names) + [""])
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None], tf.string, name="images")])
        self.detect_pixels = tf.function(self._detect, input_signature=[
            tf.TensorSpec([None, self.side, self.side, 3], tf.uint8, name="pixels"),
            tf.TensorSpec([None, 2], tf.int32, name="sizes")])

    def endpoints(self):
        return {"serve": self.serve, "detect_pixels": self.detect_pixels}

    def _serve(self, images):
        side = self.side

        def one(encoded):
            check = tf.debugging.assert_less_equal(
                declared_pixels(encoded), tf.constant(MAX_IMAGE_PIXELS, tf.int64),
                message=f"refused: the image declares more than {MAX_IMAGE_PIXELS} pixels")
            with tf.control_dependencies([check]):
                image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
            size = tf.shape(image)[:2]
            # Resized and rounded as the training reader resizes (data.image_files.fit_image).
            resized = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(image, [side, side])),
                                               0, 255), tf.uint8)
            return tf.ensure_shape(resized, [side, side, 3]), size

        pixels, sizes = tf.map_fn(one, images, fn_output_signature=(
            tf.TensorSpec([side, side, 3], tf.uint8), tf.TensorSpec([2], tf.int32)))
        return self._detect(pixels, sizes)

    def _detect(self, pixels, sizes):
        found = self.model.detect(pixels)
        height = tf.cast(sizes[:, 0], tf.float32)[:, None]
        width = tf.cast(sizes[:, 1], tf.float32)[:, None]
        ymin, xmin, ymax, xmax = tf.unstack(found["boxes"], axis=-1)
        boxes = tf.stack([xmin * width, ymin * height, xmax * width, ymax * height], -1)
        ids = found["classes"]
        names = tf.gather(self.class_names, tf.where(ids < 0, len(self.model.class_names), ids))
        return {"boxes": boxes, "scores": found["scores"], "classes": names,
                "class_ids": ids, "count": found["count"]}


def as_detections(served):
    """Python lists from one serving call's outputs: per image a list of
    ``{"class", "score", "box": [xmin, ymin, xmax, ymax]}``."""
    results = []
    for boxes, scores, names, count in zip(served["boxes"].numpy(), served["scores"].numpy(),
                                           served["classes"].numpy(),
                                           served["count"].numpy()):
        results.append([{"class": names[k].decode("utf-8"), "score": float(scores[k]),
                         "box": [float(v) for v in boxes[k]]} for k in range(int(count))])
    return results


def detections_in_files(serve, paths):
    """:func:`as_detections` for image files, read and served ``CHUNK`` at a time.

    ``serve`` is :attr:`DetectorServer.serve` or the exported signature of that name.

    Raises:
        InputError: a file that TensorFlow cannot decode, named.
    """
    results = []
    for start in range(0, len(paths), CHUNK):
        chunk = [os.fspath(path) for path in paths[start:start + CHUNK]]
        data = []
        for path in chunk:
            with open(path, "rb") as handle:
                data.append(handle.read())
        results.extend(as_detections(_served(serve, chunk, data)))
    return results


def _served(serve, paths, data):
    try:
        return serve(images=tf.constant(data, tf.string))
    except tf.errors.InvalidArgumentError:
        for path, one in zip(paths, data):  # which one?
            try:
                serve(images=tf.constant([one], tf.string))
            except tf.errors.InvalidArgumentError:
                raise InputError("cannot decode this image", path) from None
        raise


def detect_set(detect_pixels, images, sizes, batch_size=CHUNK):
    """Serve ``uint8 [N, S, S, 3]`` pixels with their own ``sizes [N, 2]``; returns
    ``(boxes [N, D, 4] pixels, scores [N, D], class ids [N, D], count [N])`` as arrays."""
    parts = []
    for start in range(0, len(images), batch_size):
        served = detect_pixels(pixels=tf.constant(images[start:start + batch_size]),
                               sizes=tf.constant(sizes[start:start + batch_size], tf.int32))
        parts.append([served[k].numpy() for k in ("boxes", "scores", "class_ids", "count")])
    return tuple(np.concatenate(column) for column in zip(*parts))


@exported_kind
class ExportedDetector(ExportedModel):
    """A detector's SavedModel, called like the :class:`Detector`: ``predict`` and ``find``
    take image file paths."""

    serve_outputs = frozenset({"boxes", "scores", "classes", "class_ids", "count"})

    def find(self, images):
        single = isinstance(images, (str, os.PathLike))
        found = detections_in_files(self.signatures["serve"], [images] if single else images)
        return found[0] if single else found

    predict = find
