"""The video classifier's PNG figure: confusion matrices of its frame and clip labels."""

import numpy as np

from applications.core.plots import new_figure, write_png


def plot_confusion_matrices(path, matrices, title=""):
    """One panel per head (``{"frame": (matrix, names), "clip": (matrix, names)}``): rows
    shaded by the fraction of each true label, counts in the cells (up to 25 labels)."""
    sizes = [len(names) for _, names in matrices.values()]
    figure = new_figure(sum(max(4.0, 0.55 * k + 2.5) for k in sizes),
                        max(3.5, 0.5 * max(sizes) + 2.0))
    panels = figure.subplots(1, len(matrices), squeeze=False)[0]
    for axes, (head, (matrix, names)) in zip(panels, matrices.items()):
        k = len(names)
        fractions = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        axes.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
        axes.set_xticks(range(k), names, rotation=45 if k > 4 else 0,
                        ha="right" if k > 4 else "center")
        axes.set_yticks(range(k), names)
        axes.set_xlabel(f"predicted {head} label")
        axes.set_ylabel(f"true {head} label")
        if k <= 25:
            for row in range(k):
                for col in range(k):
                    axes.text(col, row, str(matrix[row, col]), ha="center", va="center",
                              fontsize=8, color="white" if fractions[row, col] > 0.5 else "black")
        accuracy = np.trace(matrix) / max(matrix.sum(), 1)
        axes.set_title(f"{head}s: accuracy {accuracy:.4f}")
    figure.suptitle(title)
    write_png(figure, path)
