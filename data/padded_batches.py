"""The notes' "load all batches" for every sequence application: padded X, one-hot Y.

An example is ``(features, labels)``: ``features`` a dict of arrays ``[T_i, ...]`` (or one
such array) and ``labels`` either one id per token ``[T_i]``, one id per example (a
scalar) or a fixed-length row (multi-label 0/1 values). :func:`stack_examples` pads a list
of them into one batch and :func:`padded_batches` yields such batches: the plain,
documented generator. Applications train faster from their ``tf.data`` pipelines
(:func:`~data.sequence_batches.bucket_by_length`), which produce the same examples with
sparse ids; ``Application.train`` accepts either.

Example:
    >>> import numpy as np
    >>> examples = [({"words": np.array([4, 5])}, np.array([1, 2])),
    ...             ({"words": np.array([6])}, np.array([2]))]
    >>> x, y = next(padded_batches(examples, batch_size=2, one_hot_depth=3))
    >>> x["words"].tolist(), y.shape
    ([[4, 5], [6, 0]], (2, 2, 3))
"""

import numpy as np


def pad_to(arrays, length, dtype=None):
    """Stack arrays of shape ``[T_i, ...]`` into ``[N, length, ...]``, zero-padded or cut.

    ``dtype`` defaults to the first array's.
    """
    first = np.asarray(arrays[0])
    out = np.zeros((len(arrays), length) + first.shape[1:], dtype or first.dtype)
    for i, array in enumerate(arrays):
        n = min(len(array), length)
        out[i, :n] = array[:n]
    return out


def one_hot(ids, depth, padding_id=0):
    """One-hot float32 rows for integer ``ids`` (any shape): ``ids.shape + (depth,)``.

    With a ``padding_id`` (sequences), that id gets an all-zero row, so padding adds no
    loss and a model can tell it from a real label; ``None`` for one label per example,
    where every id is a real class.
    """
    rows = np.eye(depth, dtype=np.float32)[np.asarray(ids)]
    if padding_id is not None:
        rows[..., padding_id] = 0.0
    return rows


def _pad_longest(arrays, length=None):
    arrays = [np.asarray(a) for a in arrays]
    if arrays[0].ndim == 0:
        return np.stack(arrays)
    return pad_to(arrays, length or max(len(a) for a in arrays))


def stack_examples(examples, length=None, one_hot_depth=None):
    """Pad a list of examples into one batch ``(X, Y)``.

    Args:
        examples: ``(features, labels)`` pairs (see the module docstring).
        length: pad every sequence to this length; by default each feature and the labels
            to their longest in the batch.
        one_hot_depth: if given, Y is one-hot float32 with this depth: ``[B, T, depth]``
            for per-token ids (padding, id 0, all zero), ``[B, depth]`` for per-example ids.

    Returns:
        X as a dict of zero-padded arrays (or one array, as the features were given) and Y
        as padded ids ``[B, T]`` / ``[B]`` / ``[B, K]`` or their one-hot form.
    """
    first = examples[0][0]
    if isinstance(first, dict):
        features = {name: _pad_longest([feats[name] for feats, _ in examples], length)
                    for name in first}
    else:
        features = _pad_longest([feats for feats, _ in examples], length)
    labels = _pad_longest([labels for _, labels in examples], length)
    if one_hot_depth is not None:
        per_token = np.asarray(examples[0][1]).ndim > 0
        labels = one_hot(labels, one_hot_depth, padding_id=0 if per_token else None)
    return features, labels


def padded_batches(examples, batch_size, one_hot_depth=None, shuffle=False, seed=0):
    """Yield :func:`stack_examples` batches of ``batch_size`` examples, each padded to its
    longest example; the last batch may be smaller.

    Args:
        examples: a list of ``(features, labels)`` pairs.
        batch_size: examples per batch.
        one_hot_depth: the one-hot depth of Y (None: Y as ids).
        shuffle: visit the examples in a random order drawn from ``seed`` (the same order
            on every call with the same seed); otherwise in the given order.
        seed: the shuffle seed.
    """
    order = np.arange(len(examples))
    if shuffle:
        np.random.default_rng(seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        yield stack_examples([examples[i] for i in order[start:start + batch_size]],
                             one_hot_depth=one_hot_depth)
