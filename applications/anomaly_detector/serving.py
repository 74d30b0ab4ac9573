"""Raw windows in, anomaly scores out: the one scoring path for the CLI and the export."""

import numpy as np
import tensorflow as tf

from applications.base import ServingModule


class DetectorServer(ServingModule):
    """Wraps a trained :class:`AnomalyDetector` with its normalisation statistics.

    ``serve(windows)`` takes raw windows ``[N, window, F]`` (float32, the value columns in
    the training order) and returns ``scores`` ``[N]``: each window's mean squared
    reconstruction error in normalised units. ``detect``, ``evaluate`` and ``predict`` turn
    these into per-point scores; the exported SavedModel serves the same function.

    Args:
        model: a trained :class:`AnomalyDetector`.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.serve(tf.zeros([3, 64, 1]))["scores"].shape
        TensorShape([3])
    """

    def __init__(self, model):
        super().__init__(model)
        self.mean = np.asarray(model.metadata["mean"], np.float32)
        self.std = np.asarray(model.metadata["std"], np.float32)
        spec = tf.TensorSpec([None, model.window, model.features], tf.float32, name="windows")
        # The window length and feature count come from the model, so the signature is
        # built here rather than in a class-level decorator.
        self.serve = tf.function(self._serve, input_signature=[spec])

    def _serve(self, windows):
        normalised = (windows - tf.constant(self.mean)) / tf.constant(self.std)
        reconstruction = self.model(normalised, training=False)
        return {"scores": tf.reduce_mean(tf.square(normalised - reconstruction), axis=[1, 2])}
