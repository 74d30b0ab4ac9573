"""From image files to training batches: what training learns about its images, and splits.

The autoencoder reads its images the same way; only the targets differ.
"""

import dataclasses

import numpy as np

from applications.core.config import UsageError
from applications.image_classifier.sample_data import sample_sets
from data.errors import InputError
from data.images import ImageSet, read_images


@dataclasses.dataclass
class ImageMetadata:
    """What training collects from its images; it travels inside the saved model.

    Attributes:
        height, width, channels: the model's input size (uint8 pixels).
        labels: the label values seen in training, in class-id order ([] for autoencoders).
        class_names: the names reported for those classes (``class_names`` option or labels).
        train_examples: how many training images there were (sets the LR schedule's length).
    """

    height: int
    width: int
    channels: int
    labels: list = dataclasses.field(default_factory=list)
    class_names: list = dataclasses.field(default_factory=list)
    train_examples: int = 0

    @classmethod
    def from_images(cls, image_set, class_names=(), with_labels=True):
        _, height, width, channels = image_set.images.shape
        labels, names = [], []
        if with_labels:
            labels = sorted(set(image_set.labels), key=label_order)
            if len(labels) < 2:
                raise InputError(f"every training image has the label {labels[0]!r}; a "
                                 "classifier needs two or more classes", image_set.path)
            if class_names and len(class_names) != len(labels):
                raise UsageError(f"class_names has {len(class_names)} names but the training "
                                 f"data has {len(labels)} classes ({', '.join(labels[:12])})")
            names = [str(n) for n in class_names] or list(labels)
        return cls(int(height), int(width), int(channels), labels, names, len(image_set.images))

    @property
    def shape(self):
        return (self.height, self.width, self.channels)

    def check_shape(self, image_set):
        """Arrays (IDX, npz) must already have the model's size; folders are resized on read."""
        found = tuple(image_set.images.shape[1:])
        if found != self.shape:
            raise InputError(f"images are {'x'.join(map(str, found))} (height x width x "
                             f"channels), the model takes {'x'.join(map(str, self.shape))}",
                             image_set.path)

    def encode_labels(self, image_set):
        """Class ids ``int32 [N]``; a label never seen in training is an error naming it."""
        index = {label: i for i, label in enumerate(self.labels)}
        ids = np.empty(len(image_set.labels), np.int32)
        for i, label in enumerate(image_set.labels):
            if label not in index:
                where = image_set.names[i] if image_set.names else image_set.path
                raise InputError(f"label {label!r} (image {i}) was never seen in training; "
                                 f"known: {', '.join(self.labels[:20])}", where)
            ids[i] = index[label]
        return ids

    def get_config(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def label_order(name):
    """Numeric labels in numeric order (``2`` before ``10``), others alphabetically after."""
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def held_out_split(count, fraction, seed):
    """Indices ``(kept, held_out)``: a fixed, seeded ``fraction`` of ``count`` rows held out."""
    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * fraction))
    return np.sort(order[cut:]), np.sort(order[:cut])


def subset(image_set, indices):
    pick = (lambda values: None if values is None else [values[i] for i in indices])
    return image_set._replace(images=image_set.images[indices], labels=pick(image_set.labels),
                              names=pick(image_set.names))


def read_input(path, labels_path, shape=None, require_labels=True, size=None, channels=None):
    """Read a folder, ``.npz`` or IDX file; folder images are resized to ``shape`` if given."""
    if shape:
        size, channels = shape[:2], shape[2]
    image_set = read_images(path, labels_path, require_labels, size, channels)
    if not require_labels and labels_path is None:
        image_set = image_set._replace(labels=None)
    return image_set


def read_train_and_dev(args, config, shape=None, require_labels=True):
    """``(train, dev or None)`` image sets from ``--train``/``--dev`` (+ labels) or the samples.

    Every file is read and checked here, before the caller writes anything. ``shape`` is the
    input size to resize folder images to (a resumed run's or the initial model's); without
    it the ``image_size`` and ``channels`` options, then the first training image, decide.
    """
    if args.train_labels and not args.train:
        raise UsageError("--train-labels goes with --train")
    if args.dev_labels and not args.dev:
        raise UsageError("--dev-labels goes with --dev")
    if not 0.0 <= config.dev_split < 1.0:
        raise UsageError(f"dev_split must be in [0, 1), not {config.dev_split}")
    if config.image_size and (len(config.image_size) != 2 or min(config.image_size) < 1):
        raise UsageError(f"image_size must be [height, width], not {config.image_size}")
    if config.channels not in (0, 1, 3):
        raise UsageError(f"channels must be 1, 3 or 0 (from the data), not {config.channels}")
    if args.train:
        train = read_input(args.train, args.train_labels, shape, require_labels,
                           config.image_size or None, config.channels or None)
    else:
        (images, labels), _ = sample_sets()
        train = ImageSet(images, labels, None, "<embedded shapes>")
    shape = tuple(train.images.shape[1:])
    dev = None
    if args.dev:
        dev = read_input(args.dev, args.dev_labels, shape, require_labels)
    elif config.dev_split > 0:
        kept, held = held_out_split(len(train.images), config.dev_split, config.seed)
        train, dev = subset(train, kept), subset(train, held)
    elif not args.train:
        _, (images, labels) = sample_sets()
        dev = ImageSet(images, labels, None, "<embedded shapes>")
    return train, dev
