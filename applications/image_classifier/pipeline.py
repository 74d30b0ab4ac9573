"""From image files to the classifier's batches: uint8 images and class ids.

Reading and metadata are shared with the other vision applications
(:mod:`data.image_sets`, :mod:`applications.core.image_inputs`); this module adds the
classifier's embedded samples and its targets.
"""

from applications.core import image_inputs
from applications.core.config import UsageError
from applications.image_classifier.sample_data import SHAPES, sample_sets
from data.image_batches import image_batches
from data.image_sets import ImageMetadata, read_input
from data.images import ImageSet

__all__ = ["ImageMetadata", "class_batches", "evaluation_data", "read_train_and_dev"]


def read_train_and_dev(args, config, shape=None):
    """``(train, dev or None)`` labelled image sets; the embedded shapes without ``--train``."""
    return image_inputs.read_train_and_dev(args, config, sample_sets, shape)


def class_batches(meta, train, dev, config, order=None):
    """``(train, dev or None)`` ``tf.data`` batches of ``(uint8 images, class ids)``.

    ``order`` (a :class:`~data.epoch_order.EpochOrder`) picks each epoch's shuffle.
    """
    train_ds = image_batches(train.images, meta.encode_labels(train), config.batch_size,
                             shuffle=True, seed=config.seed, order=order)
    dev_ds = None if dev is None else image_batches(
        dev.images, meta.encode_labels(dev), max(config.batch_size, 256), shuffle=False)
    return train_ds, dev_ds


def evaluation_data(args, meta):
    """The labelled images ``evaluate`` scores: ``--data`` (+ ``--labels``) or the samples."""
    if args.data:
        data = read_input(args.data, args.labels, meta.shape)
    else:
        if args.labels:
            raise UsageError("--labels goes with --data")
        if sorted(meta.labels) != sorted(SHAPES):
            raise UsageError("evaluate needs --data (and --labels for IDX images): this "
                             "model was not trained on the embedded shape images")
        _, (images, labels) = sample_sets()
        data = ImageSet(images, labels, None, image_inputs.SAMPLES)
    meta.check_shape(data)
    return data
