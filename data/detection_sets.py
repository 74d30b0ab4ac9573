"""Annotated images as arrays for a detector: pixels at the model's size, boxes in [0, 1].

Boxes are stored as TensorFlow's image ops take them, ``[ymin, xmin, ymax, xmax]`` as
fractions of the image's height and width, padded to the same count per image with class
id -1. Images are stretched to ``size x size`` (as the served model stretches them), so
fractions stay valid and predictions map back to the image's own pixels by multiplying.
"""

import dataclasses

import numpy as np

from data.errors import InputError
from data.image_files import decode_image_file, fit_image, image_header


@dataclasses.dataclass
class DetectionSet:
    """Images and their boxes, ready for batching.

    Attributes:
        images: ``uint8 [N, S, S, 3]``.
        boxes: ``float32 [N, M, 4]`` ``[ymin, xmin, ymax, xmax]`` in [0, 1]; padding zeros.
        classes: ``int32 [N, M]`` class ids, -1 for padding.
        sizes: ``int32 [N, 2]`` each image's own ``(height, width)`` in pixels.
        names: each image's file name.
        source: where the set came from (for messages).
    """

    images: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    sizes: np.ndarray
    names: list
    source: str = ""

    def __len__(self):
        return len(self.images)

    def subset(self, indices):
        """The images at ``indices``, as a new set."""
        indices = np.asarray(indices, np.int64)
        return DetectionSet(self.images[indices], self.boxes[indices], self.classes[indices],
                            self.sizes[indices], [self.names[i] for i in indices],
                            self.source)

    def pixel_boxes(self, index):
        """``(boxes [n, 4] as xmin, ymin, xmax, ymax in pixels, class ids [n])`` of one image."""
        keep = self.classes[index] >= 0
        height, width = self.sizes[index]
        ymin, xmin, ymax, xmax = self.boxes[index][keep].T
        return (np.stack([xmin * width, ymin * height, xmax * width, ymax * height], -1),
                self.classes[index][keep])


def class_names_of(annotated):
    """The sorted class names of a list of :class:`~data.detection_annotations.AnnotatedImage`."""
    return sorted({c for image in annotated for c in image.classes})


def detection_set(annotated, size, class_names, source="", max_boxes=None):
    """Decode and resize the annotated images into a :class:`DetectionSet`.

    Each image file's header is read first: one whose width and height differ from the
    annotation's is refused (its boxes would land in the wrong place), as are undecodable
    files. Greyscale images are decoded to three channels.

    Args:
        annotated: :class:`~data.detection_annotations.AnnotatedImage` records.
        size: the side the images are stretched to.
        class_names: the model's classes; a box of another class is an error naming it.
        source: the annotation file or folder, for messages.
        max_boxes: pad to this many boxes per image (default: the most any image has).

    Raises:
        InputError: a size mismatch, an unreadable image or an unknown class.
    """
    ids = {name: i for i, name in enumerate(class_names)}
    most = max(1, max((len(a.boxes) for a in annotated), default=0))
    width = max(most, max_boxes or 0)
    count = len(annotated)
    images = np.zeros((count, size, size, 3), np.uint8)
    boxes = np.zeros((count, width, 4), np.float32)
    classes = np.full((count, width), -1, np.int32)
    sizes = np.zeros((count, 2), np.int32)
    for i, item in enumerate(annotated):
        (file_width, file_height), _ = image_header(item.path)
        if (file_width, file_height) != (item.width, item.height):
            raise InputError(f"{item.filename} is {file_width}x{file_height} pixels, the "
                             f"annotation says {item.width}x{item.height}", item.source,
                             item.line)
        images[i] = fit_image(decode_image_file(item.path), (size, size), 3)
        sizes[i] = (item.height, item.width)
        for j, (box, name) in enumerate(zip(item.boxes[:width], item.classes[:width])):
            if name not in ids:
                raise InputError(f"class {name!r} is not one of the model's "
                                 f"({', '.join(class_names)})", item.source, item.line)
            xmin, ymin, xmax, ymax = box
            boxes[i, j] = (ymin / item.height, xmin / item.width, ymax / item.height,
                           xmax / item.width)
            classes[i, j] = ids[name]
    return DetectionSet(images, boxes, classes, sizes, [a.filename for a in annotated], source)
