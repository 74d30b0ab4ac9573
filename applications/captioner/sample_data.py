"""Captioned canvases: small item images placed in the cells of a grid, with captions that
name every item and say where it is relative to the others.

The embedded sample (``train`` with no data file) places the shape images of
:mod:`data.shape_images` on a 64x64 canvas of 2x2 cells; ``benchmarks/captioner_shapes.py``
places Fashion-MNIST items on a 96x96 canvas of 3x3 cells. Both use :func:`compose` and the
caption grammar below, so every image comes with several phrasings, all correct.
"""

import numpy as np

from data.shape_images import generate_shapes

SAMPLE_GRID, SAMPLE_CELL = 2, 32
SAMPLE_TRAIN, SAMPLE_DEV = 900, 100
SAMPLES = "<embedded canvases>"


def article(name):
    return "an" if name[0] in "aeiou" else "a"


def relation(a, b):
    """Where item ``a`` is relative to item ``b`` (items are ``(name, row, col)``)."""
    if a[2] != b[2]:
        return "to the left of" if a[2] < b[2] else "to the right of"
    return "above" if a[1] < b[1] else "below"


def side(a, b):
    """``a``'s side as the end of "the bag on the left": left, right, above or below."""
    if a[2] != b[2]:
        return "on the left" if a[2] < b[2] else "on the right"
    return "above" if a[1] < b[1] else "below"


def captions_for(items):
    """Three phrasings of one canvas' items ``[(name, row, col), ...]`` (1 to 3 items).

    Items are taken left to right (then top to bottom), so each phrasing is determined by
    the canvas.

    Example:
        >>> captions_for([("sneaker", 0, 2), ("bag", 1, 0)])[:2]
        ['a bag to the left of a sneaker', 'a sneaker to the right of a bag']
    """
    items = sorted(items, key=lambda item: (item[2], item[1]))
    named = [f"{article(name)} {name}" for name, _, _ in items]
    if len(items) == 1:
        name = items[0][0]
        return [f"{named[0]} alone", f"a single {name} alone", f"{named[0]} all alone"]
    a, b = items[0], items[1]
    if len(items) == 2:
        return [f"{named[0]} {relation(a, b)} {named[1]}",
                f"{named[1]} {relation(b, a)} {named[0]}",
                f"{named[0]} and {named[1]} , the {a[0]} {side(a, b)}"]
    c = items[2]
    return [f"{named[0]} {relation(a, b)} {named[1]} {relation(b, c)} {named[2]}",
            f"{named[2]} {relation(c, b)} {named[1]} {relation(b, a)} {named[0]}",
            f"{named[0]} , {named[1]} and {named[2]} , the {a[0]} {side(a, b)} and the "
            f"{c[0]} {side(c, b)}"]


def compose(pool, names, count, grid, cell, max_items, rng):
    """``count`` canvases with 1 to ``max_items`` items from ``pool`` in distinct cells.

    Args:
        pool: item images ``uint8 [M, h, w]`` (``h``, ``w`` at most ``cell``).
        names: the class name of each pool image.
        count: canvases to make.
        grid: cells per side; ``cell``: a cell's side in pixels.
        max_items: most items on one canvas.
        rng: a NumPy ``Generator``.

    Returns:
        ``(canvases uint8 [count, grid*cell, grid*cell, 1], captions, boxes)``: three
        captions per canvas, and per canvas its items' ``(name, top, left, bottom, right)``
        pixel boxes.
    """
    size = grid * cell
    height, width = pool.shape[1:3]
    canvases = np.zeros((count, size, size, 1), np.uint8)
    captions, boxes = [], []
    for i in range(count):
        k = int(rng.integers(1, max_items + 1))
        cells = rng.choice(grid * grid, size=k, replace=False)
        picks = rng.integers(len(pool), size=k)
        items, placed = [], []
        for where, pick in zip(cells, picks):
            row, col = divmod(int(where), grid)
            top = row * cell + int(rng.integers(cell - height + 1))
            left = col * cell + int(rng.integers(cell - width + 1))
            canvases[i, top:top + height, left:left + width, 0] = pool[pick]
            items.append((names[pick], row, col))
            placed.append((names[pick], top, left, top + height, left + width))
        captions.append(captions_for(items))
        boxes.append(placed)
    return canvases, captions, boxes


def sample_sets():
    """The embedded ``(train, dev)`` sets, each ``(canvases, captions)``: shape images
    (cross, ring, square, triangle) on 64x64 canvases of 2x2 cells, 1 or 2 per canvas."""
    pool, labels = generate_shapes(400, seed=7, size=28)
    pool = pool[..., 0]
    out = []
    for count, seed in ((SAMPLE_TRAIN, 0), (SAMPLE_DEV, 1)):
        canvases, captions, _ = compose(pool, labels, count, SAMPLE_GRID, SAMPLE_CELL, 2,
                                        np.random.default_rng(seed))
        out.append((canvases, captions))
    return tuple(out)
