"""From image files to the autoencoder's batches: uint8 images whose targets are their own
pixels in [0, 1]. Labels are never needed."""

from applications.autoencoder.sample_data import sample_sets
from applications.core import image_inputs
from data.image_batches import image_batches
from data.image_sets import ImageMetadata, read_input
from data.images import ImageSet


def read_training_images(args, config, metadata=None):
    """``(metadata, train, dev or None)``: the images ``train`` reads, checked against the
    resumed run's ``metadata`` (a dict) when there is one; the embedded shapes without
    ``--train``."""
    shape = ImageMetadata.from_config(metadata).shape if metadata else None
    train, dev = image_inputs.read_train_and_dev(args, config, sample_sets, shape,
                                                 require_labels=False)
    meta = ImageMetadata.from_images(train, with_labels=False)
    if metadata is not None:
        meta = ImageMetadata.from_config(metadata)
        meta.check_shape(train)
    if dev is not None:
        meta.check_shape(dev)
    return meta, train, dev


def pixel_batches(train, dev, config, order=None):
    """``(train, dev or None)`` ``tf.data`` batches of ``(uint8 images, pixels in [0, 1])``.

    ``order`` (a :class:`~data.epoch_order.EpochOrder`) picks each epoch's shuffle.
    """
    train_ds = image_batches(train.images, "pixels", config.batch_size, True, config.seed,
                             order)
    dev_ds = None if dev is None else image_batches(
        dev.images, "pixels", max(config.batch_size, 256), shuffle=False)
    return train_ds, dev_ds


def evaluation_images(path, meta):
    """The images ``evaluate`` scores (or fits PCA on): ``path``, or the embedded dev set."""
    if path:
        data = read_input(path, None, meta.shape, require_labels=False)
    else:
        _, (images, _) = sample_sets()
        data = ImageSet(images, None, None, image_inputs.SAMPLES)
    meta.check_shape(data)
    return data
