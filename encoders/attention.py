"""Attention over a sequence of encoder states: Bahdanau (additive) and Luong (multiplicative).

Both layers follow the notes' four steps for each query (a decoder state): (1) a score for
every encoder state, (2) softmax weights over the real (unmasked) positions, (3) the context
vector, the weighted sum of the encoder states; (4), combining the context with the
decoder's output, is left to the decoder that uses them.

The work that does not depend on the query (projecting the encoder states into "keys") is
split off in :meth:`prepare`, so a decoder that attends once per output step pays for it
once per sentence, not once per step.
"""

import keras

_NEG = -1e9


def _masked_softmax(scores, mask):
    """Softmax over the last axis; positions where ``mask`` is False get exactly zero."""
    ops = keras.ops
    if mask is None:
        return ops.softmax(scores, axis=-1)
    mask = ops.cast(mask, "bool")
    while len(mask.shape) < len(scores.shape):
        mask = ops.expand_dims(mask, -2)
    weights = ops.softmax(ops.where(mask, scores, _NEG), axis=-1)
    # exp(-1e9) is already 0 in float32; the product also zeroes a row with no real position.
    return weights * ops.cast(mask, weights.dtype)


class _Attention(keras.layers.Layer):
    """Shared call contract: ``(query, value, mask)`` -> ``(context, weights)``.

    ``query`` is ``[B, Hq]`` (one step) or ``[B, Tq, Hq]`` (all steps at once); ``value`` is
    ``[B, Ts, C]`` and ``mask`` ``[B, Ts]`` (True at real positions). ``context`` is
    ``[B, C]`` or ``[B, Tq, C]`` and ``weights`` ``[B, Ts]`` or ``[B, Tq, Ts]``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The mask is consumed here (padding gets no weight); the outputs carry none.
        self.supports_masking = True

    def compute_mask(self, *args, **kwargs):
        return None

    def call(self, query, value, mask=None):
        return self.attend(query, self.prepare(value), value, mask)

    def prepare(self, value):
        """Keys ``[B, Ts, K]``: the query-independent part of the score."""
        raise NotImplementedError

    def score(self, query, keys):
        raise NotImplementedError

    def attend(self, query, keys, value, mask=None):
        """Context and weights for ``query`` against keys from :meth:`prepare`."""
        ops = keras.ops
        single = len(query.shape) == 2
        if single:
            query = ops.expand_dims(query, 1)
        weights = _masked_softmax(self.score(query, keys), mask)
        context = ops.matmul(weights, value)
        if single:
            return ops.squeeze(context, 1), ops.squeeze(weights, 1)
        return context, weights


@keras.saving.register_keras_serializable(package="encore")
class BahdanauAttention(_Attention):
    """Additive attention (Bahdanau et al. 2015): ``score = v . tanh(W_q q + W_k h_s)``.

    Args:
        units: size of the hidden layer the query and keys are projected into.

    Example:
        >>> import numpy as np
        >>> attention = BahdanauAttention(8)
        >>> context, weights = attention(np.ones((2, 5), "float32"), np.ones((2, 4, 6), "float32"),
        ...                              mask=np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool))
        >>> tuple(context.shape), weights.numpy()[1].round(2).tolist()
        ((2, 6), [0.5, 0.5, 0.0, 0.0])
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.query_projection = keras.layers.Dense(self.units, use_bias=False, name="query")
        self.key_projection = keras.layers.Dense(self.units, name="key")
        self.energy = keras.layers.Dense(1, use_bias=False, name="energy")

    def build(self, query_shape, value_shape, mask_shape=None):
        self.query_projection.build(query_shape)
        self.key_projection.build(value_shape)
        self.energy.build((None, self.units))

    def prepare(self, value):
        return self.key_projection(value)

    def score(self, query, keys):
        ops = keras.ops
        # [B, Tq, 1, A] + [B, 1, Ts, A]: every query against every key.
        hidden = ops.tanh(ops.expand_dims(self.query_projection(query), 2)
                          + ops.expand_dims(keys, 1))
        return ops.squeeze(self.energy(hidden), -1)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="encore")
class LuongAttention(_Attention):
    """Multiplicative attention (Luong et al. 2015).

    ``dot``: ``score = q . h_s`` (query and encoder states must have the same size);
    ``general``: ``score = q . W_a h_s``.

    Args:
        score: ``"dot"`` or ``"general"``.
        units: the query size, needed by ``general`` to project the encoder states.

    Example:
        >>> import numpy as np
        >>> attention = LuongAttention("general", units=5)
        >>> context, weights = attention(np.ones((2, 3, 5), "float32"),
        ...                              np.ones((2, 4, 6), "float32"))
        >>> tuple(context.shape), tuple(weights.shape)
        ((2, 3, 6), (2, 3, 4))
    """

    SCORES = ("dot", "general")

    def __init__(self, score="general", units=None, **kwargs):
        super().__init__(**kwargs)
        if score not in self.SCORES:
            raise ValueError(f"score must be one of {self.SCORES}, not {score!r}")
        if score == "general" and not units:
            raise ValueError("the general score needs units (the query size)")
        self.score_name = score
        self.units = None if units is None else int(units)
        self.key_projection = (keras.layers.Dense(self.units, use_bias=False, name="key")
                               if score == "general" else None)

    def build(self, query_shape, value_shape, mask_shape=None):
        if self.key_projection is not None:
            self.key_projection.build(value_shape)

    def prepare(self, value):
        return value if self.key_projection is None else self.key_projection(value)

    def score(self, query, keys):
        if query.shape[-1] is not None and keys.shape[-1] is not None \
                and query.shape[-1] != keys.shape[-1]:
            raise ValueError(f"dot score: query size {query.shape[-1]} differs from the "
                             f"encoder state size {keys.shape[-1]}; use score='general'")
        return keras.ops.matmul(query, keras.ops.swapaxes(keys, -1, -2))

    def get_config(self):
        return {**super().get_config(), "score": self.score_name, "units": self.units}
