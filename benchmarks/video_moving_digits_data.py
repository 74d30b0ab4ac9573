"""The "moving digits" clips of the video benchmark, drawn from real MNIST digits.

One MNIST digit (28x28) per clip on a 64x64 black canvas, 20 frames. The digit starts at a
random place and moves in a straight line, 2-5 pixels a frame in both x and y (each
component's size and sign drawn at random); when a step would leave the canvas, that
velocity component flips and the step is made in the new direction, so the digit bounces
off the walls. Frame t (t >= 1) is labelled with the direction of the move made from frame
t-1 to frame t: 0 up-left, 1 up-right, 2 down-left, 3 down-right; frame 0 has no label (-1).
The clip's label is the digit's class.
"""

import numpy as np

DIRECTIONS = ["up-left", "up-right", "down-left", "down-right"]
CANVAS, DIGIT, FRAMES = 64, 28, 20


def digit_paths(t, speed_x, speed_y, start_x, start_y):
    """Top-left corners ``[T, 2]`` (x, y) and the direction ids ``[T]`` (-1 at frame 0)."""
    limit = CANVAS - DIGIT
    position = np.array([start_x, start_y])
    velocity = np.array([speed_x, speed_y])
    corners, directions = [position.copy()], [-1]
    for _ in range(1, t):
        moved = position + velocity
        outside = (moved < 0) | (moved > limit)
        velocity = np.where(outside, -velocity, velocity)  # bounce: the component flips
        position = position + velocity
        corners.append(position.copy())
        directions.append(2 * int(velocity[1] > 0) + int(velocity[0] > 0))
    return np.stack(corners), np.array(directions)


def moving_digit_clips(digits, classes, count, seed, frames=FRAMES):
    """Yield ``(clip uint8 [T, 64, 64, 1], frame labels [T], clip label)`` ``count`` times.

    Args:
        digits: MNIST images ``[N, 28, 28]`` uint8; each clip draws one at random.
        classes: their labels ``[N]``.
        count: how many clips.
        seed: the random seed (the same seed gives the same clips).
        frames: frames per clip.
    """
    rng = np.random.default_rng(seed)
    limit = CANVAS - DIGIT
    for _ in range(count):
        index = int(rng.integers(len(digits)))
        speeds = rng.integers(2, 6, size=2) * rng.choice([-1, 1], size=2)
        start = rng.integers(0, limit + 1, size=2)
        corners, directions = digit_paths(frames, *speeds, *start)
        clip = np.zeros((frames, CANVAS, CANVAS, 1), np.uint8)
        for t, (x, y) in enumerate(corners):
            clip[t, y:y + DIGIT, x:x + DIGIT, 0] = digits[index]
        yield clip, directions, int(classes[index])


def write_clip_arrays(path, digits, classes, count, seed, frames=FRAMES):
    """Write ``count`` clips to an ``.npz`` (``clips``, ``frame_labels``, ``labels``),
    filling a memory-mapped temporary ``.npy`` so that memory stays at one clip."""
    import os
    import tempfile
    import zipfile

    folder = os.path.dirname(os.path.abspath(path))
    frame_labels = np.zeros((count, frames), np.int64)
    labels = np.zeros(count, np.int64)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        clips_path = os.path.join(tmp, "clips.npy")
        clips = np.lib.format.open_memmap(clips_path, "w+", np.uint8,
                                          (count, frames, CANVAS, CANVAS, 1))
        for i, (clip, directions, label) in enumerate(
                moving_digit_clips(digits, classes, count, seed, frames)):
            clips[i], frame_labels[i], labels[i] = clip, directions, label
        clips.flush()
        del clips
        np.save(os.path.join(tmp, "frame_labels.npy"), frame_labels)
        np.save(os.path.join(tmp, "labels.npy"), labels)
        # Stored, not deflated: the reader can seek to any clip without decompressing.
        with zipfile.ZipFile(path + ".part", "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name in ("clips", "frame_labels", "labels"):
                zf.write(os.path.join(tmp, f"{name}.npy"), f"{name}.npy")
    os.replace(path + ".part", path)
    return path
