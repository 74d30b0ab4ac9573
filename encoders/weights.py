"""Weight initialisers and kernel penalties by the notes' names, shared by the encoders."""

import keras

# Short names for the notes' initialisers; full Keras names are accepted too.
INITIALIZERS = {"glorot": "glorot_uniform", "xavier": "glorot_uniform", "he": "he_normal",
                "lecun": "lecun_normal"}
KERAS_INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                      "lecun_uniform", "lecun_normal", "orthogonal")


def default_initializer(activation):
    """The initialiser that suits ``activation``: He for the ReLU family (He et al. 2015),
    LeCun normal for SELU (self-normalising nets), Glorot for tanh, sigmoid and the rest."""
    if activation in ("relu", "leaky_relu", "gelu", "elu"):
        return "he_normal"
    if activation == "selu":
        return "lecun_normal"
    return "glorot_uniform"


def resolve_initializer(initializer, activation="linear", auto=None):
    """The Keras initialiser name for ``initializer``.

    Args:
        initializer: ``auto``, a short name (``glorot``/``xavier``, ``he``, ``lecun``) or a
            Keras name such as ``he_uniform``.
        activation: what ``auto`` follows (see :func:`default_initializer`).
        auto: what ``auto`` means instead, when the layer has its own default (a recurrent
            layer's Glorot uniform kernel, for one).

    Raises:
        ValueError: an unknown name, with the choices.
    """
    name = str(initializer).strip().lower()
    if name == "auto":
        return auto or default_initializer(activation)
    resolved = INITIALIZERS.get(name, name)
    if resolved not in KERAS_INITIALIZERS:
        raise ValueError(f"initializer must be auto, {', '.join(INITIALIZERS)} or one of "
                         f"{', '.join(KERAS_INITIALIZERS)}, not {initializer!r}")
    return resolved


def kernel_penalty(l1=0.0, l2=0.0):
    """A ``keras.regularizers.L1L2`` for the two penalties, or None when both are 0.

    Raises:
        ValueError: a negative penalty.
    """
    l1, l2 = float(l1), float(l2)
    if l1 < 0 or l2 < 0:
        raise ValueError(f"l1 and l2 must be 0 or more, not {l1} and {l2}")
    return keras.regularizers.L1L2(l1=l1, l2=l2) if l1 or l2 else None
