"""The detector's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range


@dataclasses.dataclass
class DetectorConfig(TrainConfig):
    """uint8 pixels -> scale to [0, 1] -> ``CNN_Encoder`` feature map -> a 3x3 and a 1x1
    convolution -> per grid cell and anchor ``[tx, ty, tw, th, objectness, class logits]``.

    A YOLO-style grid (not SSD's anchors at several scales): the encoder's last feature map
    is the grid, so any ``CNN_Encoder`` preset works unchanged, and one grid with a few
    anchor shapes from the training boxes covers the large, few objects per photo of data
    sets like the raccoon photos at a fraction of SSD's cost on a CPU.

    Attributes:
        encoder: a ``CNN_Encoder`` spec; its feature map (``"sequence"``) is the grid. The
            default, five 3x3 blocks each halving the size, turns 192 x 192 images into a
            6 x 6 grid.
        image_size: the side images are stretched to (square).
        anchors: anchor ``[width, height]`` fractions of the image; [] = ``anchor_count``
            shapes from k-means over the training boxes (distance 1 - IoU).
        anchor_count: the number of k-means anchors when ``anchors`` is empty.
        head_filters: filters of the 3x3 convolution between the encoder and the output.
        box_weight: weight of the box regression loss (YOLO's lambda_coord).
        ignore_iou: slots without a box whose anchor, centred in the cell, overlaps a box
            by more than this are left out of the objectness loss (0 = off).
        no_object_weight: weight of the objectness loss on slots without a box
            (YOLO's lambda_noobj).
        score_threshold: detections scoring less are dropped (predict, evaluate, export).
        iou_threshold: non-maximum suppression drops a box overlapping a better one by more.
        max_detections: the most boxes kept per image.
        per_class_nms: suppress overlapping boxes only within a class.
        augment_flip: mirror half of the training images left to right.
        augment_scale: crop windows of ``1 ± augment_scale`` times the image side (0 = off).
        augment_jitter: brightness, contrast and saturation jitter (0 = off).
        lr_schedule: ``cosine`` (decay to 0 over ``epochs``) or ``constant``.
        warmup_epochs: linear warm-up from ``learning_rate / 10`` before the decay.
        dev_split: without ``--dev``, hold out this seeded fraction of ``--train`` as dev,
            whose loss chooses the epoch kept (0 = train on everything and keep the epoch
            with the lowest training loss).
    """

    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "cnn", "filters": [16, 32, 64, 128, 256], "kernel_size": 3, "pooling": "max",
        "batch_norm": True, "summary": "global_avg"})
    image_size: int = 192
    anchors: list = dataclasses.field(default_factory=list)
    anchor_count: int = 3
    head_filters: int = 128
    box_weight: float = 5.0
    no_object_weight: float = 0.5
    ignore_iou: float = 0.5
    score_threshold: float = 0.01
    iou_threshold: float = 0.45
    max_detections: int = 50
    per_class_nms: bool = True
    augment_flip: bool = True
    augment_scale: float = 0.3
    augment_jitter: float = 0.2
    lr_schedule: str = "cosine"
    warmup_epochs: float = 2.0
    dev_split: float = 0.1
    batch_size: int = 16
    epochs: int = 80
    patience: int = 1000
    learning_rate: float = 2e-3


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
# Not the anchors: they are fixed with the data's metadata before the first trial.
SEARCH_SPACE = {
    "image_size": Choice((160, 192, 224)),
    "head_filters": Choice((64, 128, 256)),
    "augment_scale": Range(0.0, 0.4, step=0.1),
    "no_object_weight": Choice((0.25, 0.5, 1.0)),
    "learning_rate": LEARNING_RATE,
    "batch_size": Choice((8, 16, 32)),
}
