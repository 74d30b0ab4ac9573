"""Transformer encoder: stacked pre-layer-norm blocks of multi-head self-attention."""

import math

import keras

from encoders.pooling import masked_pool
from encoders.registry import register
from encoders.tracking import CheckpointableLists

_POSITIONS = ("sinusoidal", "learned", "rotary")
_POOLINGS = ("mean", "max", "first", "last")


def sinusoidal_positions(length, width, dtype="float32", start=0):
    """``[length, width]`` position vectors of Vaswani et al. (2017) for positions ``start``
    on: sines on the first half of the features, cosines on the second, wavelengths from
    2 pi to 10000 * 2 pi."""
    ops = keras.ops
    angles = position_angles(length, (width + 1) // 2, start)
    table = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)[:, :width]
    return ops.cast(table, dtype)


def position_angles(length, count, start=0):
    """``[length, count]`` angles ``t * 10000 ** (-i / count)`` for positions t from
    ``start`` and frequencies i: the table behind sinusoidal and rotary positions."""
    ops = keras.ops
    rates = ops.exp(ops.arange(count, dtype="float32") * (-math.log(10000.0) / max(count, 1)))
    positions = ops.arange(length, dtype="float32") + ops.cast(start, "float32")
    return ops.expand_dims(positions, 1) * rates[None, :]


def rotate_by_position(x):
    """Rotary position embedding (Su et al. 2021) of ``[B, T, heads, size]`` projections:
    each pair of features ``(i, i + size / 2)`` turned by ``t * 10000 ** (-2i / size)``
    at position t, so a query-key product depends on their positions' difference only."""
    ops = keras.ops
    half = x.shape[-1] // 2
    angles = position_angles(ops.shape(x)[1], half)
    cos = ops.cast(ops.cos(angles), x.dtype)[None, :, None, :]
    sin = ops.cast(ops.sin(angles), x.dtype)[None, :, None, :]
    first, second = x[..., :half], x[..., half:]
    return ops.concatenate([first * cos - second * sin, first * sin + second * cos], axis=-1)


@keras.saving.register_keras_serializable(package="encore")
class RotaryAttention(keras.layers.MultiHeadAttention):
    """``keras.layers.MultiHeadAttention`` whose projected queries and keys are rotated by
    their positions (:func:`rotate_by_position`) before the dot products."""

    def _compute_attention(self, query, key, value, *args, **kwargs):
        return super()._compute_attention(rotate_by_position(query), rotate_by_position(key),
                                          value, *args, **kwargs)


@keras.saving.register_keras_serializable(package="encore")
@register("transformer")
class Transformer_Encoder(CheckpointableLists, keras.Model):
    """Stacked self-attention encoder over a sequence of vectors (Vaswani et al. 2017).

    The input vectors are projected to ``width`` and given positions; each block then adds
    ``MultiHeadAttention(LayerNorm(x))`` and ``FeedForward(LayerNorm(x))`` to its input
    (pre-layer-norm, as in GPT-2, which trains without a learning-rate warm-up), and a last
    layer norm closes the stack. Padded positions are never attended to, so what they hold
    changes nothing at real positions; with ``causal`` a position also never attends to a
    later one (a language model's encoder).

    Args:
        width: the model's vector size (``d_model``); a multiple of ``num_heads``.
        num_layers: stacked blocks.
        num_heads: attention heads per block, each of size ``width // num_heads``.
        feed_forward_width: the feed-forward layer's inner size (0 or None: ``4 * width``).
        dropout: on attention weights, on each block's residual branches and on the input.
        positions: ``"sinusoidal"`` (fixed, any length), ``"learned"`` (one trained vector
            per position, up to ``max_length``), both added to the input, or ``"rotary"``
            (queries and keys rotated by position in every attention layer; an even head
            size).
        max_length: the longest sequence ``"learned"`` positions cover.
        causal: position t attends only to positions up to t.
        pooling: how ``pooled`` summarises the sequence over real positions: ``"mean"``,
            ``"max"``, ``"first"`` (position 0) or ``"last"`` (the last real position;
            the whole prefix under ``causal``).
        activation: the feed-forward layer's activation.

    Call arguments:
        inputs: ``[B, T, D]`` floats.
        mask: optional ``[B, T]`` booleans, True at real positions.

    Returns:
        ``{"sequence": [B, T, width], "pooled": [B, width], "mask": [B, T]}``; ``sequence``
        is zero at padded positions.

    Example:
        >>> import numpy as np
        >>> enc = Transformer_Encoder(width=32, num_layers=2, num_heads=4)
        >>> out = enc(np.zeros((2, 5, 3), "float32"))
        >>> tuple(out["sequence"].shape), tuple(out["pooled"].shape)
        ((2, 5, 32), (2, 32))
    """

    def __init__(self, width=128, num_layers=2, num_heads=4, feed_forward_width=None,
                 dropout=0.1, positions="sinusoidal", max_length=512, causal=False,
                 pooling="mean", activation="gelu", **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        width, num_layers, num_heads = int(width), int(num_layers), int(num_heads)
        if width < 1 or num_layers < 1 or num_heads < 1:
            raise ValueError("width, num_layers and num_heads must be positive")
        if width % num_heads:
            raise ValueError(f"width ({width}) must be a multiple of num_heads ({num_heads})")
        if positions not in _POSITIONS:
            raise ValueError(f"positions must be one of {list(_POSITIONS)}, not {positions!r}")
        if positions == "rotary" and (width // num_heads) % 2:
            raise ValueError(f"rotary positions need an even head size, not {width // num_heads}")
        if pooling not in _POOLINGS:
            raise ValueError(f"pooling must be one of {list(_POOLINGS)}, not {pooling!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {dropout}")
        self.width = width
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.feed_forward_width = int(feed_forward_width or 4 * width)
        self.dropout = float(dropout)
        self.positions = positions
        self.max_length = int(max_length)
        self.causal = bool(causal)
        self.pooling = pooling
        self.activation = activation
        self.output_size = width
        self.input_projection = keras.layers.Dense(width, name="input_projection")
        self.position_embedding = (
            keras.layers.Embedding(self.max_length, width, name="position_embedding")
            if positions == "learned" else None)
        self.attention_norms, self.attention_layers = [], []
        self.feed_forward_norms, self.feed_forward_inner, self.feed_forward_outer = [], [], []
        attention = RotaryAttention if positions == "rotary" else keras.layers.MultiHeadAttention
        for i in range(num_layers):
            self.attention_norms.append(keras.layers.LayerNormalization(
                epsilon=1e-5, name=f"attention_norm_{i}"))
            self.attention_layers.append(attention(
                num_heads, width // num_heads, dropout=self.dropout, name=f"attention_{i}"))
            self.feed_forward_norms.append(keras.layers.LayerNormalization(
                epsilon=1e-5, name=f"feed_forward_norm_{i}"))
            self.feed_forward_inner.append(keras.layers.Dense(
                self.feed_forward_width, activation=activation, name=f"feed_forward_{i}"))
            self.feed_forward_outer.append(keras.layers.Dense(width, name=f"feed_forward_out_{i}"))
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.drop = keras.layers.Dropout(self.dropout)

    def _embed(self, inputs, training):
        ops = keras.ops
        x = self.input_projection(inputs)
        length = ops.shape(x)[1]
        if self.position_embedding is not None:
            x = x + self.position_embedding(ops.arange(length))[None]
        elif self.positions == "sinusoidal":
            x = x + sinusoidal_positions(length, self.width, x.dtype)[None]
        return self.drop(x, training=training)

    def attention_mask(self, mask):
        """``[B, T, T]`` booleans: query t may attend to key s (a real one; with ``causal``,
        also s <= t)."""
        ops = keras.ops
        length = ops.shape(mask)[1]
        allowed = ops.logical_and(ops.expand_dims(mask, 1),
                                  ops.ones((1, length, 1), dtype="bool"))
        if self.causal:
            steps = ops.arange(length)
            allowed = ops.logical_and(allowed, (steps[:, None] >= steps[None, :])[None])
        return allowed

    def _block(self, i, x, allowed, training, scores=False):
        normed = self.attention_norms[i](x)
        attended = self.attention_layers[i](normed, normed, attention_mask=allowed,
                                            return_attention_scores=scores, training=training)
        weights = None
        if scores:
            attended, weights = attended
        x = x + self.drop(attended, training=training)
        hidden = self.feed_forward_inner[i](self.feed_forward_norms[i](x))
        x = x + self.drop(self.feed_forward_outer[i](hidden), training=training)
        return x, weights

    def call(self, inputs, mask=None, training=None):
        ops = keras.ops
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        mask = ops.cast(mask, "bool")
        allowed = self.attention_mask(mask)
        x = self._embed(inputs, training)
        for i in range(self.num_layers):
            x = self._block(i, x, allowed, training)[0]
        keep = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        sequence = self.final_norm(x) * keep
        return {"sequence": sequence, "pooled": self._pool(sequence, mask), "mask": mask}

    def _pool(self, sequence, mask):
        ops = keras.ops
        if self.pooling in ("mean", "max"):
            return masked_pool(sequence, mask, self.pooling)
        if self.pooling == "first":
            return sequence[:, 0, :]
        # The last real position, picked by a one-hot weighting (no gather of a dynamic index).
        length = ops.shape(mask)[1]
        last = ops.max(ops.where(mask, ops.arange(length)[None, :], 0), axis=1)
        pick = ops.one_hot(last, length, dtype=sequence.dtype)
        return ops.sum(sequence * ops.expand_dims(pick, -1), axis=1)

    def attention_scores(self, inputs, mask=None, layer=-1):
        """Attention weights ``[B, heads, T, T]`` of one block (``layer``, from 0; -1 = the
        last) for ``inputs``, with dropout off; rows are queries, columns keys."""
        ops = keras.ops
        layer = range(self.num_layers)[layer]
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        allowed = self.attention_mask(ops.cast(mask, "bool"))
        x = self._embed(inputs, False)
        for i in range(layer + 1):
            x, weights = self._block(i, x, allowed, False, scores=i == layer)
        return weights

    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, num_layers=self.num_layers, num_heads=self.num_heads,
                      feed_forward_width=self.feed_forward_width, dropout=self.dropout,
                      positions=self.positions, max_length=self.max_length,
                      causal=self.causal, pooling=self.pooling, activation=self.activation)
        return config
