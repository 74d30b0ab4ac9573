"""The captioner's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range


@dataclasses.dataclass
class CaptionerConfig(TrainConfig):
    """uint8 pixels -> scale to [0, 1] -> ``CNN_Encoder`` feature grid ``[h, w, c]`` -> ``h*w``
    positions (plus a learned position vector each) -> attention GRU decoder -> words.

    The defaults fit small, simple images on a CPU: five 3x3 convolution blocks with 2x2
    max pooling (a 96x96 image becomes a 3x3 grid of 64 features, one position per 32x32
    region), a 128-unit Bahdanau decoder (the attended context feeds the GRU, so the state
    remembers where it has looked), captions of at most 24 words. A training batch encodes
    each image once for all its captions.

    Attributes:
        encoder: a 2-D ``CNN_Encoder`` spec: any preset and explicit arguments (e.g.
            ``--set encoder.preset=vgg``); its last feature map is the attended grid.
        attention: ``luong`` (attends with the new decoder state) or ``bahdanau``
            (additive, attends with the previous state, as in Show, Attend and Tell).
        score: Luong's score, ``general`` or ``dot``.
        position_embedding: add a learned vector to each grid position, so the decoder
            knows where a feature lies (left of, above) and not only what it shows.
        feed: what the decoder's GRU reads of each step's attention: ``context`` (the
            attended features, as in Show, Attend and Tell) or ``where`` (only the
            attention weights: the state remembers where the decoder looked, not what it
            saw there, so each word about an object has to come from attention on it).
            Bahdanau only (Luong's GRU reads no attention).
        state_from_image: start the decoder from the mean of the grid (Show, Attend and
            Tell); off, every image starts from one learned state, so the decoder learns
            all it says about the image through attention, which then looks at the
            objects it names.
        embedding_dim: word embedding size.
        decoder_units: the decoder GRU's state size.
        attention_units: Bahdanau's hidden size.
        output_dim: size of the ``tanh`` layer before the word scores.
        dropout: on word embeddings and before the word scores.
        tie_embeddings: score words with the embedding matrix (needs ``output_dim ==
            embedding_dim``).
        scheduled_sampling: probability that a training step reads the model's own
            previous arg-max instead of the reference word (0 = teacher forcing only).
        min_count: caption words seen fewer times become ``<unk>``.
        max_vocab: at most this many words (0 = all).
        max_length: captions longer than this (in words) are left out of training; the
            decoder stops after ``max_length + 1`` steps.
        captions_per_image: captions of each image in a training step, its features
            computed once for all of them; which ones rotates from epoch to epoch.
        image_size: ``[height, width]`` that images are resized to ([] = the first
            training image's size).
        channels: 1 (gray) or 3 (RGB); 0 = 1 if every training image is gray.
        dev_split: without ``--dev``, hold out this seeded fraction of the training images.
        lr_schedule: ``constant`` or ``cosine`` (decay to 0 over ``epochs``; on the
            Fashion-MNIST canvases it scored lower: attention had not yet learned where to
            look when the rate fell).
        warmup_epochs: linear warm-up from ``learning_rate / 10`` before the cosine decay.
        weight_decay: decoupled weight decay passed to the optimizer (0 = none).
        beam_size: the default beam of ``evaluate``, ``predict`` and ``serve`` (1 = greedy).
        length_penalty: GNMT length penalty alpha (0 = none).
    """

    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "cnn", "preset": "small", "filters": [16, 32, 64, 64, 64], "batch_norm": False,
        "summary": "global_avg"})
    attention: str = "bahdanau"
    score: str = "general"
    position_embedding: bool = True
    feed: str = "where"
    state_from_image: bool = False
    embedding_dim: int = 64
    decoder_units: int = 128
    attention_units: int = 128
    output_dim: int = 128
    dropout: float = 0.1
    tie_embeddings: bool = False
    scheduled_sampling: float = 0.0
    min_count: int = 1
    max_vocab: int = 10000
    max_length: int = 24
    captions_per_image: int = 1
    image_size: list = dataclasses.field(default_factory=list)
    channels: int = 0
    dev_split: float = 0.05
    lr_schedule: str = "constant"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    beam_size: int = 1
    length_penalty: float = 0.0
    batch_size: int = 64
    epochs: int = 15
    patience: int = 3
    learning_rate: float = 2e-3


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "attention": Choice(("luong", "bahdanau")),
    "encoder.preset": Choice(("small", "vgg")),
    "embedding_dim": Choice((64, 128)),
    "decoder_units": Choice((128, 256, 512)),
    "dropout": Range(0.0, 0.4, step=0.1),
    "scheduled_sampling": Choice((0.0, 0.1, 0.25)),
    "learning_rate": LEARNING_RATE,
    "batch_size": Choice((32, 64, 128)),
}
