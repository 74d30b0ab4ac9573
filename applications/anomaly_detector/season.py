"""Calendar seasons: a daily or weekly profile learnt on the training part and subtracted.

Taxi demand, web traffic and office sensors repeat every day or week; a holiday looks like
an ordinary weekend, so a model that sees only a few hours at a time cannot tell it from
one. With a season the detector models each value minus the training part's mean value at
the same time of day (``day``) or of the week (``week``): a Thursday shaped like a Sunday
then stands out.

The phase of a timestamp is its position in the cycle counted from the Unix epoch (a
Thursday, 00:00 UTC), in steps of the training series' typical spacing, so training,
scoring and the exported model agree on it.
"""

import numpy as np

from data.errors import InputError

PERIODS = {"day": 86400.0, "week": 7 * 86400.0}
SETTINGS = ("none", "auto", *PERIODS)
# ``auto`` keeps a season only when a profile learnt on the first half of the training
# part explains at least this share of the second half's variance (around its mean).
AUTO_MIN_EXPLAINED = 0.75


def phase_bins(times, period, step, bins):
    """Each time's place in the cycle: ``floor((t mod period) / step) mod bins``.

    Example:
        >>> phase_bins(np.array([0.0, 1800.0, 86400.0 + 3600.0]), 86400.0, 1800.0, 48).tolist()
        [0, 1, 2]
    """
    return np.floor(np.mod(times, period) / step).astype(np.int64) % bins


def profile(times, values, period, step):
    """``[bins, F]`` mean of ``values`` per phase; a phase never seen gets the overall mean."""
    bins = max(1, int(round(period / step)))
    where = phase_bins(times, period, step, bins)
    counts = np.bincount(where, minlength=bins)
    sums = np.stack([np.bincount(where, values[:, f], minlength=bins)
                     for f in range(values.shape[1])], axis=1)
    return np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None],
                    values.mean(axis=0))


def explained_share(times, values, period, step):
    """How much of the second half's variance the first half's profile explains (R²)."""
    half = len(values) // 2
    first = profile(times[:half], values[:half], period, step)
    bins = phase_bins(times[half:], period, step, len(first))
    residual = values[half:] - first[bins]
    spread = values[half:] - values[:half].mean(axis=0)
    return 1.0 - float(np.sum(residual ** 2)) / max(float(np.sum(spread ** 2)), 1e-12)


def fit_season(series, setting):
    """Metadata entries for the season of a training series: ``{}`` when there is none.

    Args:
        series: the training part (:class:`data.time_series.TimeSeries`).
        setting: ``none``, ``day``, ``week`` or ``auto`` (the cycle that the data follow,
            if either does; see :data:`AUTO_MIN_EXPLAINED`).

    Returns:
        ``{"season", "season_seconds", "season_step", "season_profile"}`` or ``{}``.

    Raises:
        InputError: naming the file, when ``day`` or ``week`` is asked for and the
            timestamps are not dates or the training part spans less than two cycles.
    """
    if setting == "none":
        return {}
    times = np.asarray(series.times, np.float64)
    values = np.asarray(series.values, np.float64)
    if series.time_kind != "datetime":
        if setting == "auto":
            return {}
        raise InputError(f"season={setting} needs dates in the timestamp column", series.path)
    gaps = np.diff(times)
    step = float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 0.0
    span = float(times.max() - times.min())
    if setting == "auto":
        shares = {name: explained_share(times, values, period, step)
                  for name, period in PERIODS.items() if step > 0 and span >= 4 * period}
        name = max(shares, key=shares.get, default=None)
        if name is None or shares[name] < AUTO_MIN_EXPLAINED:
            return {}
    else:
        name = setting
        if step <= 0 or span < 2 * PERIODS[name]:
            raise InputError(f"season={name} needs at least two {name}s in the training part; "
                             f"it covers {span / 86400:.1f} days", series.path)
    period = PERIODS[name]
    return {"season": name, "season_seconds": period, "season_step": step,
            "season_profile": profile(times, values, period, step).tolist()}


def season_offsets(times, metadata):
    """``[N, F]`` profile values to subtract at ``times`` (zeros without a season)."""
    if not metadata.get("season"):
        return np.zeros((len(times), len(metadata["columns"])), np.float32)
    table = np.asarray(metadata["season_profile"], np.float64)
    bins = phase_bins(np.asarray(times, np.float64), metadata["season_seconds"],
                      metadata["season_step"], len(table))
    return table[bins].astype(np.float32)
