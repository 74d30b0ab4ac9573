"""PNG figures drawn on Matplotlib's Agg canvas (no display), written atomically; and the
image grid the vision applications draw."""

import io

from data.files import atomic_write_bytes


def new_figure(width, height):
    """A Matplotlib figure of ``width`` x ``height`` inches on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), tight_layout=True)
    FigureCanvasAgg(figure)
    return figure


def write_png(figure, path, dpi=100):
    """Save ``figure`` as a PNG at ``path`` (temp file, fsync, rename).

    An existing file at ``path`` is replaced only when it is a PNG; anything else is
    refused with one line (:func:`applications.core.file_targets.check_file_target`).
    """
    from applications.core.file_targets import check_file_target

    check_file_target(path, "the plot")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())


def plot_image_rows(path, rows, title="", columns=10):
    """One row per ``(name, uint8 images [N, H, W, C])``, the first ``columns`` images of each.

    For an autoencoder: the originals, then each method's reconstructions of them.
    """
    count = min(columns, min(len(images) for _, images in rows))
    figure = new_figure(count * 1.0 + 1.2, len(rows) * 1.05 + 0.4)
    grid = figure.subplots(len(rows), count, squeeze=False)
    for r, (name, images) in enumerate(rows):
        gray = images.shape[-1] == 1
        for c in range(count):
            axes = grid[r, c]
            axes.imshow(images[c, ..., 0] if gray else images[c], cmap="gray" if gray else None,
                        vmin=0, vmax=255)
            axes.set_xticks([])
            axes.set_yticks([])
        grid[r, 0].set_ylabel(name, fontsize=8)
    figure.suptitle(title, fontsize=9)
    write_png(figure, path)


def plot_attention(path, columns, rows, weights, title=None, columns_label="source",
                   rows_label="translation"):
    """A heatmap of attention ``weights`` (one row per token in ``rows``, one column per
    token in ``columns``, values in [0, 1]) written to ``path``.

    A final ``</s>`` row is shown when ``weights`` has a row more than ``rows``.
    """
    import numpy as np

    rows = list(rows)
    weights = np.asarray(weights)
    if weights.shape[0] > len(rows):
        rows.append("</s>")
    columns = list(columns) or ["(empty)"]
    grid = weights[:len(rows), :len(columns)]
    figure = new_figure(max(4.0, 0.45 * len(columns) + 2), max(3.0, 0.35 * len(rows) + 2))
    axes = figure.subplots()
    image = axes.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(columns)), columns, rotation=60, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel(columns_label)
    axes.set_ylabel(rows_label)
    if title:
        axes.set_title(title, fontsize=9)
    figure.colorbar(image, ax=axes, fraction=0.04)
    write_png(figure, path, dpi=90)
