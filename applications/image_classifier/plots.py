"""The classifier's PNG figure: its confusion matrix."""

import numpy as np

from applications.core.plots import new_figure, write_png


def confusion_matrix(truth, predicted, classes):
    """Counts ``[K, K]``: row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (np.asarray(truth), np.asarray(predicted)), 1)
    return matrix


def plot_confusion_matrix(path, matrix, names, title=""):
    """Rows shaded by the fraction of each true class; the counts are written in the cells."""
    k = len(names)
    figure = new_figure(max(4.0, 0.55 * k + 2.5), max(3.5, 0.5 * k + 2.0))
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
    write_png(figure, path)
