"""A Transformer decoder: causal self-attention, cross-attention, feed-forward.

It has :class:`~encoders.seq_decoder.AttentionDecoder`'s interface (``prepare``,
``teacher_forced``, ``step``), so greedy and beam search in
:mod:`encoders.search` drive either one. Its decoding state is a key-value cache: for every
block, the self-attention keys and values of the ids fed so far (``[B, t, heads, size]``,
growing by one position a step), so a step projects only the new id and attends over the
cache, giving what teacher forcing gives at that position. :meth:`search_memory` projects the
encoder states into every block's cross-attention keys and values once per search instead
of once per step.
"""

import keras
import tensorflow as tf

from encoders.tracking import CheckpointableLists
from encoders.transformer_encoder import sinusoidal_positions


@keras.saving.register_keras_serializable(package="encore")
class TransformerDecoder(CheckpointableLists, keras.layers.Layer):
    """Pre-layer-norm Transformer decoder blocks over target embeddings (Vaswani et al. 2017).

    Args:
        vocab_size: target vocabulary size (id 0 is padding).
        width: the decoder's vector size (also the target embedding size).
        num_layers: stacked blocks.
        num_heads: attention heads (self- and cross-attention).
        feed_forward_width: inner size of each feed-forward layer (0 or None: 4 * width).
        dropout: on embeddings, attention weights and residual branches.
        tie_embeddings: score the vocabulary with the target embedding matrix.

    Example:
        >>> import numpy as np
        >>> decoder = TransformerDecoder(10, width=8, num_layers=1, num_heads=2)
        >>> memory = decoder.prepare(np.ones((2, 5, 12), "float32"), None, np.ones((2, 5), bool))
        >>> logits, weights = decoder.teacher_forced(np.ones((2, 3), "int32"), memory)
        >>> tuple(logits.shape), tuple(weights.shape)
        ((2, 3, 10), (2, 3, 5))
    """

    def __init__(self, vocab_size, width=128, num_layers=2, num_heads=4,
                 feed_forward_width=None, dropout=0.1, tie_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.width = int(width)
        self.num_layers = int(num_layers)
        self.num_heads = int(num_heads)
        if self.width < 1 or self.num_layers < 1 or self.num_heads < 1:
            raise ValueError("width, num_layers and num_heads must be positive")
        if self.width % self.num_heads:
            raise ValueError(f"width ({width}) must be a multiple of num_heads ({num_heads})")
        self.feed_forward_width = int(feed_forward_width or 4 * self.width)
        self.dropout = float(dropout)
        self.tie_embeddings = bool(tie_embeddings)
        key_dim = self.width // self.num_heads
        self.embedding = keras.layers.Embedding(self.vocab_size, self.width,
                                                name="target_embedding")
        self.self_norms, self.self_attentions = [], []
        self.cross_norms, self.cross_attentions = [], []
        self.feed_forward_norms, self.feed_forward_inner, self.feed_forward_outer = [], [], []
        for i in range(self.num_layers):
            self.self_norms.append(keras.layers.LayerNormalization(epsilon=1e-5,
                                                                   name=f"self_norm_{i}"))
            self.self_attentions.append(keras.layers.MultiHeadAttention(
                self.num_heads, key_dim, dropout=self.dropout, name=f"self_attention_{i}"))
            self.cross_norms.append(keras.layers.LayerNormalization(epsilon=1e-5,
                                                                    name=f"cross_norm_{i}"))
            self.cross_attentions.append(keras.layers.MultiHeadAttention(
                self.num_heads, key_dim, dropout=self.dropout, name=f"cross_attention_{i}"))
            self.feed_forward_norms.append(keras.layers.LayerNormalization(
                epsilon=1e-5, name=f"feed_forward_norm_{i}"))
            self.feed_forward_inner.append(keras.layers.Dense(
                self.feed_forward_width, activation="gelu", name=f"feed_forward_{i}"))
            self.feed_forward_outer.append(keras.layers.Dense(self.width,
                                                              name=f"feed_forward_out_{i}"))
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.drop = keras.layers.Dropout(self.dropout)
        if self.tie_embeddings:
            self.score_bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros",
                                              name="score_bias")
        else:
            self.scores = keras.layers.Dense(self.vocab_size, name="token_scores")

    def prepare(self, values, summary, mask):
        """The per-sentence memory: encoder states, their mask, and an empty key-value
        cache as the decoding state (``summary`` is not used)."""
        values = tf.convert_to_tensor(values)
        empty = tf.zeros(tf.stack([tf.shape(values)[0], 0, self.num_heads,
                                   self.width // self.num_heads]), self.compute_dtype)
        return {"values": values, "mask": tf.cast(mask, tf.bool),
                "state": {"keys": [empty] * self.num_layers,
                          "values": [empty] * self.num_layers}}

    def search_memory(self, memory):
        """``memory`` with every block's cross-attention keys and values of the encoder
        states, which steps then read instead of projecting the states again."""
        values = memory["values"]
        # Steps call the attention layers' projections directly, so build any layer that
        # has not run yet (a model searched before any forward pass).
        for layer in self.self_attentions:
            if not layer.built:
                layer.build((None, 1, self.width), (None, 1, self.width))
        for layer in self.cross_attentions:
            if not layer.built:
                layer.build((None, 1, self.width), tuple(values.shape))
        return {**memory,
                "cross_keys": [layer._key_dense(values) for layer in self.cross_attentions],
                "cross_values": [layer._value_dense(values) for layer in self.cross_attentions]}

    def features(self, target_in, memory, training=False):
        """Final vectors ``[B, T, width]`` and the last block's cross-attention weights
        ``[B, T, Ts]`` (the mean over heads) for target ids ``[B, T]``."""
        x = self.embedding(target_in)
        length = tf.shape(x)[1]
        x = self.drop(x + sinusoidal_positions(length, self.width, x.dtype)[None],
                      training=training)
        values = memory["values"]
        cross_mask = tf.logical_and(memory["mask"][:, None, :],
                                    tf.ones(tf.stack([1, length, 1]), tf.bool))
        weights = None
        for i in range(self.num_layers):
            normed = self.self_norms[i](x)
            attended = self.self_attentions[i](normed, normed, use_causal_mask=True,
                                               training=training)
            x = x + self.drop(attended, training=training)
            last = i == self.num_layers - 1
            attended = self.cross_attentions[i](
                self.cross_norms[i](x), values, attention_mask=cross_mask,
                return_attention_scores=last, training=training)
            if last:
                attended, scores = attended
                weights = tf.reduce_mean(scores, axis=1)
            x = x + self.drop(attended, training=training)
            hidden = self.feed_forward_inner[i](self.feed_forward_norms[i](x))
            x = x + self.drop(self.feed_forward_outer[i](hidden), training=training)
        return self.final_norm(x), weights

    def _logits(self, features):
        if not self.tie_embeddings:
            return self.scores(features)
        matrix = tf.cast(self.embedding.embeddings, features.dtype)
        return (tf.matmul(features, matrix, transpose_b=True)
                + tf.cast(self.score_bias, features.dtype))

    def teacher_forced(self, target_in, memory, training=False):
        """Logits ``[B, T, V]`` and cross-attention weights ``[B, T, Ts]``."""
        features, weights = self.features(target_in, memory, training)
        return self._logits(features), weights

    def step(self, token, state, memory):
        """Feed one id per row (``[B]``); logits ``[B, V]``, the cache with the id's keys
        and values added, and the step's cross-attention weights ``[B, Ts]`` (the last
        block's, the mean over heads). Every row advances one position per step."""
        if "cross_keys" not in memory:
            memory = self.search_memory(memory)
        position = tf.shape(state["keys"][0])[1]
        x = self.embedding(tf.cast(token, tf.int32))[:, None]
        x = x + sinusoidal_positions(1, self.width, x.dtype, start=position)[None]
        cross_mask = memory["mask"][:, None, :]
        keys, values = [], []
        for i in range(self.num_layers):
            layer, normed = self.self_attentions[i], self.self_norms[i](x)
            keys.append(tf.concat([state["keys"][i], layer._key_dense(normed)], axis=1))
            values.append(tf.concat([state["values"][i], layer._value_dense(normed)], axis=1))
            x = x + _attend(layer, normed, keys[i], values[i])[0]
            attended, scores = _attend(self.cross_attentions[i], self.cross_norms[i](x),
                                       memory["cross_keys"][i], memory["cross_values"][i],
                                       cross_mask, scores=i == self.num_layers - 1)
            x = x + attended
            hidden = self.feed_forward_inner[i](self.feed_forward_norms[i](x))
            x = x + self.feed_forward_outer[i](hidden)
        logits = self._logits(self.final_norm(x)[:, 0])
        weights = tf.cast(tf.reduce_mean(scores, axis=1)[:, 0], tf.float32)
        return logits, {"keys": keys, "values": values}, weights

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, width=self.width,
                      num_layers=self.num_layers, num_heads=self.num_heads,
                      feed_forward_width=self.feed_forward_width, dropout=self.dropout,
                      tie_embeddings=self.tie_embeddings)
        return config


def _attend(layer, query, keys, values, mask=None, scores=False):
    """``layer`` (a ``keras.layers.MultiHeadAttention``) attending from ``query`` over keys
    and values it has already projected; ``(output, weights [B, heads, T, S] or None)``."""
    output, weights = layer._compute_attention(layer._query_dense(query), keys, values,
                                               mask, False, scores)
    return layer._output_dense(output), weights
