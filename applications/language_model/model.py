"""The language model: next-token prediction over characters or words on the shared base."""

import math

import keras

from applications.core.base import Application
from applications.language_model.pipeline import LEVELS, metadata_vocabulary
from encoders import build_encoder
from encoders.embeddings import word_embedding


@keras.saving.register_keras_serializable(package="encore")
class CrossEntropyScore(keras.metrics.Metric):
    """Mean cross-entropy over weighted tokens, reported as bits or as perplexity.

    Args:
        kind: ``"bits"`` (nats / ln 2: bits per character at the character level) or
            ``"perplexity"`` (exp of the mean nats).
        name: the metric's name in the logs.

    Example:
        >>> import numpy as np
        >>> score = CrossEntropyScore("perplexity")
        >>> score.update_state(np.array([[0]]), np.zeros((1, 1, 4), "float32"))
        >>> round(float(score.result()), 4)
        4.0
    """

    def __init__(self, kind="bits", name=None, **kwargs):
        if kind not in ("bits", "perplexity"):
            raise ValueError(f"kind must be 'bits' or 'perplexity', not {kind!r}")
        super().__init__(name=name or kind, **kwargs)
        self.kind = kind
        self.total_nats = self.add_variable(shape=(), initializer="zeros", name="total_nats")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        nats = ops.sparse_categorical_crossentropy(ops.cast(y_true, "int32"), y_pred,
                                                   from_logits=True)
        weight = (ops.ones_like(nats) if sample_weight is None
                  else ops.cast(sample_weight, nats.dtype))
        self.total_nats.assign_add(ops.sum(nats * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        mean = keras.ops.divide_no_nan(self.total_nats, self.count)
        return mean / math.log(2.0) if self.kind == "bits" else keras.ops.exp(mean)

    def reset_state(self):
        self.total_nats.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@keras.saving.register_keras_serializable(package="encore")
class LanguageModel(Application):
    """Predicts the next token at every position (the notes' many-to-many next-word case).

    Token ids ``[B, T]`` are embedded and read by a unidirectional ``RNN_Encoder`` (stacked
    GRU or LSTM) or a causal ``Transformer_Encoder`` (GPT-style; ``causal`` is set for it);
    a dense layer scores every vocabulary entry at every position. Training minimises the
    cross-entropy of the next token, in nats per token.

    :meth:`step` advances the recurrent state by one token, so text is generated one token
    at a time without re-reading the prefix; it runs the encoder's own cells and weights.
    A Transformer's state is its context window instead, read whole at each step.

    Args:
        config: ``LanguageModelConfig.to_dict()``.
        metadata: ``{"level": "char" | "word", "vocabulary": Vocabulary config}``.

    Example:
        >>> from applications.language_model.config import LanguageModelConfig
        >>> from applications.language_model.pipeline import make_metadata
        >>> from data import Vocabulary
        >>> meta = make_metadata("char", Vocabulary(list("ab\\n")))
        >>> model = LanguageModel(LanguageModelConfig().to_dict(), meta)
        >>> tuple(model(keras.ops.ones((2, 7), "int32")).shape)
        (2, 7, 5)
    """

    muon_adam_layers = ("next_token_scores",)

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        if metadata.get("level") not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {metadata.get('level')!r}")
        encoder = dict(config["encoder"])
        if encoder.get("name") not in ("rnn", "transformer"):
            raise ValueError("the language model needs encoder.name=rnn or transformer")
        if encoder["name"] == "transformer" and not encoder.setdefault("causal", True):
            raise ValueError("encoder.causal must be true: a language model may not read the "
                             "tokens it predicts")
        if encoder["name"] == "rnn" and encoder.setdefault("bidirectional", False):
            raise ValueError("encoder.bidirectional must be false: a language model may not "
                             "read the tokens it predicts")
        if int(config["window"]) < 1:
            raise ValueError(f"window must be positive, not {config['window']}")
        self.recurrent = encoder["name"] == "rnn"
        self.window = int(config["window"])
        self.level = metadata["level"]
        self.vocab_size = len(metadata_vocabulary(metadata))
        self.embedding = word_embedding(self.vocab_size, config["embedding_dim"],
                                        config.get("word_vectors_mode", "fine_tune"),
                                        bool(config.get("word_vectors")))
        self.encoder = build_encoder(encoder, layer_name="encoder")
        if getattr(self.encoder, "positions", None) == "learned" and (
                self.encoder.max_length < self.window):
            raise ValueError(f"encoder.max_length ({self.encoder.max_length}) must cover the "
                             f"window ({self.window}) with learned positions")
        # float32 scores under a mixed-precision policy too: generation's loops and the
        # losses read them as float32.
        self.head = keras.layers.Dense(self.vocab_size, name="next_token_scores",
                                       dtype="float32")

    def call(self, inputs, training=False):
        x = self.embedding(inputs)
        return self.head(self.encoder(x, training=training)["sequence"])

    def make_loss(self):
        # Mean over real tokens: the windows that fill a last batch have weight 0.
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight")

    def make_metrics(self):
        bits = "bits_per_char" if self.level == "char" else "bits_per_token"
        return [CrossEntropyScore("bits", name=bits), CrossEntropyScore("perplexity")]

    def state_sizes(self):
        """The size of every recurrent state tensor, layer by layer (LSTM layers have two)."""
        sizes = []
        for layer in self.encoder.forward_layers:
            size = layer.cell.state_size
            sizes.extend(size if isinstance(size, (list, tuple)) else [size])
        return sizes

    def initial_state(self, batch_size):
        """Recurrent: zero states. Transformer: an empty context window (``[B, window]`` ids,
        filled from the left) and how many tokens it holds (``[B]``)."""
        if not self.recurrent:
            return [keras.ops.zeros((batch_size, self.window), "int32"),
                    keras.ops.zeros((batch_size,), "int32")]
        return [keras.ops.zeros((batch_size, size), self.encoder.compute_dtype)
                for size in self.state_sizes()]

    def step(self, token_ids, states):
        """One token per row in (``[B]`` ids), next-token logits ``[B, V]`` and new states out."""
        if not self.recurrent:
            return self.window_step(token_ids, states)
        x = self.embedding(token_ids)
        new_states = []
        position = 0
        for layer in self.encoder.forward_layers:
            size = layer.cell.state_size
            count = len(size) if isinstance(size, (list, tuple)) else 1
            x, layer_states = layer.cell(x, states[position:position + count], training=False)
            new_states.extend(layer_states)
            position += count
        return self.head(x), new_states

    def window_step(self, token_ids, states):
        """:meth:`step` for a Transformer: append the token to the context window (the oldest
        token leaves a full one, so positions run 0..window-1 as in training) and read the
        whole window again. The window keeps one shape, so a traced loop never retraces; the
        causal encoder keeps the empty places after the last token from mattering."""
        ops = keras.ops
        context, count = states
        full = ops.expand_dims(count >= self.window, 1)
        context = ops.where(full, ops.pad(context[:, 1:], [[0, 0], [0, 1]]), context)
        count = ops.minimum(count + 1, self.window)
        here = ops.one_hot(count - 1, self.window, dtype="int32")
        context = context * (1 - here) + ops.expand_dims(ops.cast(token_ids, "int32"), 1) * here
        sequence = self.encoder(self.embedding(context), training=False)["sequence"]
        last = ops.sum(sequence * ops.expand_dims(ops.cast(here, sequence.dtype), -1), axis=1)
        return self.head(last), [context, count]

    def predict_raw(self, prompts, length=200, temperature=1.0, top_k=0, seed=None):
        """Generate a continuation of each prompt, as the ``generate`` command does.

        Args:
            prompts: one prompt (``str``; ``""`` starts a new text) or a list of them.
            length: tokens to generate (characters or words, by the model's level).
            temperature: softmax temperature; 0 picks the most likely token (greedy).
            top_k: draw only from the ``top_k`` most likely tokens (0: all).
            seed: seed of each prompt's generator, for reproducible samples.

        Returns:
            The generated text after each prompt (one ``str`` for a single prompt).

        Example:
            >>> lm = LanguageModel.load_model("runs/lm")  # doctest: +SKIP
            >>> lm.predict("The ", length=40, temperature=0.7, seed=1)  # doctest: +SKIP
            'king of the castle and the ...'
        """
        from applications.core.api import model_server, one_or_many
        from applications.language_model.serving import generate_texts

        server = model_server(self)
        return one_or_many(prompts, lambda batch: generate_texts(
            server, batch, length, temperature, top_k, seed))

    generate = predict_raw

    def attention_inputs(self, texts):
        """``(tokens, encoder, vectors, mask)``: what the encoder reads for the first
        ``window`` tokens of raw texts (:mod:`applications.core.attention_maps`)."""
        import tensorflow as tf

        from applications.core.api import model_server
        from applications.core.attention_maps import token_lists

        tokens, ids = model_server(self).encode(tf.constant(texts))
        tokens, ids = tokens[:, :self.window], ids[:, :self.window].to_tensor(0)
        return token_lists(tokens), self.encoder, self.embedding(ids), ids > 0

    def score(self, texts):
        """Nats per token of each text, as the ``predict`` command scores it.

        Returns ``{"nats_per_token": float, "tokens": int}`` per text (one for a ``str``).
        """
        from applications.core.api import model_server, one_or_many
        from applications.language_model.serving import score_texts

        serve = model_server(self).serve
        return one_or_many(texts, lambda batch: score_texts(serve, batch))

    def serving_module(self):
        from applications.language_model.serving import LanguageModelServer

        return LanguageModelServer(self)
