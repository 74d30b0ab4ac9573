"""The embedded default data: small clips of a square sliding diagonally, drawn at run time.

Each clip is 5-8 frames of 16x16 gray pixels (shorter clips are padding after their
length). A 4x4 square moves one or two pixels a frame in x and in y and bounces off the
edges. Frame labels: the direction of the move into the frame (``up-left``, ``up-right``,
``down-left``, ``down-right``; frame 0 unlabelled). Clip label: ``bright`` or ``dim``.
"""

import numpy as np

DIRECTIONS = ["up-left", "up-right", "down-left", "down-right"]
SIZE, SQUARE, FRAMES = 16, 4, 8


def sliding_squares(count, seed):
    """``(clips uint8 [N, 8, 16, 16, 1], lengths [N], frame labels [N, 8] str, clip labels)``."""
    rng = np.random.default_rng(seed)
    clips = np.zeros((count, FRAMES, SIZE, SIZE, 1), np.uint8)
    frame_labels = np.full((count, FRAMES), "", object)
    lengths = rng.integers(5, FRAMES + 1, count)
    bright = rng.random(count) < 0.5
    limit = SIZE - SQUARE
    for i in range(count):
        position = rng.integers(0, limit + 1, 2)
        velocity = rng.integers(1, 3, 2) * rng.choice([-1, 1], 2)
        for t in range(lengths[i]):
            if t:
                moved = position + velocity
                velocity = np.where((moved < 0) | (moved > limit), -velocity, velocity)
                position = position + velocity
                frame_labels[i, t] = DIRECTIONS[2 * int(velocity[1] > 0) + int(velocity[0] > 0)]
            x, y = position
            clips[i, t, y:y + SQUARE, x:x + SQUARE] = 250 if bright[i] else 120
    return clips, lengths, frame_labels, np.where(bright, "bright", "dim")


def sample_sets():
    """The embedded ``(train, dev)`` sets: 192 and 48 clips."""
    return sliding_squares(192, seed=11), sliding_squares(48, seed=12)
