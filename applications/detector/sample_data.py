"""The detector's embedded default data: squares and discs drawn on noisy backgrounds."""

import numpy as np

from data.detection_sets import DetectionSet

CLASSES = ("disc", "square")
SAMPLES = "<embedded shapes>"


def generate_scenes(count, size, seed=0, max_objects=3):
    """``count`` images of ``size x size`` with 1 to ``max_objects`` shapes each.

    Returns:
        A :class:`~data.detection_sets.DetectionSet` over :data:`CLASSES`; each shape's box
        is exactly the square around it.
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 90, (count, size, size, 3)).astype(np.uint8)
    boxes = np.zeros((count, max_objects, 4), np.float32)
    classes = np.full((count, max_objects), -1, np.int32)
    rows, cols = np.mgrid[0:size, 0:size]
    for i in range(count):
        for j in range(rng.integers(1, max_objects + 1)):
            side = int(rng.integers(size // 6, size // 2))
            top, left = (int(v) for v in rng.integers(0, size - side, 2))
            kind = int(rng.integers(len(CLASSES)))
            colour = rng.integers(120, 256, 3).astype(np.uint8)
            if CLASSES[kind] == "square":
                images[i, top:top + side, left:left + side] = colour
            else:
                centre, radius = (top + side / 2 - 0.5, left + side / 2 - 0.5), side / 2
                inside = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2
                images[i][inside] = colour
            boxes[i, j] = (top / size, left / size, (top + side) / size, (left + side) / size)
            classes[i, j] = kind
    sizes = np.full((count, 2), size, np.int32)
    return DetectionSet(images, boxes, classes, sizes, [f"scene-{i}.png" for i in range(count)],
                        SAMPLES)


def sample_sets(size):
    """The embedded ``(train, dev)`` sets: 240 and 60 scenes at ``size x size``."""
    return generate_scenes(240, size, seed=1), generate_scenes(60, size, seed=2)
