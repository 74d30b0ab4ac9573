"""The anomaly detector: an LSTM autoencoder over windows of a time series."""

import os

import keras

from applications.core.base import Application
from encoders import build_encoder


@keras.saving.register_keras_serializable(package="encore")
class AnomalyDetector(Application):
    """Reconstructs a window of a (normalised) time series; a poor reconstruction is suspect.

    The encoder (an ``RNN_Encoder`` by default) reads the window and its pooled summary is
    repeated once per time step; an LSTM decoder and a dense layer turn those copies back
    into the window. Training minimises the mean squared reconstruction error on normal
    data, so windows unlike the training data reconstruct badly and score high.

    The model takes normalised windows ``[B, window, F]`` and returns reconstructions of the
    same shape; its serving module
    (:class:`~applications.anomaly_detector.serving.DetectorServer`) takes raw values.

    Args:
        config: ``DetectorConfig.to_dict()``.
        metadata: ``{"columns", "timestamp_column", "mean", "std", ...}`` from the training
            series (see :func:`~applications.anomaly_detector.pipeline.series_metadata`).

    Example:
        >>> from applications.anomaly_detector.config import DetectorConfig
        >>> config = DetectorConfig(window=8).to_dict()
        >>> meta = {"columns": ["value"], "timestamp_column": "timestamp",
        ...         "mean": [0.0], "std": [1.0]}
        >>> model = AnomalyDetector(config, meta)
        >>> tuple(model(keras.ops.zeros((2, 8, 1))).shape)
        (2, 8, 1)
    """

    monitor = ("val_loss", "min")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        if config["window"] < 2:
            raise ValueError(f"window must be at least 2, not {config['window']}")
        self.window = int(config["window"])
        self.pool = int(config.get("pool", 1))  # points averaged into one step
        self.span = self.window * self.pool  # points one window covers
        self.features = len(metadata["columns"])
        self.encoder = build_encoder(config["encoder"], layer_name="encoder")
        self.repeat = keras.layers.RepeatVector(self.window)
        self.decoder = keras.layers.LSTM(config["decoder_units"], return_sequences=True,
                                         name="decoder")
        self.head = keras.layers.Dense(self.features, name="reconstruction")

    def call(self, inputs, training=False):
        code = self.encoder(inputs, training=training)["pooled"]
        return self.head(self.decoder(self.repeat(code), training=training))

    def make_loss(self):
        return keras.losses.MeanSquaredError()

    def detect(self, series, threshold=None, times=None, probation=0.0):
        """Per-point anomaly scores and flags, as the ``predict`` command gives them.

        ``predict`` sends CSV paths here (a list of paths gives a list of results); this
        method also takes a numeric array.

        Args:
            series: a CSV file (read with the model's timestamp and value columns), or raw
                values ``[T]`` or ``[T, F]`` in the training columns' order.
            threshold: flag points scoring above it (default: the trained threshold).
            times: for an array and a model with a season, each point's time in seconds
                since 1970-01-01 UTC.
            probation: never flag the first ``probation`` fraction of the points.

        Returns:
            ``{"timestamps": list of str (None for an array), "scores": float array [T],
            "anomalies": bool array [T], "threshold": float}``.

        Example:
            >>> detector = AnomalyDetector.load_model("runs/nyc_taxi")  # doctest: +SKIP
            >>> result = detector.predict("nyc_taxi.csv")  # doctest: +SKIP
            >>> int(result["anomalies"].sum()), result["timestamps"][0]  # doctest: +SKIP
            (14, '2014-07-01 00:00:00')
        """
        from applications.anomaly_detector.serving import describe, detect_anomalies
        from applications.core.api import model_server, one_or_many

        serve = model_server(self).serve
        if isinstance(series, (list, tuple)) and all(
                isinstance(s, (str, os.PathLike)) for s in series):
            return one_or_many(series, lambda paths: [
                detect_anomalies(serve, describe(self), p, threshold, None, probation)
                for p in paths])
        return detect_anomalies(serve, describe(self), series, threshold, times, probation)

    predict_raw = detect

    def serving_module(self):
        from applications.anomaly_detector.serving import DetectorServer

        return DetectorServer(self)
