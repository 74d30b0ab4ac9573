"""The detector: a ``CNN_Encoder`` feature map plus a convolutional YOLO-style head."""

import os

import keras
import tensorflow as tf

from applications.core.base import Application
from applications.core.optimizers import make_scheduled_optimizer
from applications.detector import boxes as box_ops
from encoders import build_encoder


@keras.saving.register_keras_serializable(package="encore")
class DetectionLoss(keras.losses.Loss):
    """The YOLO loss per image, summed over grid slots (Redmon et al. 2016; v2's anchors).

    For ``y_true`` from :func:`~applications.detector.boxes.assign_targets` and raw outputs
    ``y_pred [B, G, G, A, 5 + K]``:

    - objectness: binary cross-entropy on the objectness logit of every slot, weighted
      1 where a box is assigned, ``no_object_weight`` where the target is 0 and 0 where
      it is -1 (ignored);
    - box: ``box_weight`` times the squared error of ``sigmoid(tx), sigmoid(ty), tw, th``
      against the targets, on assigned slots only;
    - class: sparse softmax cross-entropy of the class logits, on assigned slots only.

    Args:
        box_weight: the box term's weight (YOLO's lambda_coord).
        no_object_weight: the weight of empty slots' objectness (YOLO's lambda_noobj).
    """

    def __init__(self, box_weight=5.0, no_object_weight=0.5, name="detection_loss",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.box_weight = float(box_weight)
        self.no_object_weight = float(no_object_weight)

    def call(self, y_true, y_pred):
        return detection_loss(y_true, y_pred, self.box_weight, self.no_object_weight)

    def get_config(self):
        return {**super().get_config(), "box_weight": self.box_weight,
                "no_object_weight": self.no_object_weight}


def detection_loss(y_true, y_pred, box_weight=5.0, no_object_weight=0.5):
    """The per-image loss ``[B]`` that :class:`DetectionLoss` describes."""
    y_true = tf.cast(y_true, tf.float32)
    y_pred = tf.cast(y_pred, tf.float32)
    positive = tf.cast(y_true[..., box_ops.OBJECT] > 0.5, tf.float32)
    negative = tf.cast(tf.equal(y_true[..., box_ops.OBJECT], 0.0), tf.float32)
    objectness = tf.nn.sigmoid_cross_entropy_with_logits(labels=positive,
                                                         logits=y_pred[..., 4])
    weights = positive + no_object_weight * negative  # ignored slots (-1) weigh 0
    target = y_true[..., box_ops.BOX]
    predicted = tf.concat([tf.sigmoid(y_pred[..., 0:2]), y_pred[..., 2:4]], -1)
    box = tf.reduce_sum(tf.square(predicted - target), -1)
    labels = tf.cast(y_true[..., box_ops.CLASS], tf.int32)
    classes = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                             logits=y_pred[..., 5:])
    per_slot = weights * objectness + positive * (box_weight * box + classes)
    return tf.reduce_sum(tf.reshape(per_slot, [tf.shape(per_slot)[0], -1]), -1)


@keras.saving.register_keras_serializable(package="encore")
class Detector(Application):
    """Finds and classifies objects in images with one network pass (single-shot).

    The model takes ``uint8`` pixels ``[B, S, S, 3]`` and returns the raw grid
    ``[B, G, G, A, 5 + K]``: per cell and anchor shape ``tx, ty, tw, th``, an objectness
    logit and ``K`` class logits (see :mod:`applications.detector.boxes` for the encoding).
    :meth:`detect` decodes the boxes and runs non-maximum suppression in the graph; the
    ``predict`` and ``evaluate`` commands and the export all go through it.

    Args:
        config: ``DetectorConfig.to_dict()``.
        metadata: ``{"class_names", "anchors", "max_boxes", "train_examples"}``.

    Example:
        >>> import numpy as np
        >>> from applications.detector.config import DetectorConfig
        >>> meta = {"class_names": ["cat"], "anchors": [[0.5, 0.5]], "max_boxes": 2,
        ...         "train_examples": 10}
        >>> model = Detector(DetectorConfig(image_size=64).to_dict(), meta)
        >>> tuple(model(np.zeros((1, 64, 64, 3), "uint8")).shape)
        (1, 2, 2, 1, 6)
    """

    monitor = ("val_loss", "min")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        self.anchors = [list(map(float, a)) for a in metadata["anchors"]]
        self.class_names = list(metadata["class_names"])
        self.encoder = build_encoder(config["encoder"], layer_name="encoder")
        # Batch norm and a leaky ReLU (YOLO's): with a plain ReLU most head units died
        # within the first epochs on the raccoon photos.
        self.neck = [keras.layers.Conv2D(config["head_filters"], 3, padding="same",
                                         use_bias=False, name="head_conv"),
                     keras.layers.BatchNormalization(name="head_norm"),
                     keras.layers.LeakyReLU(0.1, name="head_activation")]
        slots = len(self.anchors) * (5 + len(self.class_names))
        # Objectness starts near 0.01 (bias -4.6): nearly every slot is empty, and an even
        # start would spend the first epochs unlearning that (RetinaNet's prior).
        bias = [0.0] * slots
        for a in range(len(self.anchors)):
            bias[a * (5 + len(self.class_names)) + 4] = -4.6
        self.head = keras.layers.Conv2D(slots, 1, name="grid_outputs",
                                        bias_initializer=keras.initializers.Constant(bias))

    def call(self, inputs, training=False):
        x = keras.ops.cast(inputs, "float32") / 255.0
        features = self.encoder(x, training=training)["sequence"]
        for layer in self.neck:
            features = layer(features, training=training)
        out = self.head(features)
        shape = keras.ops.shape(out)
        return keras.ops.reshape(out, (shape[0], shape[1], shape[2], len(self.anchors),
                                       5 + len(self.class_names)))

    def detect(self, pixels):
        """Detections for ``uint8 [B, S, S, 3]`` pixels, boxes in [0, 1] coordinates
        (see :func:`~applications.detector.boxes.suppress` for the outputs)."""
        outputs = self(pixels, training=False)
        batch = tf.shape(outputs)[0]
        candidates = tf.reshape(box_ops.decode_boxes(outputs, self.anchors), [batch, -1, 4])
        scores = tf.reshape(box_ops.detection_scores(outputs),
                            [batch, -1, len(self.class_names)])
        config = self.config
        return box_ops.suppress(candidates, scores, config["max_detections"],
                                config["iou_threshold"], config["score_threshold"],
                                config["per_class_nms"])

    def recalibrate_batch_norm(self, images, batch_size=32):
        """Set every batch-norm layer's moving mean and variance to the average of its batch
        statistics over ``images`` (``uint8 [N, S, S, 3]``, un-augmented), in order.

        The moving averages kept during training trail weights that are still changing and
        describe augmented images; on the raccoon photos a model scored VOC AP50 0.31 on its
        own training images with them and 0.89 with batch statistics. Averaging over one
        pass of clean images after training ("precise BN", Wu & Johnson 2021) closes that gap
        without making predictions depend on the batch.
        """
        layers = [layer for layer in self._flatten_layers()
                  if isinstance(layer, keras.layers.BatchNormalization)]
        kept = [layer.momentum for layer in layers]
        try:
            for step, start in enumerate(range(0, len(images), batch_size)):
                for layer in layers:  # momentum k / (k + 1): the mean of the k + 1 batches
                    layer.momentum = step / (step + 1)
                self(images[start:start + batch_size], training=True)
        finally:
            for layer, momentum in zip(layers, kept):
                layer.momentum = momentum

    def make_loss(self):
        return DetectionLoss(self.config["box_weight"], self.config["no_object_weight"])

    def make_optimizer(self):
        return make_scheduled_optimizer(self, self.config["learning_rate"])

    def find(self, images):
        """Detections in image files or arrays, as the ``predict`` command gives them.

        Args:
            images: an image file path or a list of them (PNG, JPEG, GIF, BMP).

        Returns:
            Per image a list of ``{"class", "score", "box": [xmin, ymin, xmax, ymax]}`` in
            the image's own pixels (one list for a single path).
        """
        from applications.core.api import model_server
        from applications.detector.serving import detections_in_files

        single = isinstance(images, (str, os.PathLike))
        found = detections_in_files(model_server(self).serve, [images] if single else images)
        return found[0] if single else found

    predict_raw = find

    def serving_module(self):
        from applications.detector.serving import DetectorServer

        return DetectorServer(self)
