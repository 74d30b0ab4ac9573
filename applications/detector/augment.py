"""Training augmentation that moves the boxes with the image: random scale and crop,
horizontal flip, colour jitter. Batches in, batches out, all in TensorFlow ops."""

import tensorflow as tf

FILL = 114.0  # grey for the parts of a zoomed-out crop that lie outside the image
MIN_VISIBLE = 0.4  # a box keeps its label when at least this share of it stays in the crop


def augment_batch(images, boxes, classes, scale=0.0, flip=True, jitter=0.0, seed=None):
    """Randomly transform a batch of images and their boxes.

    Args:
        images: ``[B, S, S, 3]`` pixels (uint8 or float in [0, 255]).
        boxes: ``float32 [B, M, 4]`` ``[ymin, xmin, ymax, xmax]`` in [0, 1].
        classes: ``int32 [B, M]``, -1 for padding.
        scale: each image is cropped to a window whose sides are ``1 ± scale`` times the
            image's (a window larger than the image zooms out, filling with grey), at a random
            place, and stretched back to ``S x S``. 0 = off.
        flip: mirror half of the images left to right.
        jitter: brightness, contrast and saturation change by up to this fraction. 0 = off.
        seed: an optional op seed for the random draws.

    Returns:
        ``(float32 images [B, S, S, 3] in [0, 255], boxes, classes)``; a box mostly cropped
        away (less than 40 % of it left) gets class -1.
    """
    images = tf.cast(images, tf.float32)
    batch = tf.shape(images)[0]
    side = tf.shape(images)[1:3]
    if scale > 0:
        sizes = tf.random.uniform([batch, 2], 1.0 - scale, 1.0 + scale, seed=seed)
        starts = tf.random.uniform([batch, 2], seed=seed) * (1.0 - sizes)
        windows = tf.concat([starts, starts + sizes], -1)
        images = tf.image.crop_and_resize(images, windows, tf.range(batch), side,
                                          extrapolation_value=FILL)
        boxes, classes = _boxes_in_window(boxes, classes, starts, sizes)
    if flip:
        mirror = tf.random.uniform([batch], seed=seed) < 0.5
        images = tf.where(mirror[:, None, None, None], tf.reverse(images, [2]), images)
        flipped = tf.stack([boxes[..., 0], 1.0 - boxes[..., 3], boxes[..., 2],
                            1.0 - boxes[..., 1]], -1)
        boxes = tf.where(mirror[:, None, None], flipped, boxes)
    if jitter > 0:
        images = _jitter(images, jitter, seed)
    return images, boxes, classes


def _boxes_in_window(boxes, classes, starts, sizes):
    """Boxes in the coordinates of each image's crop window, clipped to it."""
    offset = tf.tile(starts, [1, 2])[:, None, :]
    stretch = tf.tile(sizes, [1, 2])[:, None, :]
    moved = (boxes - offset) / stretch
    clipped = tf.clip_by_value(moved, 0.0, 1.0)

    def area(b):
        return tf.maximum(b[..., 2] - b[..., 0], 0.0) * tf.maximum(b[..., 3] - b[..., 1], 0.0)

    visible = area(clipped) >= MIN_VISIBLE * tf.maximum(area(moved), 1e-9)
    keep = (classes >= 0) & visible & (area(clipped) > 0)
    return tf.where(keep[..., None], clipped, 0.0), tf.where(keep, classes, -1)


def _jitter(images, amount, seed):
    batch = tf.shape(images)[0]

    def draw():
        return tf.random.uniform([batch, 1, 1, 1], 1.0 - amount, 1.0 + amount, seed=seed)

    grey = tf.reduce_mean(images, -1, keepdims=True)
    images = grey + (images - grey) * draw()  # saturation
    mean = tf.reduce_mean(images, [1, 2, 3], keepdims=True)
    images = mean + (images - mean) * draw()  # contrast
    images = images * draw()  # brightness
    return tf.clip_by_value(images, 0.0, 255.0)
