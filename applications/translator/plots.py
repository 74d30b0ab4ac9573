"""Attention heatmaps: one PNG per translated sentence."""

import io

import numpy as np

from data.files import atomic_write_bytes


def plot_attention(path, source_tokens, output_tokens, weights, title=None):
    """Write a heatmap of ``weights`` (output steps down, source tokens across) to ``path``.

    Args:
        source_tokens: the source sentence's tokens (the columns).
        output_tokens: the translation's tokens (the rows); a final ``</s>`` row is shown
            when ``weights`` has a row for it.
        weights: ``[>= len(output_tokens), >= len(source_tokens)]`` attention weights.

    Uses Matplotlib's Agg canvas directly, so no display and no global backend are needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = list(output_tokens)
    weights = np.asarray(weights)
    if weights.shape[0] > len(rows):
        rows.append("</s>")
    columns = list(source_tokens) or ["(empty)"]
    grid = weights[:len(rows), :len(columns)]
    figure = Figure(figsize=(max(4.0, 0.45 * len(columns) + 2), max(3.0, 0.35 * len(rows) + 2)),
                    tight_layout=True)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    image = axes.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(columns)), columns, rotation=60, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel("source")
    axes.set_ylabel("translation")
    if title:
        axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.04)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    atomic_write_bytes(path, buffer.getvalue())
