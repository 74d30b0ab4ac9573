"""A PNG of a series, its anomaly score and the flagged regions."""

import io

import numpy as np

from data.files import atomic_write_bytes


def plot_detection(path, series, scores, threshold, runs):
    """Write a two-panel PNG: the values with flagged regions shaded, then the score.

    Uses Matplotlib's Agg canvas directly, so no display and no global backend are needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if series.time_kind == "datetime":
        x = (series.times * 1e6).astype("datetime64[us]")
    else:
        x = series.times
    figure = Figure(figsize=(12, 6), tight_layout=True)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    for j, name in enumerate(series.columns):
        top.plot(x, series.values[:, j], linewidth=0.8, label=name)
    bottom.plot(x, scores, linewidth=0.8, color="black", label="score")
    bottom.axhline(threshold, color="red", linestyle="--", linewidth=0.8, label="threshold")
    for first, last in runs:
        for axes in (top, bottom):
            axes.axvspan(x[first], x[last], color="red", alpha=0.25, linewidth=0)
    top.set_title(f"{series.path}: {len(runs)} anomaly window(s)")
    top.legend(loc="upper left")
    bottom.legend(loc="upper left")
    bottom.set_yscale("log" if np.all(np.asarray(scores) > 0) else "linear")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    atomic_write_bytes(path, buffer.getvalue())
