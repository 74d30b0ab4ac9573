"""The tabular application's part of the shared command line."""

import csv

import numpy as np

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from applications.tabular.columns import encode_targets, numeric_column
from applications.tabular.config import TASKS, TabularConfig
from applications.tabular.model import TabularModel
from applications.tabular.pipeline import read, training_datasets
from applications.tabular.sample_data import TARGETS, sample_paths
from applications.tabular.scoring import classification_scores, regression_scores
from applications.tabular.serving import CHUNK, chunks_of, describe, served_arrays
from data.errors import InputError
from data.files import source_name
from data.splits import held_out_part


class TabularCommands(AppCommands):
    name = "tabular"
    config_class = TabularConfig
    model_class = TabularModel

    def add_arguments(self, verb, parser):
        if verb in ("train", "evaluate", "predict"):
            parser.add_argument("--names", help="comma-separated column names of a file "
                                "without a header line")
        if verb == "train":
            parser.add_argument("--target", action="append", default=[], metavar="COLUMN",
                                help="a column to predict (repeat for several; default: "
                                     "the last column)")
            parser.add_argument("--numeric", help="columns to read as numbers (comma-separated)")
            parser.add_argument("--categorical", help="columns to read as categories")
            parser.add_argument("--ignore", help="columns to leave out of the inputs")
            parser.add_argument("--task", action="append", default=[], metavar="COLUMN=KIND",
                                help="classification or regression for a target, overriding "
                                     "detection")
        if verb == "evaluate":
            parser.add_argument("--held-out", action="store_true",
                                help="score only the rows of --data that training held out "
                                     "as dev (dev_split, same seed)")
        if verb == "predict":
            parser.add_argument("--probabilities", action="store_true",
                                help="also write each class's probability")

    def read_training_data(self, args, config, metadata=None, order=None):
        for flag in ("names", "numeric", "categorical", "ignore"):
            if getattr(args, flag):
                setattr(config, flag, _names(getattr(args, flag)))
        if args.target:
            config.targets = [t.strip() for t in args.target]
        for text in args.task:
            column, _, kind = text.partition("=")
            if kind.strip() not in TASKS:
                raise UsageError(f"--task {text}: expected COLUMN=classification or "
                                 "COLUMN=regression")
            config.tasks = {**config.tasks, column.strip(): kind.strip()}
        if config.categorical_encoding not in ("embedding", "onehot"):
            raise UsageError("categorical_encoding must be embedding or onehot, not "
                             f"{config.categorical_encoding!r}")
        if not 0.0 <= config.encoding_dropout < 1.0:
            raise UsageError(f"encoding_dropout must be in [0, 1), not {config.encoding_dropout}")
        if not args.train and not config.targets:
            config.targets = list(TARGETS)
        train_path = args.train or sample_paths()["train"]
        dev_path = args.dev or (None if args.train else sample_paths()["dev"])
        metadata, train_ds, dev_ds = training_datasets(config, train_path, dev_path, metadata,
                                                       order)
        config.targets = [t["name"] for t in metadata["targets"]]
        return metadata, train_ds, dev_ds

    def evaluate(self, model, args):
        path = args.data or sample_paths()["dev"]
        table = read(path, None, model.metadata, _names(args.names))
        if args.held_out:
            table = held_out_rows(table, model)
        encode_targets(table, model.metadata)  # refuses unknown classes and bad numbers
        arrays = served_table(model, table, f"scoring {progress.file_label(path)}")
        scores = {}
        for spec in model.metadata["targets"]:
            values = table.values[spec["name"]]
            predicted, probabilities = arrays[spec["name"]]
            if spec["task"] == "regression":
                truth = numeric_column(values, table.path, table.lines, spec["name"])
                present = ~np.isnan(truth)
            else:
                ids = {c: i for i, c in enumerate(spec["classes"])}
                present = np.array([v in ids for v in values])
            if not present.any():
                raise InputError(f"column {spec['name']} has no values to score", path)
            if spec["task"] == "regression":
                scores[spec["name"]] = regression_scores(truth[present], predicted[present])
            else:
                truth = np.array([ids[v] for v in values if v in ids], np.int64)
                scores[spec["name"]] = classification_scores(truth, probabilities[present])
        return next(iter(scores.values())) if len(scores) == 1 else scores

    def predict(self, model, args, out):
        from applications.core.api import model_server

        description = describe(model)
        run = model_server(model).serve
        chunks = chunks_of(args.input, description, _names(args.names), raw=True)
        reader = next(chunks)
        header = list(reader.columns)
        for target in description["targets"]:
            header.append(f"{target['name']}_prediction")
            if args.probabilities and target["task"] == "classification":
                header += [f"{target['name']}_probability_{c}" for c in target["classes"]]
        source = source_name(args.input)
        taken = [name for name in header[len(reader.columns):] if name in reader.columns]
        if taken:
            raise InputError(f"the table already has a column named {taken[0]}, which "
                             "predict adds: rename or drop it", source)
        if reader.delimiter == "\t":  # fields were read literally: written back so
            writer = _TabWriter(out)
        else:
            writer = csv.writer(out, delimiter=reader.delimiter, lineterminator="\n")
        writer.writerow(header)
        label = f"predicting {progress.file_label(args.input)}"
        for values, lines, rows in progress.track(chunks, label, unit="rows",
                                                  size=lambda chunk: len(chunk[1])):
            arrays = served_arrays(run, description, values, source, lines)
            for i, row in enumerate(rows):
                for target in description["targets"]:
                    predicted, probabilities = arrays[target["name"]]
                    if target["task"] == "regression":
                        row.append(str(np.float32(predicted[i])))  # shortest exact form
                        continue
                    row.append(predicted[i])
                    if args.probabilities:
                        row += [f"{p:.6f}" for p in probabilities[i]]
                writer.writerow(row)


def held_out_rows(table, model):
    """The rows of ``table`` (the training file) that training held out as dev.

    Raises:
        UsageError: the model held nothing out (trained with ``--dev`` or ``dev_split=0``).
        InputError: the file has not the training file's row count, or no row was held out.
    """
    split = model.metadata.get("held_out", {"fraction": model.config.get("dev_split"),
                                            "seed": model.config["seed"]})  # older models
    if not split or not split["fraction"]:
        raise UsageError("--held-out: this model held no rows out (trained with --dev or "
                         "dev_split=0)")
    if split.get("rows", len(table)) != len(table):
        raise InputError(f"--held-out: {len(table):,} rows, but the model's training file had "
                         f"{split['rows']:,}; give the file it was trained on", table.path)
    return table.rows(held_out_part(len(table), split["fraction"], split["seed"], table.path))


def served_table(model, table, label="scoring"):
    """:func:`~applications.tabular.serving.served_arrays` over a whole table, in chunks."""
    from applications.core.api import model_server

    description, run = describe(model), model_server(model).serve
    inputs = [item["column"] for item in description["inputs"]]
    parts = []
    for start in progress.track(range(0, len(table), CHUNK), label, total=len(table),
                                unit="rows", size=lambda s: min(CHUNK, len(table) - s)):
        part = table.rows(range(start, min(start + CHUNK, len(table))))
        parts.append(served_arrays(run, description, {c: part.values[c] for c in inputs},
                                   table.path, part.lines))
    return {name: (np.concatenate([p[name][0] for p in parts]),
                   None if parts[0][name][1] is None
                   else np.concatenate([p[name][1] for p in parts]))
            for name in parts[0]}


class _TabWriter:
    """Rows of a tab-separated file, fields as they are (TSV has no quoting)."""

    def __init__(self, out):
        self.out = out

    def writerow(self, row):
        self.out.write("\t".join(row) + "\n")


def _names(text):
    return [name.strip() for name in text.split(",") if name.strip()] if text else []
