"""Training order as a function of ``(seed, epoch)``, so a resumed run repeats it exactly.

``tf.data``'s ``shuffle(seed=S, reshuffle_each_iteration=True)`` draws each pass's order
from a counter inside the dataset object. A process that resumes at epoch 7 builds a new
dataset whose first pass repeats the order of epoch 0, so skipping the batches a killed
run had already trained would skip the wrong ones. Here the order is drawn by stateless
random ops from the seed and the epoch, and the epoch is read from an :class:`EpochOrder`
at the start of every pass. Whoever builds a training pipeline creates the ``EpochOrder``
and hands it both to the pipeline and to the trainer, which calls ``order.set(epoch)``
before each epoch (``applications.core.epochs``), as PyTorch's ``sampler.set_epoch`` is
called; nothing here is process-wide.

Example:
    >>> order = EpochOrder()
    >>> ds = epoch_permutation(5, seed=1, order=order)
    >>> order.set(0); first = list(ds.as_numpy_iterator())
    >>> order.set(1); second = list(ds.as_numpy_iterator())
    >>> order.set(0); list(ds.as_numpy_iterator()) == first
    True
    >>> sorted(second) == sorted(first)
    True
"""

import tensorflow as tf


class EpochOrder:
    """The epoch whose order the pipelines built with this object produce on their next pass.

    One per training run: pass it to every shuffling pipeline of the run and to the trainer.

    Args:
        epoch: the epoch to start with.
    """

    def __init__(self, epoch=0):
        # Outside any tf.function being traced, so the variable outlives the trace.
        with tf.init_scope():
            self.variable = tf.Variable(int(epoch), dtype=tf.int64, trainable=False,
                                        name="data_epoch")

    def set(self, epoch):
        """Make the next pass of this order's pipelines use the order of ``epoch``."""
        self.variable.assign(int(epoch))

    @property
    def epoch(self):
        return int(self.variable.numpy())


def per_epoch(make_pass, order=None):
    """A dataset whose every pass is ``make_pass(epoch)``, for ``order``'s epoch at its start.

    ``make_pass`` receives the epoch as an int64 scalar tensor and returns a dataset.
    Without an ``order`` every pass is ``make_pass(0)``: the same order each time.
    """
    if order is None:
        return make_pass(tf.constant(0, tf.int64))
    variable = order.variable
    return tf.data.Dataset.range(1).flat_map(lambda _: make_pass(variable.read_value()))


def pass_seed(seed, epoch):
    """A ``[2]`` int64 seed for stateless random ops, from a Python seed and an epoch tensor."""
    return tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])


def epoch_permutation(count, seed, order=None):
    """``0 .. count-1`` (int64) in a new order each epoch of ``order``, the same one for the
    same epoch (always epoch 0's without an ``order``)."""

    def one_pass(epoch):
        ids = tf.range(count, dtype=tf.int64)
        shuffled = tf.random.experimental.stateless_shuffle(ids, seed=pass_seed(seed, epoch))
        return tf.data.Dataset.from_tensor_slices(shuffled)

    return per_epoch(one_pass, order).apply(tf.data.experimental.assert_cardinality(count))


def epoch_pipeline_options():
    """``tf.data.Options`` for a training pipeline that Keras iterates afresh every epoch.

    Autotuning is off: its background thread made the destructor of the last epoch's
    iterator wait 5-15 s, with the process idle, at the start of about every other epoch
    of tagger training (seen as idle CPU in ``vmstat`` and as
    ``RootDataset::Iterator::~Iterator`` waiting in a native stack dump). Parallel maps
    then keep a fixed parallelism; the tagger's pipeline alone still takes ~1 s an epoch.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options
