"""Search spaces: which options of each application's config a search varies, and over what.

A space is a dict from a hyperparameter name to a :class:`Choice` or :class:`Range`. Names
follow the ``--set`` paths of the application's config (``encoder.cell``, ``learning_rate``),
plus three shorthands that :func:`apply_values` expands:

- ``X.units`` and ``X.layers`` become ``X.nodes = [units] * layers``;
- ``X.filters`` becomes ``X.filters = [filters]`` (one convolution width group);
- ``X.name`` replaces the whole ``X`` group when it names another encoder, so
  ``{"name": "cnn", "preset": "text"}`` can become ``{"name": "rnn", ...}``.

``batch_size`` is part of every space; the hypermodel reads it in ``fit``. Adding an
application is one entry in :data:`SPACES`; ``--space NAME=V1,V2`` narrows a dimension to
the listed values (one value fixes it) without editing this file.
"""

import copy
import dataclasses
import json

from applications.core.config import UsageError


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of a few values; ``when=(parent, values)`` makes it exist only for those parents."""

    values: tuple
    when: tuple = None

    def declare(self, hp, name):
        return hp.Choice(name, list(self.values))


@dataclasses.dataclass(frozen=True)
class Range:
    """A float between ``low`` and ``high``, on a log scale when ``log`` (learning rates)."""

    low: float
    high: float
    step: float = None
    log: bool = False
    when: tuple = None

    def declare(self, hp, name):
        return hp.Float(name, self.low, self.high, step=self.step,
                        sampling="log" if self.log else "linear")


LEARNING_RATE = Range(3e-4, 1e-2, log=True)
BATCH_SIZE = Choice((16, 32, 64))

SPACES = {
    "pos_tagger": {
        "encoder.cell": Choice(("lstm", "gru")),
        "encoder.units": Choice((64, 128, 256)),
        "encoder.layers": Choice((1, 2)),
        "encoder.dropout": Range(0.0, 0.5, step=0.1),
        "char_encoder.units": Choice((32, 64)),
        "word_dim": Choice((64, 100, 128)),
        "embedding_dropout": Range(0.0, 0.5, step=0.1),
        "learning_rate": LEARNING_RATE,
        "optimizer": Choice(("adam", "nadam", "rmsprop")),
        "batch_size": BATCH_SIZE,
    },
    "text_classifier": {
        "encoder.name": Choice(("cnn", "rnn")),
        "encoder.filters": Choice((50, 100, 200), when=("encoder.name", ("cnn",))),
        "encoder.cell": Choice(("lstm", "gru"), when=("encoder.name", ("rnn",))),
        "encoder.units": Choice((32, 64, 128), when=("encoder.name", ("rnn",))),
        "encoder.pooling": Choice(("last", "max"), when=("encoder.name", ("rnn",))),
        "embedding_dim": Choice((64, 128, 256)),
        "dropout": Range(0.0, 0.6, step=0.1),
        "learning_rate": LEARNING_RATE,
        "optimizer": Choice(("adam", "rmsprop")),
        "batch_size": BATCH_SIZE,
    },
    "language_model": {
        "encoder.cell": Choice(("gru", "lstm")),
        "encoder.units": Choice((128, 256, 512)),
        "encoder.layers": Choice((1, 2, 3)),
        "encoder.dropout": Range(0.0, 0.3, step=0.1),
        "embedding_dim": Choice((32, 64, 128)),
        "learning_rate": LEARNING_RATE,
        "batch_size": Choice((32, 64, 128)),
    },
    "anomaly_detector": {
        "encoder.cell": Choice(("lstm", "gru")),
        "encoder.units": Choice((16, 32, 64)),
        "decoder_units": Choice((16, 32, 64)),
        "learning_rate": LEARNING_RATE,
        "batch_size": Choice((32, 64, 128)),
    },
    "translator": {
        "attention": Choice(("luong", "bahdanau")),
        "encoder.cell": Choice(("gru", "lstm")),
        "encoder.units": Choice((128, 256)),
        "embedding_dim": Choice((128, 256)),
        "decoder_units": Choice((256, 512)),
        "dropout": Range(0.1, 0.5, step=0.1),
        "learning_rate": LEARNING_RATE,
        "batch_size": Choice((32, 64, 128)),
    },
    "image_classifier": {
        "encoder.preset": Choice(("small", "lenet5", "vgg")),
        "encoder.dropout": Range(0.0, 0.3, step=0.1),
        "dropout": Range(0.2, 0.6, step=0.1),
        "augment_translation": Choice((0.0, 0.1)),
        "weight_decay": Choice((0.0, 1e-4)),
        "learning_rate": LEARNING_RATE,
        "batch_size": Choice((64, 128, 256)),
    },
    "autoencoder": {
        "kind": Choice(("conv", "dense")),
        "code_dim": Choice((16, 32, 64)),
        "learning_rate": LEARNING_RATE,
        "batch_size": Choice((64, 128, 256)),
    },
}


def search_space(app_name, overrides=()):
    """The space of ``app_name`` with ``--space NAME=V1,V2,...`` overrides applied."""
    if app_name not in SPACES:
        raise UsageError(f"no search space for {app_name}; add one to tuning/spaces.py "
                         f"(known: {', '.join(sorted(SPACES))})")
    space = dict(SPACES[app_name])
    for text in overrides:
        name, values = _parse_override(text)
        if name not in space:
            raise UsageError(f"--space {text}: {app_name} has no hyperparameter {name!r}; "
                             f"known: {', '.join(space)}")
        space[name] = Choice(tuple(values), when=space[name].when)
    return space


def _parse_override(text):
    if "=" not in text:
        raise UsageError(f"--space expects NAME=V1[,V2...], got {text!r}")
    name, raw = text.split("=", 1)
    values = []
    for part in raw.split(","):
        part = part.strip()
        try:
            values.append(json.loads(part))
        except json.JSONDecodeError:
            values.append(part)
    if not values or any(v == "" for v in values):
        raise UsageError(f"--space {text}: give at least one value")
    if len({type(v) for v in values}) > 1 and not all(isinstance(v, (int, float))
                                                      for v in values):
        raise UsageError(f"--space {text}: values must all be numbers or all be words")
    if any(isinstance(v, float) for v in values):
        values = [float(v) for v in values]
    return name.strip(), values


def declare(hp, space):
    """Declare every dimension in ``hp``; returns ``{name: value}`` of the active ones."""
    values = {}
    for name, dimension in space.items():
        if dimension.when:
            parent, allowed = dimension.when
            with hp.conditional_scope(parent, list(allowed)):
                value = dimension.declare(hp, name)
        else:
            value = dimension.declare(hp, name)
        if value is not None:
            values[name] = value
    return values


def apply_values(config, values):
    """Write hyperparameter ``values`` into a config dataclass (a changed copy is returned)."""
    config = copy.deepcopy(config)
    groups = {}
    # A new encoder name first: it resets its group, and the other keys then fill it in.
    for name, value in sorted(values.items(), key=lambda item: not item[0].endswith(".name")):
        path = name.split(".")
        if len(path) == 1:
            if not hasattr(config, name):
                raise UsageError(f"search space names unknown option {name!r}")
            setattr(config, name, value)
            continue
        group = _group(config, path[:-1], name)
        key = path[-1]
        if key == "name":
            if group.get("name") != value:
                group.clear()
                group["name"] = value
        elif key in ("units", "layers"):
            groups.setdefault(id(group), (group, {}))[1][key] = value
        elif key == "filters":
            group["filters"] = [int(value)]
        else:
            group[key] = value
    for group, sizes in groups.values():
        layers = int(sizes.get("layers", len(group.get("nodes") or [1])))
        units = int(sizes.get("units", (group.get("nodes") or [64])[-1]))
        group["nodes"] = [units] * layers
    return config


def _group(config, path, name):
    target = getattr(config, path[0], None)
    for key in path[1:]:
        target = target.get(key) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        raise UsageError(f"search space names {name!r}, but {'.'.join(path)} is not a group "
                         "of options in this config")
    return target
