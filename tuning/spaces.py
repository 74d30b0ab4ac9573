"""Search spaces: reading an application's ``SEARCH_SPACE`` and writing chosen values into its
config.

Each application declares its space beside its config, as ``SEARCH_SPACE`` in
``applications/<app>/config.py`` (:mod:`applications.core.space` defines the
:class:`Choice` and :class:`Range` dimensions). Names follow the ``--set`` paths of the
application's config (``encoder.cell``, ``learning_rate``), plus three shorthands that
:func:`apply_values` expands:

- ``X.units`` and ``X.layers`` become ``X.nodes = [units] * layers``;
- ``X.filters`` becomes ``X.filters = [filters]`` (one convolution width group);
- ``X.name`` replaces the whole ``X`` group when it names another encoder, so
  ``{"name": "cnn", "preset": "text"}`` can become ``{"name": "rnn", ...}``.

``--space NAME=V1,V2`` narrows a dimension to the listed values (one value fixes it) without
editing the config module.
"""

import copy
import importlib
import json

from applications.core.config import UsageError, apply_recipe
from applications.core.space import Choice


def search_space(app_name, overrides=()):
    """The ``SEARCH_SPACE`` of ``applications/<app_name>/config.py`` with ``--space``
    overrides (``NAME=V1,V2,...``) applied; returns a new dict."""
    try:
        module = importlib.import_module(f"applications.{app_name}.config")
    except ModuleNotFoundError as err:
        if err.name not in (f"applications.{app_name}", f"applications.{app_name}.config"):
            raise
        module = None
    if getattr(module, "SEARCH_SPACE", None) is None:
        raise UsageError(f"no search space for {app_name}; add SEARCH_SPACE to "
                         f"applications/{app_name}/config.py")
    space = dict(module.SEARCH_SPACE)
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
    if any(not isinstance(v, (int, float, str)) for v in values):  # bool is an int
        raise UsageError(f"--space {text}: values are numbers, words or true/false, not "
                         "lists, objects or null")
    if len({type(v) for v in values}) > 1 and not all(isinstance(v, (int, float))
                                                      for v in values):
        raise UsageError(f"--space {text}: values must all be numbers or all be words")
    if any(isinstance(v, float) for v in values):
        values = [float(v) for v in values]
    return name.strip(), values


def check_values(config, space):
    """UsageError for a value of ``space`` that no run could take (``--space
    batch_size=64,0``, ``--space encoder.units=abc``), before anything is written: each
    listed value is written into ``config`` alone and checked as an option file is."""
    for name, dimension in space.items():
        for value in getattr(dimension, "values", ()):
            source = f"--space {name}={json.dumps(value)}"
            try:
                changed = apply_values(config, {name: value})
            except (TypeError, ValueError) as err:
                raise UsageError(f"{source}: {err}") from None
            type(config).from_dict(changed.to_dict(), source=source)


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
    """Write hyperparameter ``values`` into a config dataclass (a changed copy is returned).

    A trial that switches ``encoder.name`` also gets that encoder's recipe
    (:func:`~applications.core.config.apply_recipe`) for the options neither the space nor
    the search's own settings give."""
    encoder = getattr(config, "encoder", None)
    switched = ("encoder.name" in values and isinstance(encoder, dict)
                and values["encoder.name"] != encoder.get("name"))
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
        # A stacked CNN lists its layer widths under "filters", an RNN under "nodes".
        key = "filters" if group.get("name") == "cnn" else "nodes"
        layers = int(sizes.get("layers", len(group.get(key) or [1])))
        units = int(sizes.get("units", (group.get(key) or [64])[-1]))
        group[key] = [units] * layers
    if switched:
        return apply_recipe(config, {name.split(".")[0] for name in values})
    return config


def _group(config, path, name):
    target = getattr(config, path[0], None)
    for key in path[1:]:
        target = target.get(key) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        raise UsageError(f"search space names {name!r}, but {'.'.join(path)} is not a group "
                         "of options in this config")
    return target
