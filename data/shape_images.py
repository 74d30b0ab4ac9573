"""Small grayscale images of simple shapes, drawn at run time: the vision applications'
embedded data.

Each image holds one shape of a random size, position and brightness on a noisy dark
background, so the apps train and evaluate with no download. The same seed gives the same
images on every machine.
"""

import numpy as np

SHAPES = ("cross", "ring", "square", "triangle")
TRAIN_SEED, DEV_SEED = 0, 1
TRAIN_COUNT, DEV_COUNT = 1600, 400


def generate_shapes(count, seed=0, size=28):
    """``count`` images ``uint8 [count, size, size, 1]`` and their shape names.

    Example:
        >>> images, labels = generate_shapes(8, seed=3)
        >>> images.shape, images.dtype, sorted(set(labels)) <= sorted(SHAPES)
        ((8, 28, 28, 1), dtype('uint8'), True)
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    images = np.empty((count, size, size, 1), np.uint8)
    labels = []
    for i in range(count):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        radius = rng.uniform(0.18, 0.32) * size
        cy, cx = rng.uniform(radius + 1, size - radius - 1, size=2)
        mask = _mask(shape, rows - cy, cols - cx, radius, rng)
        brightness = rng.uniform(150, 255)
        noise = rng.normal(0, 12, (size, size))
        pixels = np.where(mask, brightness, rng.uniform(0, 40)) + noise
        images[i, :, :, 0] = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
        labels.append(shape)
    return images, labels


def _mask(shape, dy, dx, radius, rng):
    if shape == "ring":
        inner = radius * rng.uniform(0.45, 0.65)
        distance = dy * dy + dx * dx
        return (distance <= radius * radius) & (distance >= inner * inner)
    if shape == "square":
        half = radius * 0.85
        return (np.abs(dy) <= half) & (np.abs(dx) <= half)
    if shape == "cross":
        arm = radius * rng.uniform(0.22, 0.35)
        return (((np.abs(dy) <= arm) & (np.abs(dx) <= radius))
                | ((np.abs(dx) <= arm) & (np.abs(dy) <= radius)))
    # An upward triangle: below the apex, inside the two slanted edges.
    top, bottom = -radius, radius * 0.8
    inside = (dy >= top) & (dy <= bottom)
    half_width = (dy - top) / (bottom - top) * radius
    return inside & (np.abs(dx) <= half_width)


def shape_sets():
    """The embedded ``(train, dev)`` sets as ``(images, labels)`` pairs."""
    return (generate_shapes(TRAIN_COUNT, TRAIN_SEED), generate_shapes(DEV_COUNT, DEV_SEED))
