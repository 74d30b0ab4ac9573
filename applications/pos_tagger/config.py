"""The tagger's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range, transformer_space


@dataclasses.dataclass
class TaggerConfig(TrainConfig):
    """Word embeddings + a character encoder per word -> sentence encoder -> tag softmax.

    Attributes:
        tag_column: CoNLL-U column to learn, ``upos`` or ``xpos``.
        word_dim: word embedding size (lower-cased forms).
        char_dim: character embedding size.
        char_encoder: encoder over each word's characters (its pooled vector is used); by
            default a 1-D CNN of 64 filters of width 3, max-pooled.
        encoder: sentence encoder over the word vectors (its sequence output is used); by
            default three 1-D convolutions of 128 filters of width 3 (each word sees three
            words either side), e.g. ``{"name": "rnn", "cell": "lstm", "nodes": [128, 128],
            "bidirectional": True}`` for a BiLSTM or ``{"name": "transformer"}`` for a
            ``Transformer_Encoder`` (rotary positions unless the run sets ``positions``).
        embedding_dropout: dropout on the concatenated word and character vectors.
        word_dropout: alpha of frequency-based word dropout: a training word seen c times is
            replaced by ``<unk>`` with probability alpha / (alpha + c), so the unknown-word
            vector is learned and rare words lean on their characters (Kiperwasser &
            Goldberg 2016; Plank et al. 2016). With 1.0 a word seen once is dropped half the
            time and one seen 9 times a tenth; on UD English EWT this lifted dev accuracy
            from 94.96 % (0.25) to 95.36 %, mostly on unseen words (README results).
        batch_tokens: cap on a training batch's tokens, padding included (0 = none): a
            bucket of sentences padded to length L takes ``min(batch_size, batch_tokens // L)``
            of them, so a batch of long sentences needs no more memory than a full batch of
            32-token ones (development batches: four times the sentences, twice the tokens).
        adversarial_epsilon: L2 length (over a sentence's token vectors) of the adversarial
            move whose loss is added in training (0 = off); each step costs about two.
        max_sentence_tokens: a training, dev or evaluation sentence longer than this is
            refused with its file and line (a file missing its blank lines would otherwise
            be one sentence as long as the file).
        word_vectors: a pretrained vectors file (GloVe / word2vec text, fastText ``.vec``,
            word2vec ``.bin``, optionally ``.gz``) the word embedding starts from; its size
            replaces ``word_dim``. Words without a vector start at random ("" = none).
        word_vectors_mode: ``fine_tune`` (the vectors train), ``frozen`` (they stay fixed)
            or ``multichannel`` (a fixed and a trained copy side by side, Kim 2014).
        dev_split: without ``--dev``, this seeded fraction of the training sentences is held
            out as dev to choose the best epoch and stop early (0 = none: every epoch runs
            and the last is kept).
        word_vectors_extend_vocab: also take in the first N words of the vectors file that
            training never saw, so sentences using them are not out of vocabulary.
    """

    tag_column: str = "upos"
    word_dim: int = 100
    char_dim: int = 32
    char_encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "cnn", "mode": "1d", "filters": [64], "kernel_sizes": [3]})
    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "cnn", "mode": "1d", "filters": [128, 128, 128], "kernel_sizes": [3],
        "dropout": 0.3})
    embedding_dropout: float = 0.3
    word_dropout: float = 1.0
    adversarial_epsilon: float = 0.0
    min_word_count: int = 1
    batch_size: int = 64
    batch_tokens: int = 2048
    max_sentence_tokens: int = 1000
    dev_split: float = 0.1
    word_vectors: str = ""
    word_vectors_mode: str = "fine_tune"
    word_vectors_extend_vocab: int = 0
    learning_rate: float = 2e-3
    ema_momentum: float = 0.99
    epochs: int = 50
    patience: int = 8

    # A Transformer sentence encoder tags better with rotary positions than with sinusoidal
    # ones (EWT dev, 10-minute budget, seeds 1 and 2; benchmarks/RESULTS.md row 40).
    ENCODER_RECIPES = {"transformer": {"encoder": {"positions": "rotary"}}}


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "encoder.name": Choice(("cnn", "rnn", "transformer")),
    "encoder.cell": Choice(("lstm", "gru"), when=("encoder.name", ("rnn",))),
    "encoder.bidirectional": Choice((True, False), when=("encoder.name", ("rnn",))),
    "encoder.units": Choice((64, 128, 256), when=("encoder.name", ("cnn", "rnn"))),
    "encoder.layers": Choice((1, 2, 3), when=("encoder.name", ("cnn", "rnn"))),
    **transformer_space(dropout=False),
    "encoder.dropout": Range(0.0, 0.5, step=0.1),
    "char_encoder.units": Choice((32, 64)),
    "word_dim": Choice((64, 100, 128)),
    "embedding_dropout": Range(0.0, 0.5, step=0.1),
    "learning_rate": LEARNING_RATE,
    "optimizer": Choice(("adam", "nadam", "rmsprop")),
    "batch_size": Choice((16, 32, 64)),
}
