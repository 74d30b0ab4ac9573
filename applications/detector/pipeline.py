"""From annotation files to the detector's batches: pixels, and targets on the grid."""

import os

import numpy as np
import tensorflow as tf

from applications.core import progress
from applications.core.config import UsageError
from applications.detector import boxes as box_ops
from applications.detector.augment import augment_batch
from applications.detector.sample_data import CLASSES, sample_sets
from data.detection_annotations import read_annotations
from data.detection_sets import class_names_of, detection_set
from data.epoch_order import epoch_permutation, epoch_pipeline_options
from data.splits import held_out_split
from encoders import build_encoder


def images_folder(annotations, images):
    """``--images``, or by default the ``images`` folder beside the annotations (a VOC
    ``annotations/`` folder or a CSV file), else the annotations' own folder."""
    if images:
        if not os.path.isdir(images):
            raise UsageError(f"--images {images}: no such folder")
        return images
    parent = os.path.dirname(os.path.abspath(annotations.rstrip("/\\")))
    beside = os.path.join(parent, "images")
    return beside if os.path.isdir(beside) else parent


def read_set(path, images, size, class_names=None):
    """``(DetectionSet, its class names, annotated images)`` from an annotation file or
    VOC folder; ``class_names`` None takes the classes found in the file (training)."""
    with progress.stage(f"reading {progress.file_label(path)}", unit="images") as step:
        annotated = read_annotations(path, images_folder(path, images))
        names = class_names if class_names is not None else class_names_of(annotated)
        data = detection_set(annotated, size, names, source=path)
        step.count = len(data)
    return data, names, annotated


def read_train_and_dev(args, config, metadata=None):
    """``(train, dev or None, class names)`` for ``train``: ``--train`` (+ ``--dev`` or
    ``dev_split``) or the embedded scenes. Every file is read and checked here."""
    size = config.image_size
    known = None if metadata is None else metadata["class_names"]
    if not args.train:
        if args.dev:
            raise UsageError("--dev goes with --train")
        train, dev = sample_sets(size)
        return train, dev, list(CLASSES)
    train, names, _ = read_set(args.train, args.images, size, known)
    dev = None
    if args.dev:
        dev, _, _ = read_set(args.dev, args.images, size, names)
    elif config.dev_split > 0:
        kept, held = held_out_split(len(train), config.dev_split, config.seed)
        progress.held_out(args.train, len(held), len(train), "images", config.dev_split,
                          config.seed)
        if len(held):  # a few images may hold out none: no dev then
            train, dev = train.subset(kept), train.subset(held)
    return train, dev, names


def grid_size(config):
    """The side G of the encoder's feature map for ``image_size`` inputs."""
    spec = dict(config.encoder)
    if spec.get("name") != "cnn":
        raise UsageError(f"the detector's encoder must be the image encoder cnn, not "
                         f"{spec.get('name')!r}")
    encoder = build_encoder(spec)
    side = config.image_size
    features = encoder(np.zeros((1, side, side, 3), np.float32))["sequence"]
    if len(features.shape) != 4 or features.shape[1] != features.shape[2]:
        raise UsageError(f"the encoder must give a square 2-D feature map, not "
                         f"{tuple(features.shape)}")
    return int(features.shape[1])


def detection_batches(data, config, grid, anchors, training, order=None):
    """``tf.data`` batches ``(pixels [B, S, S, 3], targets [B, G, G, A, 6])``.

    Training batches are shuffled by ``order`` (a :class:`~data.epoch_order.EpochOrder`)
    and augmented (:func:`~applications.detector.augment.augment_batch`) before the boxes
    are assigned to the grid, so the targets follow the moved boxes.
    """
    pixels, boxes, classes = (tf.constant(a) for a in (data.images, data.boxes, data.classes))
    if training:
        ds = epoch_permutation(len(data), config.seed, order)
    else:
        ds = tf.data.Dataset.range(len(data))
    batch_size = config.batch_size if training else max(config.batch_size, 64)
    ds = ds.batch(batch_size)
    anchors = tf.constant(anchors, tf.float32)

    def gather(index):
        images, found, ids = (tf.gather(t, index) for t in (pixels, boxes, classes))
        if training:
            images, found, ids = augment_batch(images, found, ids, config.augment_scale,
                                               config.augment_flip, config.augment_jitter)
        return images, box_ops.assign_targets(found, ids, grid, anchors, config.ignore_iou)

    ds = ds.map(gather)
    options = epoch_pipeline_options()
    options.threading.private_threadpool_size = 1
    return ds.prefetch(2).with_options(options)
