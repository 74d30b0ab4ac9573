"""Pooling over time that counts only real (unmasked) positions; shared by the encoders."""

import keras


def masked_pool(sequence, mask, how="max"):
    """Max or mean of ``sequence`` [B, T, H] over the positions where ``mask`` [B, T] is True.

    A row with no real position pools to zeros.
    """
    ops = keras.ops
    real = ops.expand_dims(ops.cast(mask, "bool"), -1)
    if how == "max":
        largest = ops.max(ops.where(real, sequence, float("-inf")), axis=1)
        return ops.where(ops.any(real, axis=1), largest, 0.0)
    keep = ops.cast(real, sequence.dtype)
    return ops.sum(sequence * keep, axis=1) / ops.maximum(ops.sum(keep, axis=1), 1.0)
