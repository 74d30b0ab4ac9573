"""Raw windows in, anomaly scores out: the one scoring path for the CLI and the export."""

import numpy as np
import tensorflow as tf

from applications.core.base import ServingModule


class DetectorServer(ServingModule):
    """Wraps a trained :class:`AnomalyDetector` with its normalisation statistics.

    ``serve(windows)`` takes raw windows ``[N, window * pool, F]`` (float32, the value
    columns in the training order) and returns ``scores`` ``[N]``: each window's mean squared
    reconstruction error in normalised units (of the means of ``pool`` points, when
    ``pool`` > 1). Columns the model reads on a log scale
    (:mod:`~applications.anomaly_detector.transform`) become ``log(1 + max(x, 0))`` first.
    A model trained with a season
    (:mod:`~applications.anomaly_detector.season`) also takes ``times`` ``[N, window * pool]``
    (float64 seconds since 1970-01-01 UTC, one per value) and subtracts the season's
    profile at those times first. ``detect``, ``evaluate`` and ``predict`` turn the scores
    into per-point scores; the exported SavedModel serves the same function.

    Args:
        model: a trained :class:`AnomalyDetector`.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.serve(tf.zeros([3, 64, 1]))["scores"].shape  # doctest: +SKIP
        TensorShape([3])
    """

    def __init__(self, model):
        super().__init__(model)
        self.mean = np.asarray(model.metadata["mean"], np.float32)
        self.std = np.asarray(model.metadata["std"], np.float32)
        specs = [tf.TensorSpec([None, model.span, model.features], tf.float32, name="windows")]
        meta = model.metadata
        self.log_columns = [bool(c) for c in meta.get("log_columns") or []]
        if meta.get("season"):
            self.profile = tf.constant(meta["season_profile"], tf.float32)
            self.period, self.step = float(meta["season_seconds"]), float(meta["season_step"])
            specs.append(tf.TensorSpec([None, model.span], tf.float64, name="times"))
        # The window length and feature count come from the model, so the signature is
        # built here rather than in a class-level decorator.
        self.serve = tf.function(self._serve, input_signature=specs)

    def _serve(self, windows, times=None):
        if any(self.log_columns):  # the same scale as transform.apply_log
            windows = tf.where(tf.constant(self.log_columns),
                               tf.math.log1p(tf.maximum(windows, 0.0)), windows)
        if times is not None:  # the same phases as season.phase_bins
            bins = tf.math.floormod(tf.floor(tf.math.floormod(times, self.period) / self.step),
                                    float(self.profile.shape[0]))
            windows = windows - tf.gather(self.profile, tf.cast(bins, tf.int32))
        normalised = (windows - tf.constant(self.mean)) / tf.constant(self.std)
        if self.model.pool > 1:  # the same block means as windows.pooled_windows
            normalised = tf.reduce_mean(tf.reshape(
                normalised, [-1, self.model.window, self.model.pool, self.model.features]),
                axis=2)
        reconstruction = self.model(normalised, training=False)
        return {"scores": tf.reduce_mean(tf.square(normalised - reconstruction), axis=[1, 2])}
