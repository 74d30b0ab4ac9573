"""Configuration: one dataclass per application, loaded from JSON and ``--set key=value`` flags."""

import dataclasses
import json
from typing import ClassVar

from data.errors import InputError
from data.files import read_json


class UsageError(Exception):
    """A bad flag or option value; reported as one line, exit code 2."""


# Keras optimizers that take ``beta_2`` (Muon for the variables it updates the Adam way).
ADAM_FAMILY = ("adam", "adamw", "adamax", "nadam", "muon")


@dataclasses.dataclass
class TrainConfig:
    """Options every application shares; applications subclass it and add their own.

    ``encoder`` is a dict with a ``name`` from the encoder registry plus that encoder's
    constructor arguments, so ``--set encoder.nodes=[256,256]`` or ``--set encoder.name=cnn``
    reach the encoder directly. ``time_budget_minutes`` (0 = none) stops training before
    the epoch that would overrun the budget; the budget spans resumes (a resumed run has
    what its earlier runs left of it). ``save_every_steps`` (0 = at epoch ends only)
    also checkpoints every N training batches, so a killed run resumes mid-epoch.
    ``steps_per_execution`` runs that many training batches in one graph call (Keras'
    option of that name): the same updates with less per-batch overhead, which small
    models with small batches notice; batch callbacks then see every N-th batch, so
    ``save_every_steps`` must be a multiple of it. Multi-worker training runs one batch
    per call.
    ``ema_momentum`` (0 = off; e.g. 0.99) keeps an exponential moving average of the
    weights (Polyak averaging): dev scores, the best model and its exports use the average,
    while training steps go on with the raw weights; with ``ema_warmup`` the average's
    momentum after ``t`` updates is ``min(ema_momentum, (1 + t) / (10 + t))``, so a short
    run's average does not still hold much of the starting weights. ``beta_2`` (0 = the
    optimizer's own default, 0.999 for Adam) is the decay of an Adam-family optimizer's
    second-moment estimate; Dozat & Manning's taggers and parsers use 0.9.

    The notes' optimiser knobs; 0 (False) leaves each optimizer's own default:
    ``beta_1`` (Adam family, first-moment decay, 0.9), ``momentum`` (``sgd``, ``rmsprop``),
    ``nesterov`` (``sgd``), ``rho`` (``rmsprop``, ``adadelta``: the decay of the squared
    gradient average, 0.9 / 0.95), ``initial_accumulator`` (``adagrad``, 0.1) and
    ``weight_decay`` (decoupled weight decay, any optimizer; AdamW's own default 0.004
    applies only with ``optimizer=adamw`` and 0 here).

    ``budget_anneal`` lowers the learning rate along a cosine of a time budget's elapsed
    wall-clock share, to a tenth of it when the budget ends
    (:class:`~applications.core.epochs.TimeBudget`): a run decays its rate over the time it
    is given, however many epochs fit. It acts only on a plain rate with
    ``time_budget_minutes`` set: a warm-up (``warmup_steps``) or an ``lr_schedule`` keeps
    its own schedule. It cannot be combined with an ``lr_decay`` below 1.

    ``warmup_steps`` (0 = none) raises the learning rate linearly from 0 over the first N
    training batches, as Transformers commonly want; it cannot be combined with an
    ``lr_decay`` below 1 (Keras cannot lower a scheduled rate on a plateau).

    ``ENCODER_RECIPES`` (``{encoder name: {option: value}}``, empty here) holds the options an
    application's encoder trains best with where they differ from its defaults;
    :func:`load_config` gives them to a new run that chooses that encoder, for the options
    the run does not set itself (an ``"encoder"`` entry fills the encoder's unset keys).
    """

    ENCODER_RECIPES: ClassVar[dict] = {}

    batch_size: int = 32
    epochs: int = 10
    patience: int = 3
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    clipnorm: float = 5.0
    seed: int = 0
    jit_compile: str = "auto"
    time_budget_minutes: float = 0.0
    save_every_steps: int = 0
    steps_per_execution: int = 1
    ema_momentum: float = 0.0
    ema_warmup: bool = False
    beta_2: float = 0.0
    beta_1: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    rho: float = 0.0
    initial_accumulator: float = 0.0
    weight_decay: float = 0.0
    budget_anneal: bool = False
    warmup_steps: int = 0

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values, source="config"):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise UsageError(f"{source}: unknown option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(names))}")
        config = cls(**values)
        for field in dataclasses.fields(cls):
            setattr(config, field.name, _checked_type(field, getattr(config, field.name),
                                                      source))
        if not 0.0 < config.learning_rate < float("inf"):
            raise UsageError(f"{source}: learning_rate must be a positive number, not "
                             f"{config.learning_rate}")
        if not 0.0 <= config.ema_momentum < 1.0:
            raise UsageError(f"{source}: ema_momentum must be in [0, 1), not "
                             f"{config.ema_momentum}")
        if not 0.0 <= config.beta_2 < 1.0:
            raise UsageError(f"{source}: beta_2 must be in [0, 1), not {config.beta_2}")
        if config.beta_2 and config.optimizer.lower() not in ADAM_FAMILY:
            raise UsageError(f"{source}: beta_2 needs an Adam-family optimizer "
                             f"({', '.join(ADAM_FAMILY)}), not {config.optimizer}")
        _check_optimizer_knobs(config, source)
        for name in ("batch_size", "epochs"):
            if getattr(config, name) < 1:
                raise UsageError(f"{source}: {name} must be 1 or more, not "
                                 f"{getattr(config, name)}")
        if not 0 <= config.seed < 2 ** 32:
            raise UsageError(f"{source}: seed must be from 0 to 2**32 - 1, not {config.seed}")
        if config.patience < 1:
            raise UsageError(f"{source}: patience must be 1 or more (epochs without a better "
                             f"dev score before stopping), not {config.patience}")
        if config.time_budget_minutes < 0:
            raise UsageError(f"{source}: time_budget_minutes must be 0 (none) or more, not "
                             f"{config.time_budget_minutes}")
        if config.steps_per_execution < 1:
            raise UsageError(f"{source}: steps_per_execution must be 1 or more, not "
                             f"{config.steps_per_execution}")
        if config.save_every_steps % config.steps_per_execution:
            raise UsageError(f"{source}: save_every_steps ({config.save_every_steps}) must be "
                             f"a multiple of steps_per_execution "
                             f"({config.steps_per_execution})")
        if config.warmup_steps < 0:
            raise UsageError(f"{source}: warmup_steps must be 0 or more, not "
                             f"{config.warmup_steps}")
        if config.warmup_steps and getattr(config, "lr_decay", 1.0) < 1.0:
            raise UsageError(f"{source}: warmup_steps needs lr_decay=1, not {config.lr_decay}")
        if config.budget_anneal and getattr(config, "lr_decay", 1.0) < 1.0:
            raise UsageError(f"{source}: budget_anneal needs lr_decay=1, not {config.lr_decay}")
        if not 0.0 <= getattr(config, "dev_split", 0.0) < 1.0:  # where an app has it
            raise UsageError(f"{source}: dev_split must be in [0, 1), not {config.dev_split}")
        for name in ("max_vocab", "min_count", "min_word_count"):  # where an app has them
            if getattr(config, name, 0) < 0:
                raise UsageError(f"{source}: {name} must be 0 or more, not "
                                 f"{getattr(config, name)}")
        if getattr(config, "adversarial_epsilon", 0.0) < 0:
            raise UsageError(f"{source}: adversarial_epsilon must be 0 or more, not "
                             f"{config.adversarial_epsilon}")
        return config


# Each optimizer knob and the optimizers that take it.
OPTIMIZER_KNOBS = {"beta_1": ADAM_FAMILY, "momentum": ("sgd", "rmsprop", "muon"),
                   "nesterov": ("sgd", "muon"), "rho": ("rmsprop", "adadelta"),
                   "initial_accumulator": ("adagrad",)}


def _check_optimizer_knobs(config, source):
    """Refuse a knob set for an optimizer that does not take it, or out of its range."""
    name = config.optimizer.lower()
    for knob, takers in OPTIMIZER_KNOBS.items():
        if getattr(config, knob) and name not in takers:
            raise UsageError(f"{source}: {knob} needs optimizer {' or '.join(takers)}, "
                             f"not {config.optimizer}")
    for knob in ("beta_1", "momentum", "rho"):
        if not 0.0 <= getattr(config, knob) < 1.0:
            raise UsageError(f"{source}: {knob} must be in [0, 1), not {getattr(config, knob)}")
    for knob in ("initial_accumulator", "weight_decay"):
        if getattr(config, knob) < 0:
            raise UsageError(f"{source}: {knob} must be 0 or more, not "
                             f"{getattr(config, knob)}")


def _checked_type(field, value, source):
    """``value`` as ``field``'s type: a whole number given for a float becomes a float
    (Keras refuses ``learning_rate=1``); UsageError for any other mismatch."""
    expected = field.type if isinstance(field.type, type) else None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool):  # bool is an int to Python
        raise UsageError(f"{source}: option {field.name} must be int, not {value!r}")
    if expected is not None and not isinstance(value, expected):
        raise UsageError(f"{source}: option {field.name} must be {expected.__name__}, "
                         f"not {value!r}")
    return value


def parse_override(text):
    """``"encoder.nodes=[256,256]"`` -> ``(["encoder", "nodes"], [256, 256])``.

    The value is read as JSON when it parses as JSON and taken as a plain string otherwise,
    so ``--set encoder.cell=gru`` needs no quotes.
    """
    if "=" not in text:
        raise UsageError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().split("."), value


def held_out_share(config, option="dev_split"):
    """The share of its training file a run held out as dev (``option`` of its config dict),
    for ``evaluate --held-out``; UsageError when it held none (``--dev`` or a share of 0)."""
    share = config.get(option)
    if not share:
        raise UsageError(f"--held-out: this model held nothing out (trained with --dev or "
                         f"{option}=0)")
    return share


def load_config(cls, path=None, overrides=(), base=None):
    """Build ``cls`` from defaults (or ``base``), a JSON file, then ``--set`` overrides; a
    new run (no ``base``) then takes its encoder's recipe for the options neither set."""
    values = (base or cls()).to_dict()
    given = set()
    if path is not None:
        loaded = read_json(path)
        if not isinstance(loaded, dict):
            raise InputError("config file must hold a JSON object", path, 1)
        _merge(values, loaded)
        given.update(loaded)
    parsed = [(text, *parse_override(text)) for text in overrides]
    # A group's new ``name`` (``encoder.name=transformer``) first: it empties the group of
    # the other encoder's keys, and the group's other overrides then fill it in.
    for text, keys, value in sorted(parsed, key=lambda item: item[1][1:] != ["name"]):
        given.add(keys[0])
        target = values
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                raise UsageError(f"--set {text}: {key!r} is not a group of options")
            target = target[key]
        if len(keys) == 1 and keys[0] not in target:
            raise UsageError(f"--set {text}: unknown option {keys[0]!r}")
        if keys[1:] == ["name"] and target.get("name") != value:
            target.clear()
        target[keys[-1]] = value
    # A resumed run (``base``) took the recipe when it began; an encoder group given again
    # (the same command run again) gets the recipe's encoder keys it took then.
    _apply_recipe(cls.ENCODER_RECIPES, values, given, encoder_only=base is not None)
    return cls.from_dict(values, source=str(path) if path else "--set")


def _apply_recipe(recipes, values, given, encoder_only=False):
    """Write the chosen encoder's recipe (``TrainConfig.ENCODER_RECIPES``) into ``values``,
    leaving the options in ``given`` and the encoder keys already there as they are (with
    ``encoder_only``, only the recipe's encoder keys)."""
    encoder = values.get("encoder")
    if not isinstance(encoder, dict):
        return
    recipe = recipes.get(encoder.get("name"), {})
    for key, value in recipe.items():
        if key == "encoder":
            for name, setting in value.items():
                encoder.setdefault(name, setting)
        elif key not in given and not encoder_only:
            values[key] = value
    if encoder_only:
        return
    # An optimizer chosen by the run keeps its knobs: no Adam betas for SGD.
    if "optimizer" in given and str(values.get("optimizer")).lower() not in ADAM_FAMILY:
        for knob in ("beta_1", "beta_2"):
            if knob in recipe and knob not in given:
                values[knob] = 0.0


def apply_recipe(config, given):
    """``config`` (a changed copy) with its encoder's recipe filling the options that are
    not in ``given`` and still hold the class default: what a tuning trial that switches
    ``encoder.name`` gets, the options set for the whole search being kept."""
    defaults = type(config)().to_dict()
    values = config.to_dict()
    kept = set(given) | {k for k, v in values.items() if k != "encoder" and v != defaults[k]}
    _apply_recipe(type(config).ENCODER_RECIPES, values, kept)
    return type(config).from_dict(values, source="search space")


def _merge(into, new):
    """Merge ``new`` into ``into``, group by group; a group naming another ``name`` (another
    encoder) replaces the group it would have merged into, keys and all."""
    for key, value in new.items():
        old = into.get(key)
        if (isinstance(value, dict) and isinstance(old, dict)
                and value.get("name", old.get("name")) == old.get("name")):
            _merge(old, value)
        else:
            into[key] = value
