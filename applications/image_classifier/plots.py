"""PNG figures of the vision applications, drawn on Matplotlib's Agg canvas (no display)."""

import io

import numpy as np

from data.files import atomic_write_bytes


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), tight_layout=True)
    FigureCanvasAgg(figure)
    return figure


def _write(figure, path, dpi=100):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())


def confusion_matrix(truth, predicted, classes):
    """Counts ``[K, K]``: row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (np.asarray(truth), np.asarray(predicted)), 1)
    return matrix


def plot_confusion_matrix(path, matrix, names, title=""):
    """Rows shaded by the fraction of each true class; the counts are written in the cells."""
    k = len(names)
    figure = _figure(max(4.0, 0.55 * k + 2.5), max(3.5, 0.5 * k + 2.0))
    axes = figure.subplots()
    fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    shown = axes.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(shown, ax=axes, label="fraction of the true class")
    axes.set_xticks(range(k), names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    axes.set_yticks(range(k), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if k <= 25:
        for row in range(k):
            for col in range(k):
                axes.text(col, row, str(matrix[row, col]), ha="center", va="center", fontsize=8,
                          color="white" if fractions[row, col] > 0.5 else "black")
    axes.set_title(title)
    _write(figure, path)


def plot_image_rows(path, rows, title="", columns=10):
    """One row per ``(name, uint8 images [N, H, W, C])``, the first ``columns`` images of each.

    For an autoencoder: the originals, then each method's reconstructions of them.
    """
    count = min(columns, min(len(images) for _, images in rows))
    figure = _figure(count * 1.0 + 1.2, len(rows) * 1.05 + 0.4)
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
    _write(figure, path)
