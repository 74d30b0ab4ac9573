"""``tf.data`` batches of clips read one at a time from a :class:`~data.video_sets.VideoSet`.

Only clip indices are shuffled; each clip is read (memory-mapped array, decoded video or
frame images) inside the pipeline, so memory holds a few batches, never the whole set.
"""

import numpy as np
import tensorflow as tf

from data.epoch_order import epoch_permutation, epoch_pipeline_options


def clip_batches(videos, shape, batch_size, frame_ids=None, clip_ids=None, max_frames=None,
                 shuffle=False, seed=0, order=None, readers=2):
    """Batches ``({"frames": uint8 [B, T, H, W, C], "lengths": [B]}, targets)``.

    Args:
        videos: a :class:`~data.video_sets.VideoSet` (its ``read(i)`` gives one clip).
        shape: ``(H, W, C)`` of every frame.
        batch_size: clips per batch.
        frame_ids: ``int32 [N, T_max]`` frame targets (-1 = none), or None.
        clip_ids: ``int32 [N]`` clip targets, or None.
        max_frames: pad every batch to this many frames (None = the longest clip), so
            every batch has one shape.
        shuffle: a new order each epoch of ``order`` (a :class:`~data.epoch_order.EpochOrder`).
        readers: clips read in parallel.

    Targets are ``{"frame": ..., "clip": ...}`` with the keys that were given; without
    either, batches are the inputs alone.
    """
    count = len(videos)
    t_max = int(max_frames or videos.lengths.max())
    if shuffle:
        ds = epoch_permutation(count, seed, order)
    else:
        ds = tf.data.Dataset.range(count)
    lengths = tf.constant(np.minimum(videos.lengths, t_max).astype(np.int32))
    targets = {}
    if frame_ids is not None:
        targets["frame"] = tf.constant(_fit_columns(frame_ids, t_max))
    if clip_ids is not None:
        targets["clip"] = tf.constant(np.asarray(clip_ids, np.int32))

    def read(index):
        return videos.read(index)[:t_max]

    def load(index):
        frames = tf.numpy_function(read, [index], tf.uint8, stateful=False)
        frames.set_shape([None, *shape])
        inputs = {"frames": frames, "lengths": tf.gather(lengths, index)}
        if not targets:
            return inputs
        return inputs, {k: tf.gather(v, index) for k, v in targets.items()}

    ds = ds.map(load, num_parallel_calls=readers, deterministic=True)
    padded = {"frames": [t_max, *shape], "lengths": []}
    values = {"frames": tf.constant(0, tf.uint8), "lengths": 0}
    if targets:
        padded = (padded, {k: [t_max] if k == "frame" else [] for k in targets})
        values = (values, {k: -1 for k in targets})
    ds = ds.padded_batch(batch_size, padded_shapes=padded, padding_values=values)
    options = epoch_pipeline_options()
    return ds.prefetch(2).with_options(options)


def _fit_columns(table, width):
    """``int32 [N, width]``: ``table`` cut or padded with -1 to ``width`` columns."""
    table = np.asarray(table, np.int32)
    out = np.full((len(table), width), -1, np.int32)
    out[:, :min(width, table.shape[1])] = table[:, :width]
    return out
