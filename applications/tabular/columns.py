"""What each column is and how it becomes numbers: detection, statistics and encoding.

The model's metadata (JSON, saved inside ``model.keras``) holds, per input column, its kind
and what training learnt about it (mean and standard deviation of a number, possibly on a
log scale; the vocabulary of a category), and per target its task, loss, weight and either
its classes or its mean and standard deviation. Category ids: 0 = missing, 1 = the
out-of-vocabulary bucket (unseen or rare), 2.. = the vocabulary.
"""

import math

import numpy as np

from applications.core.config import UsageError
from applications.tabular.config import CLASSIFICATION_LOSSES, REGRESSION_LOSSES, TASKS
from applications.tabular.table import MISSING, parse_number
from data.errors import InputError
from data.numbers import FLOAT32_MAX

MISSING_ID, OOV_ID = 0, 1
SKEW_FOR_LOG = 2.0


def numbers_or_none(values):
    """The column as floats (NaN where missing), or None if a field is not a number."""
    out = np.empty(len(values), np.float64)
    for i, field in enumerate(values):
        number = parse_number(field)
        if number is None:
            return None
        out[i] = number
    return out


def numeric_column(values, path, lines, name):
    """Floats (NaN where missing) of a column the model reads as numbers.

    Raises:
        InputError: ``FILE:LINE: column NAME: 'x' is not a number`` (also for a number
            beyond float32's range, about 3.4e38).
    """
    out = np.empty(len(values), np.float32)
    for i, field in enumerate(values):
        number = parse_number(field)
        if number is None or math.isinf(number):
            raise InputError(f"column {name}: {field!r} is not a number", path, lines[i])
        if abs(number) > FLOAT32_MAX:
            raise InputError(f"column {name}: {field!r} is beyond the float32 range the model "
                             "reads (about 3.4e38)", path, lines[i])
        out[i] = number
    return out


def detect_kinds(table, config, targets):
    """``{column: "numeric" | "categorical"}`` for the input columns (the rest: ignored).

    A column whose every present field is a number is numeric, unless ``config.categorical``
    names it; ``config.numeric`` forces numbers (a bad field is then an error).
    """
    named = set(config.numeric) | set(config.categorical) | set(config.ignore) | set(targets)
    unknown = sorted(named - set(table.columns))
    if unknown:
        raise UsageError(f"no column named {', '.join(unknown)} in {table.path} "
                         f"(columns: {', '.join(table.columns)})")
    kinds = {}
    for name in table.columns:
        if name in targets or name in config.ignore:
            continue
        if name in config.categorical:
            kinds[name] = "categorical"
        elif name in config.numeric:
            numeric_column(table.values[name], table.path, table.lines, name)
            kinds[name] = "numeric"
        else:
            numbers = numbers_or_none(table.values[name])
            present = numbers is not None and not np.all(np.isnan(numbers))
            kinds[name] = "numeric" if present else "categorical"
    if not kinds:
        raise UsageError("no input columns left besides the target(s)")
    return kinds


def numeric_stats(numbers, log_skewed, bins=0):
    """``{"mean", "std", "log", "edges", "distinct"}`` of a numeric training column (NaN
    missing).

    ``edges`` are the distinct ``0, 1/bins, ..., 1`` quantiles of the present values (the
    bin edges of the piecewise-linear encoding; empty with ``bins`` 0); where ties merged
    some of them, the same quantiles of the distinct values are added. ``distinct`` counts
    the distinct present values.
    """
    present = numbers[~np.isnan(numbers)]
    if present.size == 0:
        return {"mean": 0.0, "std": 1.0, "log": False, "edges": []}
    edges = []
    if bins:
        levels = np.linspace(0.0, 1.0, bins + 1)
        edges = np.unique(np.quantile(present, levels))
        if len(edges) < bins + 1:
            # Ties (a column mostly 0, or of few values) merged some quantiles: the
            # quantiles of the distinct values add edges where the rarer values lie.
            edges = np.unique(np.concatenate([edges, np.quantile(np.unique(present),
                                                                 levels)]))
    use_log = False
    if log_skewed and present.min() >= 0 and present.size > 2 and present.std() > 0:
        centred = present - present.mean()
        skew = float(np.mean(centred ** 3) / present.std() ** 3)
        use_log = skew > SKEW_FOR_LOG
    values = np.log1p(present) if use_log else present
    std = float(values.std())
    return {"mean": float(values.mean()), "std": std if std > 1e-12 else 1.0, "log": use_log,
            "edges": [float(e) for e in edges] if len(edges) > 1 else [],
            "distinct": int(np.unique(present).size)}


def category_vocabulary(values, min_count):
    """Categories seen at least ``min_count`` times (missing fields left out), most frequent
    first, ties in name order."""
    counts = {}
    for field in values:
        if field not in MISSING:
            counts[field] = counts.get(field, 0) + 1
    kept = [v for v, c in counts.items() if c >= min_count]
    return sorted(kept, key=lambda v: (-counts[v], v))


# The widest span of whole numbers a ``distribution`` head has one output for each of.
DISTRIBUTION_MAX = 1000


def target_spec(table, name, config, whole=None):
    """One target's metadata: task, loss, weight and classes or mean/std.

    ``whole`` (the file's table, when ``table`` is the part kept for training) decides the
    task and the classes, so a class that only held-out rows have is still a class; the
    mean and standard deviation come from ``table``.
    """
    whole = table if whole is None else whole
    values = whole.values[name]
    present = [v for v in values if v not in MISSING]
    if not present:
        raise InputError(f"target column {name} has no values", table.path)
    task = config.tasks.get(name)
    numbers = numbers_or_none(values)
    if task is None:
        integral = numbers is not None and np.all(np.mod(numbers[~np.isnan(numbers)], 1) == 0)
        few = len(set(present)) <= config.max_classes_detected
        task = ("regression" if numbers is not None and not (integral and few)
                else "classification")
    if task not in TASKS:
        raise UsageError(f"tasks.{name} must be one of {', '.join(TASKS)}, not {task!r}")
    weight = config.loss_weights.get(name, 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
        raise UsageError(f"loss_weights.{name} must be a number, 0 or more, not {weight!r}")
    spec = {"name": name, "task": task, "weight": float(weight),
            "missing": sum(v in MISSING for v in table.values[name])}
    if task == "regression":
        every = numeric_column(values, whole.path, whole.lines, name)  # held out or not
        numbers = numeric_column(table.values[name], table.path, table.lines, name)
        kept = numbers[~np.isnan(numbers)].astype(np.float64)
        if not kept.size:
            raise InputError(f"target column {name} has no values in the rows kept for "
                             "training", table.path)
        spec.update(mean=float(kept.mean()), std=float(kept.std()) or 1.0,
                    loss=config.losses.get(name, "huber"))
        if spec["loss"] == "distribution":  # an output per whole number in every row's range
            every = every[~np.isnan(every)]
            low, high = float(every.min()), float(every.max())
            whole_numbers = bool(np.all(np.mod(every, 1) == 0))
            if not whole_numbers or high - low + 1 > DISTRIBUTION_MAX:
                raise UsageError(f"losses.{name}: distribution needs a target of whole "
                                 f"numbers spanning at most {DISTRIBUTION_MAX} values; "
                                 f"{name} has {'' if whole_numbers else 'fractions and '}"
                                 f"values from {low:g} to {high:g}")
            if not config.distribution_sigma > 0:
                raise UsageError(f"distribution_sigma must be above 0, not "
                                 f"{config.distribution_sigma}")
            spec.update(low=low, high=high, sigma=float(config.distribution_sigma))
        allowed = REGRESSION_LOSSES
    else:
        classes = sorted(set(present), key=_class_order)
        if len(classes) < 2:
            raise InputError(f"target column {name} has one class only ({classes[0]})",
                             table.path)
        spec.update(classes=classes, loss=config.losses.get(
            name, "bce" if len(classes) == 2 else "sce"))
        allowed = CLASSIFICATION_LOSSES if len(classes) == 2 else ("sce",)
    if spec["loss"] not in allowed:
        raise UsageError(f"losses.{name}: a {task} target with this many classes takes "
                         f"{' or '.join(allowed)}, not {spec['loss']!r}")
    return spec


def _class_order(label):
    number = parse_number(label)
    return (0, number, label) if number is not None else (1, 0.0, label)


def build_metadata(table, config, whole=None):
    """The metadata of a model trained on ``table`` with ``config``'s column options.

    With ``whole`` (the file's table, ``table`` being the rows kept for training), column
    kinds and target classes come from every row and the statistics and vocabularies from
    ``table``, so what the seed holds out cannot change what a column is.
    """
    whole = table if whole is None else whole
    targets = list(config.targets) or [table.columns[-1]]
    if len(set(targets)) != len(targets):
        raise UsageError(f"a target is named twice: {', '.join(targets)}")
    kinds = detect_kinds(whole, config, targets)
    features = []
    for name, kind in kinds.items():
        values = table.values[name]
        feature = {"name": name, "kind": kind}
        if kind == "numeric":
            numbers = numeric_column(values, table.path, table.lines, name).astype(np.float64)
            feature["missing"] = int(np.isnan(numbers).sum())  # any NaN spelling float reads
            feature.update(numeric_stats(numbers, config.log_skewed, config.numeric_bins))
        else:
            feature["missing"] = sum(v in MISSING for v in values)
            feature["values"] = category_vocabulary(values, config.min_category_count)
        features.append(feature)
    return {"columns": list(table.columns), "header": table.header,
            "features": features,
            "targets": [target_spec(table, t, config, whole) for t in targets],
            "train_rows": len(table)}


def features_of(metadata, kind):
    return [f for f in metadata["features"] if f["kind"] == kind]


def encode_inputs(table, metadata):
    """Model inputs of a table: ``{"numeric": float32 [N, n] raw (NaN missing),
    "categorical": int32 [N, c] ids}``, as the serving module makes them in the graph."""
    count = len(table)
    numeric = [numeric_column(table.values[f["name"]], table.path, table.lines, f["name"])
               for f in features_of(metadata, "numeric")]
    categorical = []
    for feature in features_of(metadata, "categorical"):
        ids = {value: i + 2 for i, value in enumerate(feature["values"])}
        categorical.append(np.array([MISSING_ID if v in MISSING else ids.get(v, OOV_ID)
                                     for v in table.values[feature["name"]]], np.int32))
    return {"numeric": np.stack(numeric, 1) if numeric else np.zeros((count, 0), np.float32),
            "categorical": (np.stack(categorical, 1) if categorical
                            else np.zeros((count, 0), np.int32))}


def encode_targets(table, metadata):
    """``[N, targets]`` float32: class ids, or standardised numbers; NaN where missing.

    Raises:
        InputError: a class the model does not know, or a non-number in a regression target.
    """
    columns = []
    for spec in metadata["targets"]:
        values = table.values[spec["name"]]
        if spec["task"] == "regression":
            numbers = numeric_column(values, table.path, table.lines, spec["name"])
            columns.append((numbers - spec["mean"]) / spec["std"])
            continue
        ids = {c: i for i, c in enumerate(spec["classes"])}
        column = np.full(len(values), np.nan, np.float32)
        for i, value in enumerate(values):
            if value in MISSING:
                continue
            if value not in ids:
                raise InputError(f"column {spec['name']}: class {value!r} is not one the model "
                                 f"knows ({', '.join(spec['classes'][:10])})", table.path,
                                 table.lines[i])
            column[i] = ids[value]
        columns.append(column)
    return np.stack(columns, 1).astype(np.float32)
