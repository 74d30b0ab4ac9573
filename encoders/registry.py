"""Encoders found by name, so a config can say ``{"name": "rnn", ...}`` and swap them."""

_ENCODERS = {}


def register(name):
    """Class decorator: make an encoder buildable as ``build_encoder({"name": name, ...})``."""

    def wrap(cls):
        _ENCODERS[name] = cls
        return cls

    return wrap


def build_encoder(spec, layer_name=None):
    """Build an encoder from a dict ``{"name": registry name, **constructor_kwargs}``.

    Args:
        spec: e.g. ``{"name": "rnn", "cell": "gru", "nodes": [64]}``.
        layer_name: the Keras name of the built layer.

    Raises:
        ValueError: an unknown name or argument, with the choices in the message.
    """
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in _ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; known: {', '.join(sorted(_ENCODERS))}")
    try:
        return _ENCODERS[name](name=layer_name, **spec)
    except (TypeError, ValueError) as err:
        raise ValueError(f"bad arguments for encoder {name!r}: {err}") from None


def encoder_names():
    return sorted(_ENCODERS)
