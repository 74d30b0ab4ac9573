"""Recurrent encoder: stacked SimpleRNN / GRU / LSTM layers, optionally bidirectional."""

import keras

from encoders.pooling import masked_pool
from encoders.registry import register
from encoders.tracking import CheckpointableLists
from encoders.weights import kernel_penalty, resolve_initializer

_CELLS = {"simple": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
_POOLINGS = ("last", "max", "mean")


@keras.saving.register_keras_serializable(package="encore")
@register("rnn")
class RNN_Encoder(CheckpointableLists, keras.Model):
    """Stacked recurrent encoder over a sequence of vectors.

    Args:
        nodes: units per stacked layer, one entry per layer (per direction when bidirectional).
        cell: ``"gru"`` (the default), ``"lstm"`` or ``"simple"``.
        bidirectional: run each layer forwards and backwards and concatenate.
        dropout: dropout rate applied to each layer's output.
        pooling: how ``pooled`` summarises the sequence: ``"last"`` (the final states),
            ``"max"`` or ``"mean"`` (over the last layer's outputs at real positions).
        initializer: the input kernels' initialiser: ``auto`` (Keras' Glorot uniform),
            ``glorot``, ``he``, ``lecun`` or a Keras name; recurrent kernels stay orthogonal.
        l1: L1 penalty on the input and recurrent kernels (0 = none).
        l2: L2 penalty on the input and recurrent kernels (0 = none).

    Call arguments:
        inputs: ``[B, T, D]`` floats.
        mask: optional ``[B, T]`` booleans, True at real positions.

    Returns:
        ``{"sequence": [B, T, H], "pooled": [B, H], "mask": [B, T]}`` where H is
        ``nodes[-1]`` (doubled when bidirectional) and ``pooled`` is the many-to-one summary:
        by default the last layer's final states (forward and backward concatenated).

    Example:
        >>> import numpy as np
        >>> enc = RNN_Encoder([256, 128])  # stacked GRU layers of 256 then 128 units a direction
        >>> out = enc(np.zeros((2, 5, 3), "float32"))
        >>> tuple(out["sequence"].shape), tuple(out["pooled"].shape)
        ((2, 5, 256), (2, 256))
        >>> RNN_Encoder(nodes=[8], cell="lstm", bidirectional=False).output_size
        8
    """

    def __init__(self, nodes=(128,), cell="gru", bidirectional=True, dropout=0.0, pooling="last",
                 initializer="auto", l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if isinstance(nodes, str):
            raise ValueError(f"nodes must be a list of layer sizes, not {nodes!r} (name the "
                             "cell with cell=...)")
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, not {cell!r}")
        if pooling not in _POOLINGS:
            raise ValueError(f"pooling must be one of {list(_POOLINGS)}, not {pooling!r}")
        nodes = [int(n) for n in nodes]
        if not nodes or min(nodes) < 1:
            raise ValueError(f"nodes must be a non-empty list of positive sizes, not {nodes!r}")
        self.cell = cell
        self.nodes = nodes
        self.bidirectional = bool(bidirectional)
        self.dropout = float(dropout)
        self.pooling = pooling
        self.initializer = str(initializer).strip().lower()
        self.l1, self.l2 = float(l1), float(l2)
        weights = dict(kernel_initializer=resolve_initializer(initializer, auto="glorot_uniform"),
                       kernel_regularizer=kernel_penalty(l1, l2),
                       recurrent_regularizer=kernel_penalty(l1, l2))
        # Both directions are built here rather than with keras.layers.Bidirectional: its
        # constructor serialises the wrapped layer twice, and inside load_model's object-sharing
        # scope a reused Python id can hand back the forward layer as the backward one.
        self.forward_layers, self.backward_layers = [], []
        for i, units in enumerate(nodes):
            self.forward_layers.append(_CELLS[cell](
                units, return_sequences=True, return_state=True, name=f"{cell}_{i}", **weights))
            if self.bidirectional:
                self.backward_layers.append(_CELLS[cell](
                    units, return_sequences=True, return_state=True, go_backwards=True,
                    name=f"backward_{cell}_{i}", **weights))
        self.output_dropout = keras.layers.Dropout(self.dropout)
        self.output_size = nodes[-1] * (2 if self.bidirectional else 1)

    def _layer(self, i, x, mask, training):
        """One stacked layer: (sequence, forward final h, backward final h or None)."""
        forward = self.forward_layers[i](x, mask=mask, training=training)
        if not self.bidirectional:
            return forward[0], forward[1], None
        backward = self.backward_layers[i](x, mask=mask, training=training)
        # go_backwards returns its outputs last step first; flip them back into place.
        sequence = keras.ops.concatenate(
            [forward[0], keras.ops.flip(backward[0], axis=1)], axis=-1)
        return sequence, forward[1], backward[1]

    def call(self, inputs, mask=None, training=None):
        x = inputs
        for i in range(len(self.nodes) - 1):
            x = self.output_dropout(self._layer(i, x, mask, training)[0], training=training)
        sequence, forward_h, backward_h = self._layer(len(self.nodes) - 1, x, mask, training)
        if mask is None:
            mask = keras.ops.ones(keras.ops.shape(inputs)[:2], dtype="bool")
        if self.pooling != "last":
            pooled = masked_pool(sequence, mask, self.pooling)
        elif backward_h is None:
            pooled = forward_h
        else:
            pooled = keras.ops.concatenate([forward_h, backward_h], axis=-1)
        return {
            "sequence": self.output_dropout(sequence, training=training),
            "pooled": self.output_dropout(pooled, training=training),
            "mask": mask,
        }

    def get_config(self):
        config = super().get_config()
        config.update(cell=self.cell, nodes=self.nodes, bidirectional=self.bidirectional,
                      dropout=self.dropout, pooling=self.pooling, initializer=self.initializer,
                      l1=self.l1, l2=self.l2)
        return config
