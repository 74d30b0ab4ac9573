"""Multi-layer perceptron encoder: stacked dense layers over feature vectors."""

import keras

from encoders.pooling import masked_pool
from encoders.registry import register
from encoders.tracking import CheckpointableLists
from encoders.weights import kernel_penalty, resolve_initializer

ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "selu", "leaky_relu", "elu", "linear")


@keras.saving.register_keras_serializable(package="encore")
@register("mlp")
class MLP_Encoder(CheckpointableLists, keras.Model):
    """Stacked dense layers (the notes' multi-layer perceptron) with the usual regularisers.

    Each layer is ``Dense -> [BatchNormalization] -> activation -> [Dropout]``; with batch
    norm the dense layer has no bias (the normalisation's shift replaces it).

    Args:
        nodes: units per layer, one entry per layer.
        activation: ``relu``, ``tanh``, ``sigmoid``, ``gelu``, ``selu``, ``leaky_relu``
            (``"leaky relu"`` is accepted), ``elu`` or ``linear``.
        initializer: ``auto`` (He for the ReLU family, LeCun for SELU, Glorot otherwise),
            ``glorot``, ``he``, ``lecun`` or a Keras name such as ``he_uniform``.
        l1: L1 penalty on every kernel (0 = none).
        l2: L2 penalty on every kernel (0 = none).
        dropout: dropout rate after each layer.
        batch_norm: batch normalisation before each activation.

    Call arguments:
        inputs: ``[B, D]`` feature vectors, or ``[B, T, D]`` sequences (each position is
            encoded alone).
        mask: for sequences, optional ``[B, T]`` booleans, True at real positions.

    Returns:
        For ``[B, D]``: ``{"sequence": [B, 1, H], "pooled": [B, H], "mask": [B, 1]}`` (one
        position, always real). For ``[B, T, D]``: ``{"sequence": [B, T, H], "pooled": mean
        over real positions [B, H], "mask": [B, T]}``. H is ``nodes[-1]``.

    Example:
        >>> import numpy as np
        >>> enc = MLP_Encoder([64, 32], activation="tanh", dropout=0.1, batch_norm=True)
        >>> tuple(enc(np.zeros((4, 10), "float32"))["pooled"].shape)
        (4, 32)
    """

    def __init__(self, nodes=(128, 64), activation="relu", initializer="auto", l1=0.0, l2=0.0,
                 dropout=0.0, batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if isinstance(nodes, (int, str)):
            raise ValueError(f"nodes must be a list of layer sizes, not {nodes!r}")
        nodes = [int(n) for n in nodes]
        if not nodes or min(nodes) < 1:
            raise ValueError(f"nodes must be a non-empty list of positive sizes, not {nodes!r}")
        activation = str(activation).strip().lower().replace(" ", "_").replace("-", "_")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, "
                             f"not {activation!r}")
        resolved = resolve_initializer(initializer, activation)
        regularizer = kernel_penalty(l1, l2)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {dropout}")
        self.nodes = nodes
        self.activation = activation
        self.initializer = str(initializer).strip().lower()
        self.l1, self.l2 = float(l1), float(l2)
        self.dropout = float(dropout)
        self.batch_norm = bool(batch_norm)
        self.dense_layers, self.norms = [], []
        for i, units in enumerate(nodes):
            self.dense_layers.append(keras.layers.Dense(
                units, use_bias=not self.batch_norm, kernel_initializer=resolved,
                kernel_regularizer=regularizer, name=f"dense_{i}"))
            if self.batch_norm:
                self.norms.append(keras.layers.BatchNormalization(name=f"batch_norm_{i}"))
        self.act = keras.layers.Activation(activation)
        self.drop = keras.layers.Dropout(self.dropout)
        self.output_size = nodes[-1]

    def call(self, inputs, mask=None, training=None):
        ops = keras.ops
        flat = len(inputs.shape) == 2
        x = inputs
        if not flat:
            # Batch norm statistics over real positions only would need the mask; padding
            # is zeroed instead, and only real positions reach the pooled vector.
            shape = ops.shape(inputs)
            x = ops.reshape(inputs, (-1, inputs.shape[-1]))
        for i, dense in enumerate(self.dense_layers):
            x = dense(x)
            if self.batch_norm:
                x = self.norms[i](x, training=training)
            x = self.drop(self.act(x), training=training)
        if flat:
            return {"sequence": ops.expand_dims(x, 1), "pooled": x,
                    "mask": ops.ones((ops.shape(x)[0], 1), dtype="bool")}
        sequence = ops.reshape(x, (shape[0], shape[1], self.output_size))
        if mask is None:
            mask = ops.ones((shape[0], shape[1]), dtype="bool")
        sequence = sequence * ops.expand_dims(ops.cast(mask, sequence.dtype), -1)
        return {"sequence": sequence, "pooled": masked_pool(sequence, mask, "mean"),
                "mask": mask}

    def get_config(self):
        config = super().get_config()
        config.update(nodes=self.nodes, activation=self.activation,
                      initializer=self.initializer, l1=self.l1, l2=self.l2,
                      dropout=self.dropout, batch_norm=self.batch_norm)
        return config
