"""The captioner's PNG figure: for each word of a caption, its attention over the image."""

import numpy as np

from applications.core.plots import new_figure, write_png


def attention_maps(weights, grid, size):
    """Attention ``[T, h*w]`` as ``[T, H, W]`` maps over the image: each grid position's
    weight spread over the pixels of its cell (nearest-neighbour upsampling)."""
    height, width = grid
    maps = np.asarray(weights, np.float32).reshape(-1, height, width)
    rows = np.minimum((np.arange(size[0]) * height) // size[0], height - 1)
    cols = np.minimum((np.arange(size[1]) * width) // size[1], width - 1)
    return maps[:, rows][:, :, cols]


def plot_caption_attention(path, image, words, weights, grid, title="", columns=6):
    """The image, then one panel per word (and ``</s>``) with its attention overlaid.

    Args:
        path: the PNG to write.
        image: ``uint8 [H, W, C]``.
        words: the caption's words.
        weights: attention ``[len(words) + 1, h*w]``.
        grid: the feature grid's ``(h, w)``.
    """
    labels = [*words, "</s>"][:len(weights)]
    maps = attention_maps(weights[:len(labels)], grid, image.shape[:2])
    panels = len(labels) + 1
    cols = min(columns, panels)
    rows = -(-panels // cols)
    figure = new_figure(cols * 1.6, rows * 1.75 + 0.3)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    gray = image.shape[-1] == 1
    shown = image[..., 0] if gray else image
    for k, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= panels:
            ax.axis("off")
            continue
        ax.imshow(shown, cmap="gray" if gray else None, vmin=0, vmax=255)
        if k == 0:
            ax.set_title("image", fontsize=8)
            continue
        ax.imshow(maps[k - 1], cmap="jet", alpha=0.45, vmin=0.0,
                  vmax=max(float(maps[k - 1].max()), 1e-6))
        ax.set_title(labels[k - 1], fontsize=9)
    figure.suptitle(title, fontsize=9)
    write_png(figure, path)
