"""The language model's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range, transformer_space


@dataclasses.dataclass
class LanguageModelConfig(TrainConfig):
    """Token embedding -> unidirectional RNN or causal Transformer -> next-token softmax.

    Attributes:
        level: ``"char"`` (every Unicode character, newlines included, is a token) or
            ``"word"`` (words and punctuation marks, plus one ``"\\n"`` token per line).
        window: tokens per training window; the text is cut into contiguous windows and
            each position predicts the token that follows it.
        embedding_dim: token embedding size.
        encoder: an ``RNN_Encoder`` spec, which must not be bidirectional (a language
            model may not read the future), or ``{"name": "transformer", ...}``, a
            ``Transformer_Encoder`` made causal (GPT-style); generation then reads the last
            ``window`` tokens again at every step.
        dev_fraction: share of the training file, taken from its end, used for validation
            when no ``--dev`` is given (0 = no validation).
        max_vocab: largest word vocabulary, most frequent first (word level only; 0 = every
            word).
        min_count: least count of a word to enter the vocabulary (word level only).
        word_vectors: a pretrained vectors file (GloVe / word2vec text, fastText ``.vec``,
            word2vec ``.bin``, optionally ``.gz``) the token embedding starts from (word
            level only); its size replaces ``embedding_dim``. Words without a vector
            start at random ("" = none).
        word_vectors_mode: ``fine_tune`` (the vectors train), ``frozen`` (they stay fixed)
            or ``multichannel`` (a fixed and a trained copy side by side, Kim 2014).
        word_vectors_extend_vocab: also take in the first N words of the vectors file that
            training never saw, so text using them is not out of vocabulary.
        format: ``"text"``, ``"abc"`` (tunes in ABC notation, character level: windows
            stay inside a tune and validation is a seeded ``dev_fraction`` of the tunes) or
            ``"auto"`` (ABC for a ``.abc`` file or a folder of them).
        cross_tunes: let ABC training windows run from one tune into the next.
        steps_per_epoch: 0 = an epoch is one pass over the training text in contiguous
            windows; N = an epoch is N batches of windows starting at random places (plain
            text only), so dev is scored, the best model kept and the time budget checked
            every N updates.
    """

    level: str = "char"
    window: int = 128
    embedding_dim: int = 64
    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "rnn", "cell": "gru", "nodes": [256, 256], "bidirectional": False,
        "dropout": 0.1})
    dev_fraction: float = 0.1
    max_vocab: int = 20000
    min_count: int = 1
    word_vectors: str = ""
    word_vectors_mode: str = "fine_tune"
    word_vectors_extend_vocab: int = 0
    format: str = "auto"
    cross_tunes: bool = False
    steps_per_epoch: int = 0
    batch_size: int = 64
    learning_rate: float = 2e-3
    epochs: int = 20
    patience: int = 3

    # A causal Transformer learns characters fastest on a CPU in many small updates: short
    # windows, small batches, weight decay (AdamW's, 0.1) in place of dropout (whose random
    # masks cost a third of a step), XLA, ten updates per graph call, an epoch of 250
    # updates so the time budget and early stopping act often, (with a time budget) the
    # rate annealed over the budget's wall-clock time, and a moving average of the weights
    # whose momentum warms up to 0.999, so short runs average recent weights too.
    ENCODER_RECIPES = {"transformer": {
        "window": 64, "batch_size": 16, "steps_per_epoch": 250, "epochs": 200,
        "steps_per_execution": 10,
        "patience": 8, "optimizer": "adamw", "weight_decay": 0.1, "beta_2": 0.99,
        "ema_momentum": 0.999, "ema_warmup": True,
        "jit_compile": "true", "budget_anneal": True, "encoder": {"dropout": 0.0}}}


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "encoder.name": Choice(("rnn", "transformer")),
    "encoder.cell": Choice(("gru", "lstm"), when=("encoder.name", ("rnn",))),
    "encoder.units": Choice((128, 256, 512), when=("encoder.name", ("rnn",))),
    "encoder.layers": Choice((1, 2, 3), when=("encoder.name", ("rnn",))),
    **transformer_space(dropout=False),
    "encoder.dropout": Range(0.0, 0.3, step=0.1),
    "embedding_dim": Choice((32, 64, 128)),
    "learning_rate": LEARNING_RATE,
    "batch_size": Choice((32, 64, 128)),
}
