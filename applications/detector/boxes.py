"""Box geometry of the YOLO-style grid, in TensorFlow ops: IoU, the grid and anchor
assignment of training boxes, the box encoding and its inverse, and non-maximum suppression.

Boxes are ``[ymin, xmin, ymax, xmax]`` fractions of the image. The detector's output is a
``G x G`` grid with ``A`` anchor shapes per cell; each (cell, anchor) slot predicts
``[tx, ty, tw, th, objectness, class logits...]``. A box is the responsibility of the cell
holding its centre and of the anchor whose shape (width, height) overlaps it best; its
target is ``tx, ty`` = the centre's offset inside that cell (in [0, 1]) and
``tw, th = log(w / anchor_w), log(h / anchor_h)`` (YOLOv2, Redmon & Farhadi 2017).
"""

import numpy as np
import tensorflow as tf

# Target channels per slot: objectness, class id, then the four box numbers.
OBJECT, CLASS, BOX = 0, 1, slice(2, 6)
TARGET_CHANNELS = 6
MAX_LOG_SCALE = 4.0  # exp(4) = 55 anchor widths: keeps an untrained model's boxes finite


def box_iou(a, b):
    """Intersection over union of every box in ``a [..., N, 4]`` with every box in
    ``b [..., M, 4]`` (``[ymin, xmin, ymax, xmax]``): ``[..., N, M]``.

    Example:
        >>> iou = box_iou(tf.constant([[0., 0., 2., 2.]]), tf.constant([[1., 1., 3., 3.]]))
        >>> round(float(iou[0, 0]), 4)  # overlap 1, union 7
        0.1429
    """
    a = tf.convert_to_tensor(a, tf.float32)[..., :, None, :]
    b = tf.convert_to_tensor(b, tf.float32)[..., None, :, :]
    top = tf.maximum(a[..., 0], b[..., 0])
    left = tf.maximum(a[..., 1], b[..., 1])
    bottom = tf.minimum(a[..., 2], b[..., 2])
    right = tf.minimum(a[..., 3], b[..., 3])
    inter = tf.maximum(bottom - top, 0.0) * tf.maximum(right - left, 0.0)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / tf.maximum(area_a + area_b - inter, 1e-9)


def shape_iou(sizes, anchors):
    """IoU of ``(w, h)`` shapes ``[..., 2]`` with anchor shapes ``[A, 2]``, both centred at
    the same point: ``[..., A]``."""
    sizes = tf.convert_to_tensor(sizes, tf.float32)[..., None, :]
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    inter = tf.reduce_prod(tf.minimum(sizes, anchors), -1)
    return inter / (tf.reduce_prod(sizes, -1) + tf.reduce_prod(anchors, -1) - inter)


def prior_boxes(grid, anchors):
    """``[G, G, A, 4]``: each anchor shape centred in each cell, ``[ymin, xmin, ymax, xmax]``."""
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    g = tf.cast(grid, tf.float32)
    centres = (tf.cast(tf.range(grid), tf.float32) + 0.5) / g
    cy = tf.reshape(centres, [-1, 1, 1])
    cx = tf.reshape(centres, [1, -1, 1])
    half_w, half_h = anchors[:, 0] / 2, anchors[:, 1] / 2
    return tf.stack([cy - half_h + 0 * cx, cx - half_w + 0 * cy,
                     cy + half_h + 0 * cx, cx + half_w + 0 * cy], -1)


def assign_targets(boxes, classes, grid, anchors, ignore_iou=0.0):
    """Training targets ``[B, G, G, A, 6]`` for padded boxes.

    Args:
        boxes: ``float32 [B, M, 4]`` ``[ymin, xmin, ymax, xmax]`` in [0, 1].
        classes: ``int32 [B, M]``; -1 marks padding (and boxes cropped away).
        grid: the grid side G.
        anchors: ``[A, 2]`` anchor ``(width, height)`` as fractions of the image.
        ignore_iou: a slot without a box whose prior (its anchor centred in its cell)
            overlaps a box by more than this gets objectness target -1: neither object nor
            background, left out of the loss (0 = off). Large objects cover many cells
            whose features look alike; calling all but one of them background fights the
            one that is not.

    Returns:
        Per slot ``[objectness (1 / 0 / -1 ignored), class id, tx, ty, tw, th]``; zeros
        where no box is assigned. Two boxes given the same slot keep one of them.
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    classes = tf.convert_to_tensor(classes, tf.int32)
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    batch = tf.shape(boxes)[0]
    valid = classes >= 0
    where = tf.cast(tf.where(valid), tf.int32)  # [n, 2]: (image, box)
    picked = tf.gather_nd(boxes, where)
    centre_y = (picked[:, 0] + picked[:, 2]) / 2
    centre_x = (picked[:, 1] + picked[:, 3]) / 2
    height = picked[:, 2] - picked[:, 0]
    width = picked[:, 3] - picked[:, 1]
    g = tf.cast(grid, tf.float32)
    row = tf.clip_by_value(tf.cast(tf.floor(centre_y * g), tf.int32), 0, grid - 1)
    col = tf.clip_by_value(tf.cast(tf.floor(centre_x * g), tf.int32), 0, grid - 1)
    anchor = tf.argmax(shape_iou(tf.stack([width, height], -1), anchors), -1,
                       output_type=tf.int32)
    chosen = tf.gather(anchors, anchor)
    values = tf.stack([
        tf.ones_like(centre_x), tf.cast(tf.gather_nd(classes, where), tf.float32),
        centre_x * g - tf.cast(col, tf.float32), centre_y * g - tf.cast(row, tf.float32),
        tf.math.log(width / chosen[:, 0]), tf.math.log(height / chosen[:, 1])], -1)
    index = tf.stack([where[:, 0], row, col, anchor], -1)
    shape = tf.stack([batch, grid, grid, tf.shape(anchors)[0], TARGET_CHANNELS])
    targets = tf.tensor_scatter_nd_update(tf.zeros(shape, tf.float32), index, values)
    if ignore_iou <= 0:
        return targets
    priors = tf.reshape(prior_boxes(grid, anchors), [-1, 4])
    overlap = box_iou(priors[None], boxes)  # [B, G*G*A, M]
    overlap = tf.where(valid[:, None, :], overlap, 0.0)
    near = tf.reshape(tf.reduce_max(overlap, -1) > ignore_iou, tf.shape(targets)[:4])
    objectness = targets[..., OBJECT]
    objectness = tf.where(near & (objectness == 0), -1.0, objectness)
    return tf.concat([objectness[..., None], targets[..., 1:]], -1)


def decode_boxes(outputs, anchors):
    """Boxes ``[B, G, G, A, 4]`` (``[ymin, xmin, ymax, xmax]``) from the raw grid outputs
    ``[B, G, G, A, 5 + K]``: the inverse of :func:`assign_targets`' encoding, with ``tx, ty``
    through a sigmoid."""
    outputs = tf.convert_to_tensor(outputs, tf.float32)
    grid = tf.shape(outputs)[1]
    g = tf.cast(grid, tf.float32)
    steps = tf.cast(tf.range(grid), tf.float32)
    cols = tf.reshape(steps, [1, 1, -1, 1])
    rows = tf.reshape(steps, [1, -1, 1, 1])
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    centre_x = (cols + tf.sigmoid(outputs[..., 0])) / g
    centre_y = (rows + tf.sigmoid(outputs[..., 1])) / g
    width = anchors[:, 0] * tf.exp(tf.minimum(outputs[..., 2], MAX_LOG_SCALE))
    height = anchors[:, 1] * tf.exp(tf.minimum(outputs[..., 3], MAX_LOG_SCALE))
    return tf.stack([centre_y - height / 2, centre_x - width / 2,
                     centre_y + height / 2, centre_x + width / 2], -1)


def detection_scores(outputs):
    """``[B, G, G, A, K]``: objectness probability times each class's probability."""
    outputs = tf.convert_to_tensor(outputs, tf.float32)
    return tf.sigmoid(outputs[..., 4:5]) * tf.nn.softmax(outputs[..., 5:], -1)


def suppress(boxes, scores, max_detections, iou_threshold, score_threshold, per_class=True):
    """Non-maximum suppression over a batch, in the graph.

    Args:
        boxes: ``[B, N, 4]`` candidate boxes in [0, 1] coordinates.
        scores: ``[B, N, K]`` class scores of each candidate.
        max_detections: the most boxes kept per image.
        iou_threshold: a box overlapping a kept, higher-scoring one by more is dropped.
        score_threshold: candidates scoring less are dropped first.
        per_class: suppress within each class only (a box and a box of another class never
            suppress each other); otherwise each candidate keeps its best class and any
            two boxes compete.

    Returns:
        ``{"boxes": [B, D, 4] clipped to [0, 1], "scores": [B, D], "classes": int32 [B, D],
        "count": int32 [B]}``, best first, padded with zeros (class -1) past ``count``.
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    scores = tf.convert_to_tensor(scores, tf.float32)
    classes_count = tf.shape(scores)[2]
    if per_class:
        # Every (box, class) pair is a candidate; shifting each class's boxes by 2 * class
        # puts the classes on disjoint parts of the plane, so one NMS call keeps them apart.
        batch, count = tf.shape(boxes)[0], tf.shape(boxes)[1]
        class_ids = tf.tile(tf.range(classes_count)[None, None, :], [batch, count, 1])
        candidates = tf.repeat(boxes, classes_count, axis=1)
        class_ids = tf.reshape(class_ids, [batch, -1])
        scores = tf.reshape(scores, [batch, -1])
        shifted = candidates + 2.0 * tf.cast(class_ids, tf.float32)[..., None]
    else:
        class_ids = tf.argmax(scores, -1, output_type=tf.int32)
        scores = tf.reduce_max(scores, -1)
        candidates = shifted = boxes
    def one_image(args):
        # tf.image.non_max_suppression is one C++ kernel; non_max_suppression_padded
        # builds a large graph (6-10 s to trace here, every time a model is served).
        kept = tf.image.non_max_suppression(
            args[0], args[1], max_detections, iou_threshold=float(iou_threshold),
            score_threshold=float(score_threshold))
        count = tf.shape(kept)[0]
        return tf.pad(kept, [[0, max_detections - count]]), count

    kept, count = tf.map_fn(one_image, (shifted, scores), fn_output_signature=(
        tf.TensorSpec([max_detections], tf.int32), tf.TensorSpec([], tf.int32)))
    real = tf.range(max_detections)[None, :] < count[:, None]
    out_boxes = tf.clip_by_value(tf.gather(candidates, kept, batch_dims=1), 0.0, 1.0)
    return {"boxes": tf.where(real[..., None], out_boxes, 0.0),
            "scores": tf.where(real, tf.gather(scores, kept, batch_dims=1), 0.0),
            "classes": tf.where(real, tf.gather(class_ids, kept, batch_dims=1), -1),
            "count": count}


def anchor_shapes(boxes, classes, count, seed=0, rounds=30):
    """``count`` anchor ``(width, height)`` shapes from training boxes: k-means with
    distance ``1 - IoU`` (YOLOv2), sorted by area.

    Args:
        boxes: ``[N, M, 4]`` training boxes in [0, 1]; classes ``[N, M]`` (-1 = padding).
        count: the number of anchors A.
    """
    keep = np.asarray(classes) >= 0
    picked = np.asarray(boxes)[keep]
    sizes = np.stack([picked[:, 3] - picked[:, 1], picked[:, 2] - picked[:, 0]], -1)
    if len(sizes) == 0:
        sizes = np.array([[0.5, 0.5]])
    rng = np.random.default_rng(seed)
    centres = sizes[rng.choice(len(sizes), count, replace=len(sizes) < count)]
    for _ in range(rounds):
        nearest = np.asarray(shape_iou(sizes, centres)).argmax(-1)
        centres = np.stack([sizes[nearest == k].mean(0) if (nearest == k).any() else centres[k]
                            for k in range(count)])
    order = np.argsort(centres.prod(-1))
    return [[round(float(w), 4), round(float(h), 4)] for w, h in centres[order]]
