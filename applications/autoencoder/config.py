"""The autoencoder's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice


@dataclasses.dataclass
class AutoencoderConfig(TrainConfig):
    """uint8 pixels -> scale to [0, 1] -> encoder -> ``code_dim`` numbers -> decoder ->
    sigmoid pixels; the loss is the mean squared error per pixel.

    Attributes:
        kind: ``conv`` (``CNN_Encoder`` with strided convolutions, mirrored by transposed
            convolutions) or ``dense`` (fully connected layers ``hidden``, mirrored).
        code_dim: size of the learned vector representation (the bottleneck).
        encoder: the ``CNN_Encoder`` spec of the ``conv`` kind; its convolutions must use
            ``same`` padding so the decoder can mirror them.
        hidden: dense layer sizes between the pixels and the code (``dense`` kind).
        image_size: ``[height, width]`` that image-folder inputs are resized to.
        channels: 1 or 3 for image folders (0 = from the data).
        dev_split: without ``--dev``, hold out this seeded fraction of ``--train`` as dev.
        lr_schedule: ``cosine`` (decay to 0 over ``epochs``) or ``constant``.
        warmup_epochs: linear warm-up from ``learning_rate / 10`` before the cosine decay.
        weight_decay: decoupled weight decay passed to the optimizer (0 = none).
    """

    kind: str = "conv"
    code_dim: int = 32
    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "cnn", "filters": [32, 64], "strides": 2, "pooling": None,
        "batch_norm": False, "summary": "flatten"})
    hidden: list = dataclasses.field(default_factory=lambda: [512, 128])
    image_size: list = dataclasses.field(default_factory=list)
    channels: int = 0
    dev_split: float = 0.1
    lr_schedule: str = "cosine"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 20
    patience: int = 5
    learning_rate: float = 2e-3


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "kind": Choice(("conv", "dense")),
    "code_dim": Choice((16, 32, 64)),
    "learning_rate": LEARNING_RATE,
    "batch_size": Choice((64, 128, 256)),
}
