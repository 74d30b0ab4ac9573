"""The anomaly detector's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice


@dataclasses.dataclass
class DetectorConfig(TrainConfig):
    """Sliding windows -> encoder (pooled summary) -> repeated -> LSTM decoder -> window.

    Attributes:
        timestamp_column: header name of the timestamp column ("" = ``timestamp``, ``time``,
            ... or else the first column).
        value_columns: header names of the value columns ([] = every other column).
        window: points per window, the autoencoder's input length.
        stride: step between training windows (scoring always uses every window).
        pool: the model reads the means of ``pool`` consecutive points, so one window covers
            ``window * pool`` points; a coarse model (say ``pool=12``) sees a sustained
            shift that is small against the noise, which a point-level one reconstructs
            well. ``detect``, ``evaluate`` and ``predict`` flag with both
            (``--with-model``).
        train_fraction: train on this first fraction of the series (NAB's probationary
            period is 0.15); the threshold is chosen on the same part.
        dev_split: without ``--dev``, the last this fraction of that part (in time order)
            is held out as dev windows to choose the best epoch and stop early; nothing is
            held out when that tail, or what is left, is shorter than one window (0 =
            none). The threshold is still chosen on the whole part.
        threshold: ``quantile:Q`` (the Q quantile of the training points' scores) or
            ``max`` (their maximum).
        threshold_margin: the chosen threshold is multiplied by this factor.
        transform: ``none``, ``log`` or ``auto``: ``log`` reads every value column as
            ``log(1 + x)`` (see :mod:`applications.anomaly_detector.transform`); ``auto``
            does so for columns whose training values are all 0 or more and strongly
            skewed to the right (counts, latencies).
        season: ``none``, ``day``, ``week`` or ``auto``: with a season the model sees each
            value less the training part's mean at the same time of day or week (see
            :mod:`applications.anomaly_detector.season`); ``auto`` picks the cycle the
            training part follows, if it follows one, and needs dated timestamps.
        merge_gap: flagged runs separated by at most this many unflagged points are merged
            into one anomaly window.
        encoder: the window encoder; its pooled vector is the window's code, e.g.
            ``{"name": "rnn", "cell": "lstm", "nodes": [32], "bidirectional": False}``.
        decoder_units: size of the LSTM that unrolls the code back into a window.
    """

    timestamp_column: str = ""
    value_columns: list = dataclasses.field(default_factory=list)
    window: int = 24
    stride: int = 4
    pool: int = 1
    train_fraction: float = 1.0
    dev_split: float = 0.1
    threshold: str = "max"
    threshold_margin: float = 2.0
    transform: str = "auto"
    season: str = "auto"
    merge_gap: int = 0
    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "rnn", "cell": "lstm", "nodes": [32], "bidirectional": False})
    decoder_units: int = 32
    batch_size: int = 64
    learning_rate: float = 2e-3
    epochs: int = 10
    patience: int = 3


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "encoder.cell": Choice(("lstm", "gru")),
    "encoder.units": Choice((16, 32, 64)),
    "decoder_units": Choice((16, 32, 64)),
    "learning_rate": LEARNING_RATE,
    "batch_size": Choice((32, 64, 128)),
}
