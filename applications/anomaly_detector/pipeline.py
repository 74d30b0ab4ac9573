"""Windows over a series, per-point scores, thresholds and flagged runs (plain NumPy)."""

import numpy as np

from applications.anomaly_detector.season import fit_season, season_offsets
from applications.anomaly_detector.transform import apply_log, choose_log_columns
from applications.core.config import UsageError


def series_metadata(series, season="none", transform="none"):
    """What the model keeps of its training series: columns, scale, season and statistics.

    ``transform`` and ``season`` are the config's settings; the chosen log columns
    (:mod:`~applications.anomaly_detector.transform`) and season
    (:mod:`~applications.anomaly_detector.season`) are recorded, and the mean and standard
    deviation are those of :func:`model_values`.
    """
    meta = {"columns": list(series.columns), "timestamp_column": series.timestamp_column,
            "train_points": len(series.values),
            "log_columns": choose_log_columns(series, transform)}
    meta.update(fit_season(series._replace(values=apply_log(series.values,
                                                            meta["log_columns"])), season))
    values = model_values(series, meta)
    mean = values.mean(axis=0).astype(np.float64)
    std = values.std(axis=0).astype(np.float64)
    # A constant column would divide by zero; leaving it unscaled keeps it harmless.
    std = np.where(std > 1e-8, std, 1.0)
    meta.update(mean=mean.tolist(), std=std.tolist())
    return meta


def model_values(series, meta):
    """``[N, F]`` values as the model reads them before normalising: log where chosen, less
    the season profile."""
    return apply_log(series.values, meta.get("log_columns")) - season_offsets(series.times, meta)


def window_starts(length, window, stride=1):
    """Start indices every ``stride`` points; the last window always ends at the last point."""
    if length < window:
        return np.zeros(0, np.int64)
    starts = np.arange(0, length - window + 1, stride)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def sliding_windows(values, window, stride=1):
    """``([K, window, F] windows, starts)`` of a ``[N, F]`` array."""
    starts = window_starts(len(values), window, stride)
    view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)  # [N-w+1, F, w]
    return np.ascontiguousarray(view[starts].transpose(0, 2, 1)), starts


def pooled_windows(values, window, pool, stride=1):
    """``([K, window, F] windows, starts)``: each window holds the means of ``window``
    consecutive blocks of ``pool`` points, and starts at every ``stride``-th point.

    A window covers ``window * pool`` points; ``pool=1`` gives :func:`sliding_windows`.

    Example:
        >>> pooled_windows(np.arange(6.0)[:, None], 2, 2, stride=2)[0][..., 0].tolist()
        [[0.5, 2.5], [2.5, 4.5]]
    """
    if pool == 1:
        return sliding_windows(values, window, stride)
    sums = np.cumsum(np.concatenate([np.zeros((1, values.shape[1])), values]), axis=0)
    means = (sums[pool:] - sums[:-pool]) / pool  # means[j]: points j .. j + pool - 1
    starts = window_starts(len(values), window * pool, stride)
    return means[starts[:, None] + pool * np.arange(window)].astype(values.dtype), starts


def point_scores(window_scores, starts, window, length):
    """Each point's score: the mean score of the windows that cover it.

    Example:
        >>> point_scores(np.array([1.0, 3.0]), np.array([0, 1]), 2, 3).tolist()
        [1.0, 2.0, 3.0]
    """
    total = np.zeros(length + 1)
    count = np.zeros(length + 1)
    np.add.at(total, starts, window_scores)
    np.add.at(total, starts + window, -np.asarray(window_scores, np.float64))
    np.add.at(count, starts, 1)
    np.add.at(count, starts + window, -1)
    total, count = np.cumsum(total)[:length], np.cumsum(count)[:length]
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def parse_threshold_rule(rule):
    """``"quantile:0.999"`` -> ``("quantile", 0.999)``; ``"max"`` -> ``("max", None)``."""
    text = str(rule).strip().lower()
    if text == "max":
        return "max", None
    if text.startswith("quantile:"):
        try:
            q = float(text.split(":", 1)[1])
        except ValueError:
            q = -1.0
        if 0.0 < q <= 1.0:
            return "quantile", q
    raise UsageError(f"threshold must be 'max' or 'quantile:Q' with 0 < Q <= 1, not {rule!r}")


def choose_threshold(scores, rule, margin=1.0):
    """The threshold ``rule`` picks from training point scores, times ``margin``."""
    kind, q = parse_threshold_rule(rule)
    value = np.max(scores) if kind == "max" else np.quantile(scores, q)
    return float(value * margin)


def flagged_runs(flags, merge_gap=0):
    """``[(first, last), ...]`` index ranges of flagged points, inclusive.

    Runs separated by at most ``merge_gap`` unflagged points are merged into one.

    Example:
        >>> flagged_runs(np.array([0, 1, 1, 0, 0, 1, 0, 1], bool), merge_gap=1)
        [(1, 2), (5, 7)]
    """
    where = np.flatnonzero(flags)
    if not len(where):
        return []
    breaks = np.flatnonzero(np.diff(where) > merge_gap + 1)
    firsts = np.concatenate([[where[0]], where[breaks + 1]])
    lasts = np.concatenate([where[breaks], [where[-1]]])
    return [(int(a), int(b)) for a, b in zip(firsts, lasts)]
