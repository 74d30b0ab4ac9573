"""An attention decoder: a GRU that attends over encoder states, Bahdanau or Luong style.

The translator reads source words with it and the captioner an image's grid of CNN features;
:mod:`encoders.search` drives it for greedy and beam search.

Training with teacher forcing feeds the reference's previous token at every step, so the
work that does not depend on the previous *decoder state* is done for all steps at once,
outside the recurrent loop: the embedding, the GRU's input projection, and (Luong) the
attention and output layer. Only what must be sequential stays inside the loop:

- Luong (global attention, no input feeding): the GRU reads the previous token; attention
  uses the new state. The loop holds one matmul per step.
- Bahdanau: attention uses the *previous* state and its context is an input of the GRU, so
  the loop holds the attention and the GRU update.

:meth:`AttentionDecoder.step` is the same computation for one step; decoding and scheduled
sampling use it, and the tests check it gives the teacher-forced logits.
"""

import keras
import tensorflow as tf

from encoders.attention import BahdanauAttention, LuongAttention

ATTENTIONS = ("bahdanau", "luong")


def gru_update(input_gates, state, recurrent):
    """One GRU step (reset gate after the recurrent matmul, as Keras' default GRU).

    ``input_gates`` is the input already projected to ``[B, 3H]`` (update, reset, candidate);
    ``recurrent`` is the ``Dense(3H)`` applied to the previous state.
    """
    x_z, x_r, x_h = tf.split(input_gates, 3, axis=-1)
    h_z, h_r, h_h = tf.split(recurrent(state), 3, axis=-1)
    update = tf.sigmoid(x_z + h_z)
    reset = tf.sigmoid(x_r + h_r)
    candidate = tf.tanh(x_h + reset * h_h)
    return update * state + (1.0 - update) * candidate


def time_major(x):
    return tf.transpose(x, [1, 0] + list(range(2, len(x.shape))))


def batch_major(x):
    return time_major(x)


@keras.saving.register_keras_serializable(package="encore")
class AttentionDecoder(keras.layers.Layer):
    """GRU decoder with Bahdanau (additive) or Luong (multiplicative) attention.

    Args:
        vocab_size: target vocabulary size (id 0 is padding).
        embedding_dim: target embedding size.
        units: GRU state size.
        attention: ``"bahdanau"`` or ``"luong"``.
        score: Luong's score, ``"general"`` or ``"dot"`` (dot needs ``units`` equal to the
            encoder state size).
        attention_units: Bahdanau's hidden size.
        output_dim: size of the layer before the vocabulary scores (Luong's attentional
            state ``tanh(W [h; c])``, Bahdanau's ``tanh(W [s; c; y])``).
        dropout: on target embeddings and before the vocabulary scores.
        tie_embeddings: score the vocabulary with the target embedding matrix (Press & Wolf
            2017) instead of a separate one; needs ``output_dim == embedding_dim``.

    Example:
        >>> import numpy as np
        >>> decoder = AttentionDecoder(10, 8, 16, attention="bahdanau")
        >>> memory = decoder.prepare(np.ones((2, 5, 12), "float32"), np.ones((2, 12), "float32"),
        ...                          np.ones((2, 5), bool))
        >>> logits, weights = decoder.teacher_forced(np.ones((2, 3), "int32"), memory)
        >>> tuple(logits.shape), tuple(weights.shape)
        ((2, 3, 10), (2, 3, 5))
    """

    def __init__(self, vocab_size, embedding_dim, units, attention="luong", score="general",
                 attention_units=256, output_dim=256, dropout=0.0, tie_embeddings=False,
                 **kwargs):
        super().__init__(**kwargs)
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {attention!r}")
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.attention_name = attention
        self.score = score
        self.attention_units = int(attention_units)
        self.output_dim = int(output_dim)
        self.dropout = float(dropout)
        self.tie_embeddings = bool(tie_embeddings)
        if self.tie_embeddings and self.output_dim != self.embedding_dim:
            raise ValueError(f"tied embeddings need output_dim ({self.output_dim}) equal to "
                             f"embedding_dim ({self.embedding_dim})")
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embedding_dim,
                                                name="target_embedding")
        self.embedding_dropout = keras.layers.Dropout(self.dropout)
        self.bridge = keras.layers.Dense(self.units, activation="tanh", name="bridge")
        self.input_gates = keras.layers.Dense(3 * self.units, name="input_gates")
        self.recurrent = keras.layers.Dense(3 * self.units, name="recurrent_gates")
        if attention == "bahdanau":
            self.attention = BahdanauAttention(self.attention_units, name="attention")
            self.context_gates = keras.layers.Dense(3 * self.units, use_bias=False,
                                                    name="context_gates")
        else:
            self.attention = LuongAttention(score, units=self.units, name="attention")
        self.combine = keras.layers.Dense(self.output_dim, activation="tanh", name="combine")
        self.output_dropout = keras.layers.Dropout(self.dropout)
        if self.tie_embeddings:
            self.score_bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros",
                                              name="score_bias")
        else:
            self.scores = keras.layers.Dense(self.vocab_size, name="token_scores")

    def prepare(self, values, summary, mask, feed=None):
        """The per-sentence memory: encoder states, their keys, mask and initial state.

        ``feed`` ``[B, Ts, F]`` (Bahdanau only): what the GRU reads of each step's
        attention is ``weights @ feed`` instead of the context ``weights @ values``; the
        word scores still read the context. With ``feed`` a one-hot position code, the
        state remembers where the decoder looked but not what it saw there, so every word
        about the input has to come from that step's attention. None: the context.
        """
        memory = {"values": values, "keys": self.attention.prepare(values),
                  "mask": tf.cast(mask, tf.bool), "state": self.bridge(summary)}
        if feed is not None:
            memory["feed"] = tf.convert_to_tensor(feed, values.dtype)
        return memory

    @staticmethod
    def _fed(context, weights, memory):
        """What the GRU reads of one step's attention (see :meth:`prepare`)."""
        if "feed" not in memory:
            return context
        return tf.einsum("bs,bsf->bf", weights, memory["feed"])

    def _embed(self, ids, training):
        return self.embedding_dropout(self.embedding(ids), training=training)

    def _logits(self, features, training):
        features = self.output_dropout(self.combine(features), training=training)
        if not self.tie_embeddings:
            return self.scores(features)
        # _embed ran first on every path, so the embedding matrix exists. Cast: a search
        # calls step() outside a layer call, where Keras casts no variables by itself.
        matrix = tf.cast(self.embedding.embeddings, features.dtype)
        return (tf.matmul(features, matrix, transpose_b=True)
                + tf.cast(self.score_bias, features.dtype))

    def teacher_forced(self, target_in, memory, training=False):
        """Logits ``[B, T, V]`` and attention weights ``[B, T, Ts]`` for reference inputs."""
        embedded = self._embed(target_in, training)
        gates = time_major(self.input_gates(embedded))
        values, keys, mask = memory["values"], memory["keys"], memory["mask"]
        if self.attention_name == "luong":
            states = tf.scan(lambda h, x: gru_update(x, h, self.recurrent), gates,
                             initializer=memory["state"])
            states = batch_major(states)
            context, weights = self.attention.attend(states, keys, values, mask)
            return self._logits(tf.concat([states, context], -1), training), weights

        def one_step(carry, x):
            previous = carry[0]
            context, weights = self.attention.attend(previous, keys, values, mask)
            fed = self._fed(context, weights, memory)
            state = gru_update(x + self.context_gates(fed), previous, self.recurrent)
            return state, context, weights

        batch = tf.shape(values)[0]
        start = (memory["state"], tf.zeros([batch, values.shape[-1]], values.dtype),
                 tf.zeros(tf.shape(mask), values.dtype))
        states, contexts, weights = (batch_major(t) for t in tf.scan(one_step, gates, start))
        features = tf.concat([states, contexts, embedded], -1)
        return self._logits(features, training), weights

    def step(self, token_ids, state, memory, training=False):
        """One decoding step: previous tokens ``[N]`` -> logits ``[N, V]``, state, weights."""
        embedded = self._embed(token_ids, training)
        gates = self.input_gates(embedded)
        values, keys, mask = memory["values"], memory["keys"], memory["mask"]
        if self.attention_name == "luong":
            state = gru_update(gates, state, self.recurrent)
            context, weights = self.attention.attend(state, keys, values, mask)
            features = tf.concat([state, context], -1)
        else:
            context, weights = self.attention.attend(state, keys, values, mask)
            fed = self._fed(context, weights, memory)
            state = gru_update(gates + self.context_gates(fed), state, self.recurrent)
            features = tf.concat([state, context, embedded], -1)
        return self._logits(features, training), state, tf.cast(weights, tf.float32)

    def scheduled_sampling(self, target_in, memory, ratio, training=True, seed=None):
        """Logits ``[B, T, V]`` where each step after the first reads, with probability
        ``ratio``, the model's own previous arg-max instead of the reference token."""
        inputs = time_major(target_in)
        coins = tf.random.uniform(tf.shape(inputs), seed=seed) < ratio
        coins = tf.concat([tf.zeros_like(coins[:1]), coins[1:]], axis=0)

        def one_step(carry, elems):
            state, previous_guess = carry[0], carry[1]
            reference, coin = elems
            token = tf.where(coin, previous_guess, reference)
            logits, state, _ = self.step(token, state, memory, training=training)
            guess = tf.argmax(logits, axis=-1, output_type=reference.dtype)
            return state, tf.stop_gradient(guess), logits

        batch = tf.shape(target_in)[0]
        start = (memory["state"], inputs[0],
                 tf.zeros([batch, self.vocab_size], memory["values"].dtype))
        _, _, logits = tf.scan(one_step, (inputs, coins), start)
        return batch_major(logits)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim, "units": self.units,
                "attention": self.attention_name, "score": self.score,
                "attention_units": self.attention_units, "output_dim": self.output_dim,
                "dropout": self.dropout, "tie_embeddings": self.tie_embeddings}
