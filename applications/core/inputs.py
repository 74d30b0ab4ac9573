"""What ``Application.train`` accepts as data besides a ``tf.data.Dataset``: the notes' batches.

The notes' ``load_all_batches`` (each sequence application's ``pipeline.py``) yields
``(X, Y)`` NumPy batches: X as the model takes it, padded, and Y one-hot.
:func:`as_training_data` turns such a source into a ``tf.data.Dataset`` with a known
number of batches, so the epoch driver, checkpoints, resuming and ``fit`` treat it like
any other pipeline, and turns one-hot Y into the targets and sample weights the
application's loss takes (:meth:`~applications.core.base.Application.targets_from_one_hot`),
so the loss and the step are the ones the ``tf.data`` path uses.

A source is read once per epoch, so it must start again each time:

* a function returning a fresh generator, e.g. ``lambda: load_all_batches(path, meta)``;
* a re-iterable object (a list of batches, or anything whose ``iter()`` starts over);
* a generator object (``load_all_batches(path, meta)`` itself) is read to its end once and
  its batches kept in memory, so it too serves every epoch.

Example::

    from applications.pos_tagger.pipeline import load_all_batches
    tagger.train(lambda: load_all_batches("train.conllu", meta), None, "runs/t", epochs=3)
"""

import numpy as np
import tensorflow as tf


def as_training_data(model, data):
    """``data`` as a ``tf.data.Dataset`` of the batches ``model``'s train and test steps take.

    Args:
        model: the :class:`~applications.core.base.Application` to be trained.
        data: a ``tf.data.Dataset`` or other object ``fit`` takes (returned as it is),
            None, or a source of ``(X, Y)`` batches with one-hot Y as described above.

    Returns:
        A dataset of ``(X, targets)`` or ``(X, targets, sample weights)`` batches, its
        cardinality set to the number of batches one pass of the source yields.
    """
    if data is None or isinstance(data, tf.data.Dataset) or _is_keras_data(data):
        return data
    start = _restartable(data)
    count, signature = _survey(start)
    dataset = tf.data.Dataset.from_generator(start, output_signature=signature)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))

    def to_targets(x, y):
        targets, weights = model.targets_from_one_hot(y)
        return (x, targets) if weights is None else (x, targets, weights)

    return dataset.map(to_targets).prefetch(tf.data.AUTOTUNE)


def _is_keras_data(data):
    import keras

    return isinstance(data, keras.utils.PyDataset)


def _restartable(data):
    """A function that returns a new iterator over the source's batches each time."""
    if callable(data):
        return lambda: iter(data())
    if iter(data) is data:  # a generator or other one-shot iterator: keep what it yields
        batches = list(data)
        return lambda: iter(batches)
    return lambda: iter(data)


def _survey(start):
    """``(number of batches, output signature)`` from one pass over the source.

    An axis whose size is the same in every batch keeps it (a one-hot depth, a fixed
    window, characters per word); others, and the batch axis, are left open.
    """
    count, shapes, first = 0, None, None
    for batch in start():
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ValueError("a batch source must yield (X, Y) pairs, Y one-hot")
        leaves = tf.nest.flatten(batch)
        if first is None:
            first, shapes = batch, [list(np.shape(leaf)) for leaf in leaves]
        else:
            for sizes, leaf in zip(shapes, leaves):
                for axis, size in enumerate(np.shape(leaf)):
                    if sizes[axis] != size:
                        sizes[axis] = None
        count += 1
    if first is None:
        raise ValueError("the batch source yielded no batches")
    specs = []
    for sizes, leaf in zip(shapes, tf.nest.flatten(first)):
        specs.append(tf.TensorSpec([None] + sizes[1:], tf.as_dtype(np.asarray(leaf).dtype)))
    return count, tf.nest.pack_sequence_as(tuple(first), specs)
