"""Raw windows in, anomaly scores out: the one scoring path for the CLI and the export."""

import json
import os

import numpy as np
import tensorflow as tf

from applications.anomaly_detector.pipeline import point_scores, sliding_windows
from applications.core.api import ExportedModel, exported_kind, one_or_many
from applications.core.serving import ServingModule
from data.errors import InputError
from data.numbers import FLOAT32_MAX
from data.time_series import read_time_series


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
        # What a SavedModel user needs beside the scores: the CSV columns, the threshold.
        described = json.dumps(describe(model), sort_keys=True)
        self.describe = tf.function(lambda: {"description": tf.constant(described)},
                                    input_signature=[])

    def endpoints(self):
        return {"serve": self.serve, "describe": self.describe}

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


def describe(model):
    """What scoring a series needs besides the served function, as plain JSON values."""
    meta = model.metadata
    return {"columns": list(meta["columns"]), "timestamp_column": meta["timestamp_column"],
            "threshold": meta.get("threshold"), "season": meta.get("season") or None,
            "span": model.span}


def series_point_scores(serve, values, times, span, batch_size=1024):
    """Each point's score in raw ``values`` ``[T, F]``, as the commands score a series.

    Every window of ``span`` points is served (with its points' ``times`` for a model with
    a season, else None) and each point gets the mean score of the windows covering it.
    """
    windows, starts = sliding_windows(values, span, stride=1)
    inputs = {"windows": windows}
    if times is not None:
        inputs["times"] = sliding_windows(np.asarray(times, np.float64)[:, None], span,
                                          stride=1)[0][..., 0]
    window_scores = np.concatenate([
        serve(**{name: tf.constant(x[i:i + batch_size]) for name, x in inputs.items()})
        ["scores"].numpy() for i in range(0, len(windows), batch_size)])
    return point_scores(window_scores, starts, span, len(values))


def detect_anomalies(serve, description, series, threshold=None, times=None, probation=0.0):
    """Per-point scores and flags of a CSV file or a numeric array, as ``predict`` gives them.

    Args:
        serve: :attr:`DetectorServer.serve` or the exported ``serve`` signature.
        description: :func:`describe` of the model.
        series: a CSV path (read with the model's columns) or raw values ``[T]`` / ``[T, F]``.
        threshold: flag points scoring above it (default: the trained threshold).
        times: with an array and a model with a season, each point's time in seconds
            since 1970-01-01 UTC.
        probation: never flag the first ``probation`` fraction of the points.

    Returns:
        ``{"timestamps": list of str (None for an array), "scores": float [T],
        "anomalies": bool [T], "threshold": float}``.
    """
    threshold = description["threshold"] if threshold is None else float(threshold)
    if threshold is None:
        raise ValueError("this model has no threshold (its training did not finish); "
                         "give threshold=")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, not {threshold}")
    if not 0.0 <= probation < 1.0:
        raise ValueError(f"probation must be in [0, 1), not {probation}")
    span, season = description["span"], description["season"]
    if isinstance(series, (str, os.PathLike)):
        path = os.fspath(series)
        data = read_time_series(path, description["columns"], description["timestamp_column"])
        if season and data.time_kind != "datetime":
            raise InputError(f"the model was trained with season={season} and needs dates "
                             "in the timestamp column", path)
        values, timestamps = data.values, data.timestamps
        times = data.times if season else None
    else:
        path, timestamps = "<array>", None
        values = np.asarray(series, np.float64)
        values = values[:, None] if values.ndim == 1 else values
        if not np.all(np.isfinite(values)) or np.any(np.abs(values) > FLOAT32_MAX):
            raise ValueError("values must be finite numbers within float32's range (the "
                             "model reads float32)")
        values = values.astype(np.float32)
        if values.ndim != 2 or values.shape[1] != len(description["columns"]):
            raise ValueError(f"expected values [T] or [T, {len(description['columns'])}] "
                             f"(columns {', '.join(description['columns'])}), "
                             f"not {values.shape}")
        if season and times is None:
            raise ValueError(f"the model was trained with season={season}: give times= "
                             "(seconds since 1970-01-01 UTC, one per point)")
        times = np.asarray(times, np.float64) if season else None
    if len(values) < span:
        raise InputError(f"the series has {len(values)} points, fewer than one window of "
                         f"{span}", path)
    scores = series_point_scores(serve, values, times, span)
    flags = scores > threshold
    flags[:int(len(flags) * probation)] = False
    return {"timestamps": timestamps, "scores": scores, "anomalies": flags,
            "threshold": float(threshold)}


@exported_kind
class ExportedDetector(ExportedModel):
    """An anomaly detector's SavedModel, called like :class:`AnomalyDetector`: ``predict``
    and ``detect`` take a CSV path or a numeric array (see :meth:`AnomalyDetector.detect`)."""

    serve_outputs = frozenset({"scores"})

    def detect(self, series, threshold=None, times=None, probation=0.0):
        description = json.loads(self.signatures["describe"]()["description"].numpy())
        serve = self.signatures["serve"]
        if isinstance(series, (list, tuple)) and all(
                isinstance(s, (str, os.PathLike)) for s in series):
            return one_or_many(series, lambda paths: [
                detect_anomalies(serve, description, p, threshold, None, probation)
                for p in paths])
        return detect_anomalies(serve, description, series, threshold, times, probation)

    predict = detect
