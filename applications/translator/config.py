"""The translator's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range, transformer_space


@dataclasses.dataclass
class TranslatorConfig(TrainConfig):
    """Source embeddings -> RNN or Transformer encoder -> attention GRU decoder -> target words.

    Attributes:
        attention: ``luong`` (multiplicative, attends with the new decoder state) or
            ``bahdanau`` (additive, attends with the previous state and feeds the context
            into the GRU).
        score: Luong's score, ``general`` (``q . W h``) or ``dot`` (``q . h``; needs
            ``decoder_units`` equal to the encoder's output size).
        encoder: the ``RNN_Encoder``: ``cell`` ``gru`` or ``lstm``, ``nodes`` per layer; or
            ``{"name": "transformer", ...}``, a ``Transformer_Encoder``.
        decoder: ``{"name": "rnn"}``, the attention GRU that ``attention``, ``score``,
            ``decoder_units``, ``attention_units`` and ``output_dim`` shape; or
            ``{"name": "transformer", ...}``, a Transformer decoder (causal self-attention
            and cross-attention) whose ``width``, ``num_layers``, ``num_heads``,
            ``feed_forward_width`` and ``dropout`` default to a Transformer encoder's.
        embedding_dim: word embedding size, both sides (a Transformer decoder embeds the
            target words at its own width).
        decoder_units: the decoder GRU's state size.
        attention_units: Bahdanau's hidden size.
        output_dim: size of the ``tanh`` layer before the vocabulary scores.
        dropout: on embeddings and before the vocabulary scores.
        tie_embeddings: score target words with the target embedding matrix (fewer
            parameters; needs ``output_dim == embedding_dim``).
        label_smoothing: share of each target word's probability spread over the whole
            vocabulary in the loss (0 = plain cross-entropy; val_loss includes it too).
        scheduled_sampling: probability that a training step reads the model's own
            previous arg-max instead of the reference token (0 = pure teacher forcing,
            which is much faster: all steps are then computed at once where possible).
        lowercase_source, lowercase_target: lower-case a side before tokenising.
        min_count: words seen fewer times in training become ``<unk>``.
        max_vocab: at most this many words per side (0 = all).
        max_length: training pairs with a longer side (in tokens) are left out.
        reverse: tab-separated files hold ``target<TAB>source`` (``--reverse``).
        dev_split: without a dev set, hold out this seeded fraction of the training pairs.
        lr_decay: multiply the learning rate by this after an epoch whose ``val_loss`` did
            not improve (1 = never; needs a dev set).
        beam_size: the default beam (1 = greedy) of ``translate``, ``evaluate`` and ``serve``.
        length_penalty: ``alpha`` of the GNMT penalty ``((5 + length) / 6) ** alpha`` that
            divides a hypothesis' log-probability (0 = none; larger favours longer output).
        source_word_vectors, target_word_vectors: pretrained vectors files (GloVe /
            word2vec text, fastText ``.vec``, word2vec ``.bin``, optionally ``.gz``) that
            side's embedding starts from ("" = none); their size replaces ``embedding_dim``
            (and ``output_dim`` with ``tie_embeddings``). Words without a vector start at
            random.
        source_word_vectors_mode, target_word_vectors_mode: ``fine_tune`` (the vectors
            train), ``frozen`` (they stay fixed) or, source side only, ``multichannel`` (a
            fixed and a trained copy side by side, Kim 2014).
        source_word_vectors_extend_vocab: also take in the first N words of the source
            vectors file that training never saw, so inputs using them are not unknown.
    """

    attention: str = "luong"
    score: str = "general"
    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "rnn", "cell": "gru", "nodes": [256], "bidirectional": True})
    decoder: dict = dataclasses.field(default_factory=lambda: {"name": "rnn"})
    embedding_dim: int = 256
    decoder_units: int = 512
    attention_units: int = 256
    output_dim: int = 256
    dropout: float = 0.3
    tie_embeddings: bool = True
    label_smoothing: float = 0.1
    scheduled_sampling: float = 0.0
    lowercase_source: bool = True
    lowercase_target: bool = False
    min_count: int = 2
    max_vocab: int = 30000
    max_length: int = 60
    reverse: bool = False
    dev_split: float = 0.1
    lr_decay: float = 0.5
    beam_size: int = 5
    length_penalty: float = 1.0
    source_word_vectors: str = ""
    source_word_vectors_mode: str = "fine_tune"
    source_word_vectors_extend_vocab: int = 0
    target_word_vectors: str = ""
    target_word_vectors_mode: str = "fine_tune"
    batch_size: int = 64
    epochs: int = 20
    patience: int = 3
    learning_rate: float = 1e-3


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "attention": Choice(("luong", "bahdanau")),
    "encoder.name": Choice(("rnn", "transformer")),
    "encoder.cell": Choice(("gru", "lstm"), when=("encoder.name", ("rnn",))),
    "encoder.units": Choice((128, 256), when=("encoder.name", ("rnn",))),
    # No warm-up: it needs lr_decay=1, and the translator halves its rate on plateaus.
    **transformer_space(warmup=False),
    "decoder.name": Choice(("rnn", "transformer")),
    "embedding_dim": Choice((128, 256)),
    "decoder_units": Choice((256, 512)),
    "dropout": Range(0.1, 0.5, step=0.1),
    "learning_rate": LEARNING_RATE,
    "batch_size": Choice((32, 64, 128)),
}
