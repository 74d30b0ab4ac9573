"""The image classifier's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range


@dataclasses.dataclass
class ImageClassifierConfig(TrainConfig):
    """uint8 pixels -> scale to [0, 1] -> augmentation (training only) -> ``CNN_Encoder`` ->
    dense layers with dropout -> one logit per class (softmax, sparse cross-entropy).

    The defaults are the MNIST recipe: three 3x3 convolution blocks (32, 64, 128 filters,
    each with 2x2 max pooling), a 256-unit dense layer with dropout 0.4, random shifts of up
    to 10 % and rotations of up to ±7°, Adam with cosine decay from 2e-3 over 20 epochs of
    128 images. Batch norm is off by default: on this 2-core CPU it cost about 40 % more time
    per image and trained more slowly over the first epochs (``--set
    encoder.batch_norm=true`` turns it on; the Fashion-MNIST command in the README does).

    Attributes:
        encoder: a ``CNN_Encoder`` spec: a preset (``small``, ``lenet5``, ``vgg``, or a
            ``keras.applications`` backbone ``mobilenet_v2``, ``resnet50``,
            ``efficientnet_b0`` with ``weights`` ``imagenet``, a weights file or none) and
            any explicit arguments, e.g. ``--set encoder.filters=[64,128]``.
        hidden: sizes of the dense layers between the encoder's summary and the output.
        dropout: dropout after each hidden layer (or on the summary when there is none).
        augment_translation: random shift, as a fraction of height and width (0 = off).
        augment_rotation: random rotation, as a fraction of a full turn (0.03 = ±11°).
        augment_zoom: random zoom in or out by up to this fraction.
        augment_flip: ``""``, ``horizontal``, ``vertical`` or ``horizontal_and_vertical``.
        test_time_flip: at inference (evaluate, predict, the export) average the class
            scores of each image and its mirror images along the axes ``augment_flip`` names.
        lr_schedule: ``cosine`` (decay to 0 over ``epochs``) or ``constant``.
        warmup_epochs: linear warm-up from ``learning_rate / 10`` before the cosine decay.
        weight_decay: decoupled weight decay passed to the optimizer (0 = none).
        image_size: ``[height, width]`` that image-folder inputs are resized to
            ([] = the first training image's size).
        channels: 1 (grayscale) or 3 (RGB) for image folders (0 = 1 if every image is gray).
        class_names: display names for the classes, in label order (e.g. Fashion-MNIST's
            ``T-shirt/top``, ``Trouser``, ... for labels 0-9); [] = the labels themselves.
        dev_split: without ``--dev``, hold out this seeded fraction of ``--train`` as dev.
        init_from: a trained model directory whose encoder initialises this one
            (``--init-from``); its ``encoder`` (and a classifier's ``hidden``) options
            replace this run's, and a classifier with the same classes passes on its head.
        freeze_encoder: keep the initial encoder (from ``init_from`` or a backbone's
            pretrained weights) fixed and train the head only.
        fine_tune_learning_rate: the learning rate of a run that starts from ``init_from``
            or from a backbone's pretrained weights with the encoder trainable (lower than
            ``learning_rate``).
    """

    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "cnn", "preset": "small", "filters": [32, 64, 128], "batch_norm": False})
    hidden: list = dataclasses.field(default_factory=lambda: [256])
    dropout: float = 0.4
    augment_translation: float = 0.1
    augment_rotation: float = 0.02
    augment_zoom: float = 0.0
    augment_flip: str = ""
    test_time_flip: bool = False
    lr_schedule: str = "cosine"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    image_size: list = dataclasses.field(default_factory=list)
    channels: int = 0
    class_names: list = dataclasses.field(default_factory=list)
    dev_split: float = 0.1
    init_from: str = ""
    freeze_encoder: bool = False
    fine_tune_learning_rate: float = 1e-4
    batch_size: int = 128
    epochs: int = 20
    patience: int = 6
    learning_rate: float = 2e-3


FLIPS = ("", "horizontal", "vertical", "horizontal_and_vertical")


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "encoder.preset": Choice(("small", "lenet5", "vgg")),
    "encoder.dropout": Range(0.0, 0.3, step=0.1),
    "dropout": Range(0.2, 0.6, step=0.1),
    "augment_translation": Choice((0.0, 0.1)),
    "weight_decay": Choice((0.0, 1e-4)),
    "learning_rate": LEARNING_RATE,
    "batch_size": Choice((64, 128, 256)),
}
