"""The text classifier's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range, transformer_space


@dataclasses.dataclass
class ClassifierConfig(TrainConfig):
    """Word embeddings -> encoder (pooled summary) -> dropout -> one score per label.

    Attributes:
        text_column: header name of the text column ("" = detect; ``--text-column``).
        label_columns: header names of the label columns ([] = detect; ``--label-columns``).
        task: ``auto`` (from the data: two values -> binary, more -> multiclass, several
            label columns -> multilabel), ``binary``, ``multiclass`` or ``multilabel``.
        max_length: texts are cut to this many tokens.
        max_vocab: keep this many most frequent training words (0 = all).
        min_word_count: words seen fewer times in training become ``<unk>``.
        embedding_dim: word embedding size.
        embedding_dropout: dropout on the word vectors.
        word_dropout: alpha of frequency-based word dropout: a training word seen c times
            is replaced by ``<unk>`` with probability alpha / (alpha + c), which trains the
            vector that words unseen in training get (0 = off).
        dropout: dropout on the encoder's pooled vector, before the output layer.
        adversarial_epsilon: size (L2 norm over a text's word vectors) of the adversarial
            move of the word vectors whose loss is added in training (0 = off; about 0.3
            for word vectors of norm ~0.5). Each step costs about two plain ones.
        encoder: by default a BiLSTM of 128 units each way whose outputs are max-pooled
            over the text; ``{"name": "cnn", "preset": "text"}`` for Kim 2014's CNN
            (widths 3, 4, 5 with max-over-time pooling; several times faster),
            ``{"name": "transformer"}`` for self-attention blocks (mean over real
            positions).
        dev_split: without ``--dev``, hold out this seeded fraction of ``--train`` as dev.
        word_vectors: a pretrained vectors file (GloVe / word2vec text, fastText ``.vec``,
            word2vec ``.bin``, optionally ``.gz``) the word embedding starts from; its size
            replaces ``embedding_dim``. Words without a vector start at random ("" = none).
        word_vectors_mode: ``fine_tune`` (the vectors train), ``frozen`` (they stay fixed)
            or ``multichannel`` (a fixed and a trained copy side by side, Kim 2014).
        word_vectors_extend_vocab: also take in the first N words of the vectors file that
            training never saw, so texts using them are not out of vocabulary.
    """

    text_column: str = ""
    label_columns: list = dataclasses.field(default_factory=list)
    task: str = "auto"
    max_length: int = 400
    max_vocab: int = 50000
    min_word_count: int = 1
    embedding_dim: int = 128
    embedding_dropout: float = 0.4
    word_dropout: float = 0.0
    dropout: float = 0.5
    adversarial_epsilon: float = 0.0
    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "rnn", "cell": "lstm", "nodes": [128], "bidirectional": True, "pooling": "max"})
    ema_momentum: float = 0.99
    dev_split: float = 0.1
    word_vectors: str = ""
    word_vectors_mode: str = "fine_tune"
    word_vectors_extend_vocab: int = 0
    batch_size: int = 32
    epochs: int = 10
    patience: int = 3


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "encoder.name": Choice(("rnn", "cnn", "transformer")),
    "encoder.preset": Choice(("text",), when=("encoder.name", ("cnn",))),
    "encoder.filters": Choice((50, 100, 200), when=("encoder.name", ("cnn",))),
    "encoder.bidirectional": Choice((True, False), when=("encoder.name", ("rnn",))),
    "encoder.cell": Choice(("lstm", "gru"), when=("encoder.name", ("rnn",))),
    "encoder.units": Choice((32, 64, 128), when=("encoder.name", ("rnn",))),
    "encoder.pooling": Choice(("max", "last"), when=("encoder.name", ("rnn",))),
    **transformer_space(),
    "embedding_dim": Choice((64, 128, 256)),
    "dropout": Range(0.0, 0.6, step=0.1),
    "learning_rate": LEARNING_RATE,
    "optimizer": Choice(("adam", "rmsprop")),
    "batch_size": Choice((16, 32, 64)),
}
