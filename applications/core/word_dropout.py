"""Frequency-based word dropout, shared by the applications that embed words.

A training word seen ``c`` times is replaced by ``<unk>`` with probability
``alpha / (alpha + c)`` (Kiperwasser & Goldberg 2016). Without it the ``<unk>`` vector is
never trained when every training word is in the vocabulary, yet it is the vector every
word unseen in training gets at prediction time.
"""

import keras
import numpy as np


def word_drop_probabilities(vocabulary, alpha):
    """Per-id drop probability; padding and ``<unk>`` (the specials) are never dropped."""
    counts = np.asarray(vocabulary.counts or [1] * len(vocabulary), "float32")
    return np.where(np.arange(len(counts)) < vocabulary.specials, 0.0,
                    alpha / (alpha + np.maximum(counts, 1e-6))).astype("float32")


def drop_words(ids, probabilities, seed_generator, unk_id=1):
    """``ids`` with each position replaced by ``unk_id`` at its word's drop probability."""
    ops = keras.ops
    threshold = ops.take(ops.convert_to_tensor(probabilities, "float32"), ids)
    drop = keras.random.uniform(ops.shape(ids), seed=seed_generator) < threshold
    return ops.where(drop, ops.full_like(ids, unk_id), ids)
