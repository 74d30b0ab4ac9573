"""Periodic embeddings of numeric features (PLR: periodic -> linear -> ReLU)."""

import math

import keras


@keras.saving.register_keras_serializable(package="encore")
class PeriodicEmbedding(keras.layers.Layer):
    """A learnt vector per number: ``ReLU(W_j [cos(2 pi c_j x_j), sin(2 pi c_j x_j)] + b_j)``.

    Each of the ``n`` input features ``x_j`` has its own ``frequencies`` learnt frequencies
    ``c_j`` (initialised from ``N(0, sigma)``) and its own linear layer ``W_j, b_j`` to
    ``dim`` outputs (Gorishniy et al. 2022, "On Embeddings for Numerical Features in Tabular
    Deep Learning", the PLR embedding). The features should be on a standard scale (about
    zero mean, unit variance); ``sigma`` sets how fine the initial periods are on that scale.

    Args:
        frequencies: learnt frequencies per feature (``k``).
        dim: size of each feature's embedding (``d``).
        sigma: standard deviation of the initial frequencies.

    Call arguments:
        inputs: ``[B, n]`` numbers.

    Returns:
        ``[B, n * dim]``: the features' embeddings side by side.

    Example:
        >>> import numpy as np
        >>> layer = PeriodicEmbedding(frequencies=8, dim=4, sigma=0.1)
        >>> tuple(layer(np.zeros((5, 3), "float32")).shape)
        (5, 12)
    """

    def __init__(self, frequencies=16, dim=16, sigma=0.1, **kwargs):
        super().__init__(**kwargs)
        if int(frequencies) < 1 or int(dim) < 1:
            raise ValueError(f"frequencies and dim must be positive, not {frequencies}, {dim}")
        if not float(sigma) > 0:
            raise ValueError(f"sigma must be positive, not {sigma}")
        self.frequencies, self.dim, self.sigma = int(frequencies), int(dim), float(sigma)

    def build(self, input_shape):
        features = int(input_shape[-1])
        self.features = features
        self.coefficients = self.add_weight(
            name="frequencies", shape=(features, self.frequencies),
            initializer=keras.initializers.RandomNormal(stddev=self.sigma))
        fan_in = 2 * self.frequencies
        bound = 1.0 / math.sqrt(fan_in)  # the usual dense-layer range for this fan-in
        uniform = keras.initializers.RandomUniform(-bound, bound)
        self.kernel = self.add_weight(name="kernel", shape=(features, fan_in, self.dim),
                                      initializer=uniform)
        self.bias = self.add_weight(name="bias", shape=(features, self.dim),
                                    initializer=uniform)

    def call(self, inputs):
        ops = keras.ops
        angles = 2.0 * math.pi * ops.expand_dims(inputs, -1) * self.coefficients  # [B, n, k]
        periodic = ops.concatenate([ops.cos(angles), ops.sin(angles)], axis=-1)   # [B, n, 2k]
        linear = ops.einsum("bnk,nkd->bnd", periodic, self.kernel) + self.bias
        return ops.reshape(ops.relu(linear), (-1, self.features * self.dim))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(input_shape[-1]) * self.dim)

    def get_config(self):
        config = super().get_config()
        config.update(frequencies=self.frequencies, dim=self.dim, sigma=self.sigma)
        return config
