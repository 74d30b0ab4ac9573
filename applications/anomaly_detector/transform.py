"""A log scale for value columns that are counts or latencies: ``log(1 + x)``.

Keystroke counts, request rates and latencies are mostly small with rare large bursts; on
their own scale one burst twice as large as any seen in training looks like a failure.
Read as ``log(1 + x)``, bursts of every size sit on one scale and a column that stops or
shifts still stands out. ``auto`` takes the log of a column whose training values are all
0 or more and strongly skewed to the right.
"""

import numpy as np

from data.errors import InputError

SETTINGS = ("none", "auto", "log")
# ``auto`` takes the log of a non-negative column whose skewness (the third standardised
# moment of its training values) is above this, twice the usual bound for "highly skewed":
# a series with a steady base and peaks (skewness about 1) keeps its own scale.
AUTO_MIN_SKEWNESS = 2.0


def skewness(column):
    """The third standardised moment; 0 for a constant column.

    Example:
        >>> round(skewness(np.array([0.0, 0.0, 0.0, 3.0])), 3)
        1.155
    """
    spread = column.std()
    if spread <= 1e-12:
        return 0.0
    return float(np.mean(((column - column.mean()) / spread) ** 3))


def choose_log_columns(series, setting):
    """One flag per value column of a training series: read that column as ``log(1 + x)``?

    Raises:
        InputError: naming the file, when ``log`` is asked for and a column has a
            negative value.
    """
    values = np.asarray(series.values, np.float64)
    if setting == "none":
        return [False] * values.shape[1]
    if setting == "log":
        for name, low in zip(series.columns, values.min(axis=0)):
            if low < 0:
                raise InputError(f"transform=log needs values of 0 or more; column {name!r} "
                                 f"goes down to {low:g}", series.path)
        return [True] * values.shape[1]
    return [bool(values[:, f].min() >= 0 and skewness(values[:, f]) > AUTO_MIN_SKEWNESS)
            for f in range(values.shape[1])]


def apply_log(values, log_columns):
    """``log(1 + x)`` in the flagged columns (a value below 0 counts as 0), others as they are."""
    if not log_columns or not any(log_columns):
        return values
    logged = np.log1p(np.maximum(values, 0.0))
    return np.where(np.asarray(log_columns, bool), logged, values).astype(values.dtype)
