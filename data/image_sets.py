"""Image sets as the vision applications use them: what training learns about its images
(:class:`ImageMetadata`), reading any supported input at the model's size, and subsets.

The image classifier and the autoencoder read their images the same way; only the targets
differ (class ids or the pixels themselves).
"""

import dataclasses
import os
import sys

import numpy as np

from data.errors import InputError
from data.images import ImageSet, image_files, read_image_files, read_images

IMAGE_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


@dataclasses.dataclass
class ImageMetadata:
    """What training collects from its images; it travels inside the saved model.

    Attributes:
        height, width, channels: the model's input size (uint8 pixels).
        labels: the label values seen in training, in class-id order ([] for autoencoders).
        class_names: the names reported for those classes (``class_names`` option or labels).
        train_examples: how many training images there were (sets the LR schedule's length).

    Example:
        >>> meta = ImageMetadata(28, 28, 1, ["0", "1"], ["zero", "one"], 100)
        >>> meta.shape, ImageMetadata.from_config(meta.get_config()) == meta
        ((28, 28, 1), True)
    """

    height: int
    width: int
    channels: int
    labels: list = dataclasses.field(default_factory=list)
    class_names: list = dataclasses.field(default_factory=list)
    train_examples: int = 0

    @classmethod
    def from_images(cls, image_set, class_names=(), with_labels=True):
        """The metadata of a training set; ``class_names`` must name every class found."""
        _, height, width, channels = image_set.images.shape
        labels, names = [], []
        if with_labels:
            labels = sorted(set(image_set.labels), key=label_order)
            if len(labels) < 2:
                raise InputError(f"every training image has the label {labels[0]!r}; a "
                                 "classifier needs two or more classes", image_set.path)
            if class_names and len(class_names) != len(labels):
                raise InputError(f"class_names has {len(class_names)} names but the training "
                                 f"data has {len(labels)} classes ({', '.join(labels[:12])})",
                                 image_set.path)
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

    def encode_labels(self, image_set, unseen_id=None):
        """Class ids ``int32 [N]``; a label never seen in training is an error naming it,
        or (evaluation, ``unseen_id`` given) gets ``unseen_id``."""
        index = {label: i for i, label in enumerate(self.labels)}
        ids = np.empty(len(image_set.labels), np.int32)
        for i, label in enumerate(image_set.labels):
            if label in index:
                ids[i] = index[label]
            elif unseen_id is not None:
                ids[i] = unseen_id
            else:
                where = image_set.names[i] if image_set.names else image_set.path
                raise InputError(f"label {label!r} (image {i}) was never seen in training; "
                                 f"known: {', '.join(self.labels[:20])}", where)
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


def subset(image_set, indices):
    """The images (and their labels and names) at ``indices``."""
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


def read_unlabelled(path, meta):
    """Images to predict or encode at the size ``meta`` gives.

    ``path`` is a folder or image file, an ``.npz`` (``x``), IDX images, or ``-`` (image
    file paths, one a line, on standard input). Folder and file images are resized.
    """
    files = _unlabelled_files(path)
    if files is None:
        image_set = read_input(path, None, meta.shape, require_labels=False)
        meta.check_shape(image_set)
        return image_set
    images = read_image_files(files, meta.shape[:2], meta.channels)
    return ImageSet(images, None, [str(f) for f in files], str(path))


def iter_unlabelled(path, meta, chunk=256):
    """:func:`read_unlabelled` a chunk at a time: yields ``(names, uint8 images)``.

    Image files are decoded ``chunk`` at a time, so memory does not grow with their number;
    an ``.npz`` or IDX array is read whole (its format holds it so) and handed out in
    slices named by their index.
    """
    files = _unlabelled_files(path)
    if files is None:
        images = read_unlabelled(path, meta).images
        for start in range(0, len(images), chunk):
            part = images[start:start + chunk]
            yield [str(i) for i in range(start, start + len(part))], part
        return
    for start in range(0, len(files), chunk):
        part = files[start:start + chunk]
        yield [str(f) for f in part], read_image_files(part, meta.shape[:2], meta.channels)


def _unlabelled_files(path):
    """The image files ``path`` names (a folder, a file, ``-``), or None for an array file."""
    if path == "-":
        files = [line.strip() for line in sys.stdin if line.strip()]
        if not files:
            raise InputError("no image paths on standard input", "<stdin>")
        return files
    if os.path.isdir(path):
        files = image_files(path)
        if not files:
            raise InputError("holds no PNG or JPEG images", path)
        return files
    if str(path).lower().endswith(IMAGE_FILE_SUFFIXES):
        return [path]
    return None
