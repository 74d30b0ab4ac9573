"""Layers of the video classifier: where features are in a frame, clip-wide augmentation,
and accuracy over labelled frames only."""

import keras
import numpy as np

ops = keras.ops


@keras.saving.register_keras_serializable(package="encore")
class CoordinatePooling(keras.layers.Layer):
    """Soft-argmax pooling: for each channel of a ``[N, h, w, c]`` feature map, the
    softmax-weighted mean (x, y) position in [-1, 1], giving ``[N, 2c]``.

    Global max or mean pooling says what a frame holds but not where; this says where, to
    a fraction of a cell, which is what a model needs to see motion between frames.

    Example:
        >>> maps = np.zeros((1, 4, 4, 1), "float32"); maps[0, 0, 3, 0] = 50.0
        >>> [round(float(v), 2) for v in CoordinatePooling()(maps)[0]]
        [1.0, -1.0]
    """

    def call(self, maps):
        height, width, channels = maps.shape[1], maps.shape[2], maps.shape[3]
        flat = ops.reshape(maps, (-1, height * width, channels))
        weights = ops.softmax(flat, axis=1)
        ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width),
                             indexing="ij")
        grid = ops.convert_to_tensor(np.stack([xs.ravel(), ys.ravel()], -1).astype("float32"))
        positions = ops.einsum("nkc,kd->ncd", weights, ops.cast(grid, weights.dtype))
        return ops.reshape(positions, (-1, 2 * channels))


def augment_clips(frames, translation=0.0, brightness=0.0, seed=None):
    """The same random shift and brightness change for every frame of each clip.

    Args:
        frames: ``[B, T, H, W, C]`` floats in [0, 1].
        translation: largest shift as a fraction of height and width (0 = none).
        brightness: largest relative brightness change (0 = none).
        seed: a ``keras.random.SeedGenerator``.
    """
    shape = ops.shape(frames)
    batch, t = shape[0], shape[1]
    height, width, channels = frames.shape[2], frames.shape[3], frames.shape[4]
    if translation:
        # Frames become channels of one image per clip, so one transform moves them all.
        stacked = ops.reshape(ops.transpose(frames, (0, 2, 3, 1, 4)),
                              (batch, height, width, -1))
        shift = keras.random.uniform((batch, 2), -translation, translation, seed=seed)
        dx, dy = shift[:, 0] * width, shift[:, 1] * height
        one, zero = ops.ones_like(dx), ops.zeros_like(dx)
        transform = ops.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1)
        moved = ops.image.affine_transform(stacked, transform, interpolation="nearest",
                                           fill_mode="constant")
        frames = ops.transpose(ops.reshape(moved, (batch, height, width, t, channels)),
                               (0, 3, 1, 2, 4))
    if brightness:
        scale = 1.0 + keras.random.uniform((batch, 1, 1, 1, 1), -brightness, brightness,
                                           seed=seed)
        frames = ops.clip(frames * scale, 0.0, 1.0)
    return frames


@keras.saving.register_keras_serializable(package="encore")
class LabelledAccuracy(keras.metrics.Mean):
    """Accuracy over targets >= 0 only: unlabelled and padded frames (label -1) do not count."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        keep = ops.cast(y_true >= 0, "float32")
        if sample_weight is not None:
            keep = keep * ops.cast(sample_weight, "float32")
        hits = ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true),
                        "float32")
        return super().update_state(hits, sample_weight=keep)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
