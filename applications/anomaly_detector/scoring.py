"""Detections scored against labelled anomaly windows (NAB's ``combined_windows.json``)."""

import os

import numpy as np

from applications.anomaly_detector.pipeline import flagged_runs
from data.errors import InputError
from data.files import read_json
from data.time_series import parse_timestamp


def read_label_windows(path, data_path):
    """The label windows of ``data_path`` in a NAB-style labels file, as ``[(start, end)]``.

    The file maps relative data paths to lists of ``[start, end]`` timestamps,
    ``{"realKnownCause/nyc_taxi.csv": [["2014-10-30 15:30:00.000000", "..."], ...]}``;
    the entry whose key ends with the data file's name is used. Times are in seconds, read
    as the series' timestamps are.

    Raises:
        InputError: naming the labels file: not a JSON object, no entry for the data file,
            or a window that is not two readable timestamps in order.
    """
    labels = read_json(path)
    if not isinstance(labels, dict):
        raise InputError("expected a JSON object mapping data files to label windows", path)
    name = os.path.basename(str(data_path))
    keys = [key for key in labels if key == name or key.replace("\\", "/").endswith("/" + name)]
    if not keys:
        raise InputError(f"no entry for {name!r} (the keys are data file paths)", path)
    if len(keys) > 1:
        raise InputError(f"several entries end with {name!r}: {', '.join(sorted(keys))}", path)
    windows = []
    for pair in labels[keys[0]]:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str)
                                                                  for p in pair)):
            raise InputError(f"{keys[0]}: expected [start, end] timestamp pairs, found "
                             f"{pair!r}", path)
        start, end = (parse_timestamp(p)[0] for p in pair)
        if start is None or end is None or end < start:
            raise InputError(f"{keys[0]}: bad window {pair!r}", path)
        windows.append((start, end))
    return windows


def detection_scores(flags, times, windows, merge_gap=0, first_scored=0):
    """Event and point scores of flagged points against label windows.

    Points before ``first_scored`` (a probation period, never flagged) are not scored: as in
    NAB's own scorer, a window lying wholly among them is neither found nor missed, and is
    counted apart as ``events_unscored``.

    Args:
        flags: ``[N]`` booleans, True where a point is flagged anomalous.
        times: ``[N]`` point times (seconds), comparable with the windows.
        windows: ``[(start, end)]`` label windows, both ends inclusive.
        merge_gap: flagged runs this close are one event (as ``detect`` reports them).
        first_scored: index of the first scored point.

    Returns:
        ``event_recall`` (windows holding at least one flagged point, over the windows
        holding a scored point),
        ``false_positive_events`` (flagged runs with no point inside any window),
        ``point_precision`` (flagged points inside a window over flagged points),
        ``point_recall`` (flagged points inside a window over scored points inside
        windows), and
        the counts behind them. A ratio with nothing to divide by is None.

    Example:
        >>> flags = np.array([0, 1, 1, 0, 0, 0, 1, 0], bool)
        >>> scores = detection_scores(flags, np.arange(8.0), [(1, 3), (5, 5)])
        >>> scores["event_recall"], scores["false_positive_events"], scores["point_recall"]
        (0.5, 1, 0.5)
    """
    flags = np.asarray(flags, bool)
    times = np.asarray(times, np.float64)
    scored = np.arange(len(times)) >= first_scored
    flags = flags & scored
    inside = np.zeros(len(times), bool)
    found = unscored = 0
    for start, end in windows:
        covered = (times >= start) & (times <= end) & scored
        inside |= covered
        found += bool((flags & covered).any())
        unscored += not covered.any()
    runs = flagged_runs(flags, merge_gap)
    false_runs = sum(1 for a, b in runs if not inside[a:b + 1].any())
    hits = int((flags & inside).sum())
    events = len(windows) - unscored
    return {
        "event_recall": found / events if events else None,
        "events": events,
        "events_found": found,
        "events_unscored": unscored,
        "false_positive_events": false_runs,
        "flagged_runs": len(runs),
        "point_precision": hits / int(flags.sum()) if flags.any() else None,
        "point_recall": hits / int(inside.sum()) if inside.any() else None,
        "flagged_points": int(flags.sum()),
        "labelled_points": int(inside.sum()),
        "points": len(times),
    }
