"""Raw column values in, each target's prediction out: the one path for the commands, the
Python API and the exported SavedModel.

``serve`` takes one tensor per input column (``float32`` numbers, NaN for missing; ``string``
categories, where ``""``, ``?`` and ``NA`` are missing and an unseen value goes to the
out-of-vocabulary bucket) and returns, per target, ``<key>_prediction`` (the class name, or
the number in the target's own units) and, for a classification, ``<key>_probabilities``
``[N, classes]``. Keys are the column names with characters a signature cannot hold replaced
by ``_``; ``describe`` gives the mapping as JSON.
"""

import json
import os
import re

import numpy as np
import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind, one_or_many
from applications.core.serving import ServingModule
from applications.tabular.columns import MISSING_ID, OOV_ID, numeric_column
from applications.tabular.table import MISSING, RowReader
from data.errors import InputError

CHUNK = 1024


def signature_keys(names):
    """A unique Python identifier for each name (``capital-gain`` -> ``capital_gain``,
    ``1st`` -> ``c1st``), which TensorFlow takes as a signature key unchanged."""
    keys, used = [], set()
    for name in names:
        key = re.sub(r"[^A-Za-z0-9_]", "_", name)
        key = key if re.match(r"[A-Za-z]", key) else "c" + key
        base, n = key, 2
        while key in used:
            key, n = f"{base}_{n}", n + 1
        used.add(key)
        keys.append(key)
    return keys


def describe(model):
    """What calling ``serve`` needs, as plain JSON values: inputs and targets with keys."""
    meta = model.metadata
    inputs = [{"column": f["name"], "kind": f["kind"]} for f in meta["features"]]
    for item, key in zip(inputs, signature_keys([f["name"] for f in meta["features"]])):
        item["key"] = key
    targets = [{"name": t["name"], "task": t["task"], "classes": t.get("classes")}
               for t in meta["targets"]]
    for item, key in zip(targets, signature_keys([t["name"] for t in meta["targets"]])):
        item["key"] = key
    return {"kind": "tabular", "inputs": inputs, "targets": targets,
            "columns": meta["columns"], "header": meta["header"]}


class TabularServer(ServingModule):
    """Wraps a trained :class:`~applications.tabular.model.TabularModel` with its category
    vocabularies as lookup tables; ``serve`` and ``describe`` as the module docstring says."""

    def __init__(self, model):
        super().__init__(model)
        description = describe(model)
        # Plain Python values, kept out of TensorFlow's attribute tracking.
        object.__setattr__(self, "description", description)
        meta = model.metadata
        self.tables = []
        for feature in meta["features"]:
            if feature["kind"] == "categorical" and feature["values"]:
                init = tf.lookup.KeyValueTensorInitializer(
                    tf.constant(feature["values"], tf.string),
                    tf.range(2, len(feature["values"]) + 2, dtype=tf.int32))
                self.tables.append(tf.lookup.StaticHashTable(init, OOV_ID))
            elif feature["kind"] == "categorical":
                self.tables.append(None)
        self.missing = tf.constant(sorted(MISSING))
        specs = {item["key"]: tf.TensorSpec([None], tf.float32 if item["kind"] == "numeric"
                                            else tf.string, name=item["key"])
                 for item in self.description["inputs"]}
        self.serve = tf.function(self._serve, input_signature=[specs])
        text = json.dumps(description, sort_keys=True)
        self.describe = tf.function(lambda: {"description": tf.constant(text)},
                                    input_signature=[])

    def endpoints(self):
        return {"serve": self.serve, "describe": self.describe}

    def _serve(self, inputs):
        items = self.description["inputs"]
        rows = tf.shape(inputs[items[0]["key"]])[0]
        numeric = [inputs[i["key"]] for i in items if i["kind"] == "numeric"]
        categorical = []
        for item, table in zip([i for i in items if i["kind"] == "categorical"], self.tables):
            text = tf.strings.strip(inputs[item["key"]])
            ids = table.lookup(text) if table is not None else tf.fill([rows], OOV_ID)
            missing = tf.reduce_any(tf.equal(text[:, None], self.missing[None, :]), axis=1)
            categorical.append(tf.where(missing, MISSING_ID, ids))
        features = {
            "numeric": tf.stack(numeric, 1) if numeric else tf.zeros([rows, 0], tf.float32),
            "categorical": (tf.stack(categorical, 1) if categorical
                            else tf.zeros([rows, 0], tf.int32))}
        outputs = self.model(features, training=False)
        served = {}
        for target, spec in zip(self.description["targets"], self.model.targets):
            out = tf.cast(outputs[spec["name"]], tf.float32)
            if spec["loss"] == "distribution":  # the median whole number
                above = tf.cumsum(tf.nn.softmax(out, axis=-1), axis=-1) >= 0.5
                index = tf.argmax(tf.cast(above, tf.int32), axis=-1)
                served[f"{target['key']}_prediction"] = spec["low"] + tf.cast(index, tf.float32)
                continue
            if spec["task"] == "regression":
                served[f"{target['key']}_prediction"] = out[:, 0] * spec["std"] + spec["mean"]
                continue
            if spec["loss"] == "bce":
                positive = tf.sigmoid(out[:, 0])
                probabilities = tf.stack([1.0 - positive, positive], axis=1)
            else:
                probabilities = tf.nn.softmax(out, axis=-1)
            names = tf.constant(spec["classes"])
            served[f"{target['key']}_prediction"] = tf.gather(names, tf.argmax(probabilities, -1))
            served[f"{target['key']}_probabilities"] = probabilities
        return served


def input_tensors(description, values, path, lines):
    """``{key: tensor}`` for ``serve`` from raw fields: ``values`` maps each input column to
    its fields (stripped strings); a non-number in a numeric column is an InputError."""
    tensors = {}
    for item in description["inputs"]:
        fields = values[item["column"]]
        if item["kind"] == "numeric":
            tensors[item["key"]] = tf.constant(numeric_column(fields, path, lines,
                                                              item["column"]))
        else:
            tensors[item["key"]] = tf.constant(fields, tf.string)
    return tensors


def served_arrays(run, description, values, path, lines):
    """Per target ``(predictions, probabilities or None)`` as NumPy arrays (class names
    decoded to ``str``); ``run(tensors)`` calls ``serve``."""
    result = run(input_tensors(description, values, path, lines))
    arrays = {}
    for target in description["targets"]:
        prediction = result[f"{target['key']}_prediction"].numpy()
        if target["task"] == "classification":
            prediction = np.array([p.decode("utf-8") for p in prediction], object)
            arrays[target["name"]] = (prediction,
                                      result[f"{target['key']}_probabilities"].numpy())
        else:
            arrays[target["name"]] = (prediction.astype(np.float64), None)
    return arrays


def row_results(description, arrays, probabilities=True):
    """One Python dict per row from :func:`served_arrays`' output."""
    count = len(next(iter(arrays.values()))[0])
    rows = [{} for _ in range(count)]
    for target in description["targets"]:
        prediction, probs = arrays[target["name"]]
        for i, row in enumerate(rows):
            if target["task"] == "regression":
                row[target["name"]] = float(prediction[i])
            elif probabilities:
                row[target["name"]] = {"label": prediction[i], "probabilities": {
                    c: float(p) for c, p in zip(target["classes"], probs[i])}}
            else:
                row[target["name"]] = {"label": prediction[i]}
    return rows


def chunks_of(path, description, names=None, raw=False):
    """Yield the :class:`~applications.tabular.table.RowReader` (its columns), then
    ``(column values, lines)`` chunks of ``CHUNK`` rows of a table file, streaming (with
    ``raw``, ``(column values, lines, rows as field lists)``).

    The file needs the model's input columns: a header naming them, ``names``, or (for a
    model trained without a header) rows of all its columns, of all but the targets, or of
    its inputs only.
    """
    inputs = [i["column"] for i in description["inputs"]]
    targets = {t["name"] for t in description["targets"]}
    fallback = () if description["header"] else (
        description["columns"], [c for c in description["columns"] if c not in targets],
        [c for c in description["columns"] if c in inputs])
    reader = RowReader(path, names, expected=inputs, fallback=fallback)
    positions = [reader.columns.index(c) for c in inputs]
    yield reader
    batch, lines = [], []
    for number, fields in reader:
        batch.append(fields)
        lines.append(number)
        if len(batch) == CHUNK:
            yield _chunk(inputs, positions, batch, lines, raw)
            batch, lines = [], []
    if batch:
        yield _chunk(inputs, positions, batch, lines, raw)


def _chunk(names, positions, rows, lines, raw):
    values = {name: [row[p] for row in rows] for name, p in zip(names, positions)}
    return (values, lines, rows) if raw else (values, lines)


def predict_file(run, description, path, probabilities=True):
    """Row results (see :func:`row_results`) for every row of a table file."""
    path = os.fspath(path)
    chunks = chunks_of(path, description)
    next(chunks)  # the reader
    results = []
    for values, lines in chunks:
        results.extend(row_results(description, served_arrays(run, description, values, path,
                                                              lines), probabilities))
    return results


def predict_dicts(run, description, rows, probabilities=True):
    """Row results for rows given as ``{column: value}`` dicts (a single dict gives one)."""
    single = isinstance(rows, dict)
    rows = [rows] if single else list(rows)
    if not rows:
        return []
    values = {}
    for item in description["inputs"]:
        column = item["column"]
        if any(column not in row for row in rows):
            raise ValueError(f"every row needs column {column!r}")
        values[column] = ["" if row[column] is None else str(row[column]).strip()
                          for row in rows]
    lines = list(range(1, len(rows) + 1))
    results = row_results(description, served_arrays(run, description, values, "<rows>",
                                                     lines), probabilities)
    return results[0] if single else results


def call_signature(signature):
    """``run(tensors)`` over a SavedModel's ``serve`` signature (keyword arguments)."""
    return lambda tensors: signature(**tensors)


@exported_kind
class ExportedTabular(ExportedModel):
    """A tabular model's SavedModel: ``predict(path)`` and ``predict_rows(rows)`` as
    :class:`~applications.tabular.model.TabularModel` gives them."""

    @classmethod
    def matches(cls, signatures):
        serve, describe_fn = signatures.get("serve"), signatures.get("describe")
        if serve is None or describe_fn is None:
            return False
        outputs = set(serve.structured_outputs)
        if not outputs or not all(o.endswith(("_prediction", "_probabilities"))
                                  for o in outputs):
            return False
        return json.loads(describe_fn()["description"].numpy()).get("kind") == "tabular"

    def _parts(self):
        description = json.loads(self.signatures["describe"]()["description"].numpy())
        return call_signature(self.signatures["serve"]), description

    def predict(self, paths, probabilities=True):
        run, description = self._parts()
        return one_or_many(paths, lambda items: [
            predict_file(run, description, p, probabilities) for p in items])

    def predict_rows(self, rows, probabilities=True):
        run, description = self._parts()
        return predict_dicts(run, description, rows, probabilities)

