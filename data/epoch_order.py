"""Training order as a function of ``(seed, epoch)``, so a resumed run repeats it exactly.

``tf.data``'s ``shuffle(seed=S, reshuffle_each_iteration=True)`` draws each pass's order
from a counter inside the dataset object. A process that resumes at epoch 7 builds a new
dataset whose first pass repeats the order of epoch 0, so skipping the batches a killed
run had already trained would skip the wrong ones. Here the order is drawn by stateless
random ops from the seed and the epoch, and the epoch is read from one variable at the
start of every pass. The trainer sets it before each epoch (:func:`set_epoch`, called by
``applications.core.training_state.TrainingState``), as PyTorch's ``sampler.set_epoch`` is.

Example:
    >>> ds = epoch_permutation(5, seed=1)
    >>> set_epoch(0); first = list(ds.as_numpy_iterator())
    >>> set_epoch(1); second = list(ds.as_numpy_iterator())
    >>> set_epoch(0); list(ds.as_numpy_iterator()) == first
    True
"""

import tensorflow as tf

_EPOCH = []


def epoch_variable():
    """The process-wide epoch counter that shuffling pipelines read at each pass."""
    if not _EPOCH:
        with tf.init_scope():
            _EPOCH.append(tf.Variable(0, dtype=tf.int64, trainable=False, name="data_epoch"))
    return _EPOCH[0]


def set_epoch(epoch):
    """Make the next pass over every shuffling pipeline use the order of ``epoch``."""
    epoch_variable().assign(int(epoch))


def per_epoch(make_pass):
    """A dataset whose every pass is ``make_pass(epoch)``, for the epoch current at its start.

    ``make_pass`` receives the epoch as an int64 scalar tensor and returns a dataset.
    """
    return tf.data.Dataset.range(1).flat_map(lambda _: make_pass(epoch_variable().read_value()))


def pass_seed(seed, epoch):
    """A ``[2]`` int64 seed for stateless random ops, from a Python seed and an epoch tensor."""
    return tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])


def epoch_permutation(count, seed):
    """``0 .. count-1`` (int64) in a new order each epoch, the same one for the same epoch."""

    def one_pass(epoch):
        ids = tf.range(count, dtype=tf.int64)
        order = tf.random.experimental.stateless_shuffle(ids, seed=pass_seed(seed, epoch))
        return tf.data.Dataset.from_tensor_slices(order)

    return per_epoch(one_pass).apply(tf.data.experimental.assert_cardinality(count))


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
