"""The video classifier's exported functions: uint8 frames in, a label per frame and per clip out."""

import json
import os

import numpy as np
import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind
from applications.core.serving import ServingModule
from applications.video_classifier.pipeline import batches, read_options
from data.video_sets import read_video_set

# Every output ``serve`` may give (which of them depends on the model's heads).
OUTPUTS = frozenset({"frame_labels", "frame_probabilities", "clip_label",
                     "clip_probabilities"})


class VideoClassifierServer(ServingModule):
    """Wraps a trained :class:`VideoClassifier` for raw frames.

    ``serve(frames)`` takes one clip, ``uint8 [T, H, W, C]``, and returns
    ``frame_labels`` ``[T]`` with ``frame_probabilities`` ``[T, K]`` (when the model labels
    frames) and ``clip_label`` ``[]`` with ``clip_probabilities`` ``[K]`` (when it labels
    clips). ``classify_clips(frames, lengths)`` takes a padded batch ``[B, T, H, W, C]``
    with the real length of each clip and returns the same, batched
    (``frame_labels`` ``[B, T]``, ``clip_label`` ``[B]``, ...).

    Args:
        model: a trained :class:`VideoClassifier`.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.serve(tf.zeros([20, 64, 64, 1], tf.uint8))["clip_label"]  # doctest: +SKIP
        <tf.Tensor: shape=(), dtype=string, numpy=b'7'>
    """

    def __init__(self, model):
        super().__init__(model)
        meta = model.metadata
        shape = (meta["height"], meta["width"], meta["channels"])
        self.names = {head: tf.constant(meta[f"{head}_labels"])
                      for head in ("frame", "clip") if meta[f"{head}_labels"]}
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None, *shape], tf.uint8, name="frames")])
        self.classify_clips = tf.function(self._classify, input_signature=[
            tf.TensorSpec([None, None, *shape], tf.uint8, name="frames"),
            tf.TensorSpec([None], tf.int32, name="lengths")])
        text = json.dumps(read_options(model.config, meta))
        self.describe = tf.function(lambda: {"read_options": tf.constant(text)},
                                    input_signature=[])

    def endpoints(self):
        return {"serve": self.serve, "classify_clips": self.classify_clips,
                "describe": self.describe}

    def _classify(self, frames, lengths):
        logits = self.model({"frames": frames, "lengths": lengths}, training=False)
        outputs = {}
        for head, names in self.names.items():
            probabilities = tf.nn.softmax(logits[head], axis=-1)
            outputs[f"{head}_probabilities"] = probabilities
            outputs[f"{head}_label" if head == "clip" else "frame_labels"] = tf.gather(
                names, tf.argmax(probabilities, axis=-1))
        return outputs

    def _serve(self, frames):
        batch = self._classify(frames[tf.newaxis], tf.shape(frames)[:1])
        return {key: value[0] for key, value in batch.items()}


def classify_batches(classify_clips, batches):
    """Yield ``(lengths, {output: numpy array})`` for each ``{"frames", "lengths"}`` batch;
    ``classify_clips`` is :attr:`VideoClassifierServer.classify_clips` or the exported
    signature of that name."""
    for batch in batches:
        inputs = batch[0] if isinstance(batch, tuple) else batch
        lengths = tf.cast(inputs["lengths"], tf.int32)
        served = classify_clips(frames=inputs["frames"], lengths=lengths)
        yield lengths.numpy(), {key: value.numpy() for key, value in served.items()}


def clip_results(lengths, served):
    """One ``{"frame_labels": [...], "clip_label": str}`` dict per clip of a served batch."""
    results = []
    for i, length in enumerate(lengths):
        result = {}
        if "frame_labels" in served:
            result["frame_labels"] = [l.decode("utf-8") for l in served["frame_labels"][i][:length]]
        if "clip_label" in served:
            result["clip_label"] = served["clip_label"][i].decode("utf-8")
            result["clip_probability"] = float(np.max(served["clip_probabilities"][i]))
        results.append(result)
    return results


def classify_paths(classify_clips, options, paths, batch_size=16):
    """Labels for clips at ``paths`` (video files, frame folders, clip arrays), one dict
    per clip, in order (see :func:`clip_results`); a single path gives its clips' list.

    ``classify_clips`` is :attr:`VideoClassifierServer.classify_clips` or the exported
    signature; ``options`` are the model's reading options
    (:func:`~applications.video_classifier.pipeline.read_options`), so clips are read as
    the ``predict`` command reads them.
    """
    shape = {"height": options["size"][0], "width": options["size"][1],
             "channels": options["channels"]}
    results = []
    for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        videos = read_video_set(os.fspath(path), require_labels=False, **options)
        for lengths, served in classify_batches(
                classify_clips, batches(videos, shape, batch_size, labelled=False)):
            results.extend(clip_results(lengths, served))
    return results


@exported_kind
class ExportedVideoClassifier(ExportedModel):
    """A video classifier's SavedModel, called like :class:`VideoClassifier`: ``predict``
    takes clip files or folders."""

    @classmethod
    def matches(cls, signatures):
        serve = signatures.get("serve")
        return serve is not None and bool(set(serve.structured_outputs)) and set(
            serve.structured_outputs) <= OUTPUTS

    def predict(self, inputs):
        classify_clips = self.signatures["classify_clips"]
        options = json.loads(self.signatures["describe"]()["read_options"].numpy())
        return classify_paths(classify_clips, options, inputs)
