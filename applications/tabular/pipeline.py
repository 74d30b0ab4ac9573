"""From table files to the tabular model's batches.

The notes' "load all data" (:func:`load_all_data`: read a file, collect metadata, build X
and Y as arrays) and the ``tf.data`` path training uses (:func:`training_datasets`: the
same arrays, batched and shuffled each epoch).

Example::

    config = TabularConfig(names=["sex", "length", ...], targets=["rings", "sex"])
    meta, X, Y = load_all_data("abalone.csv", config)
    model = TabularModel(config.to_dict(), meta)
    model.train(lambda: load_all_batches("abalone.csv", meta, config), None, "runs/a", 5)
"""

import numpy as np
import tensorflow as tf

from applications.core import progress
from applications.tabular.columns import build_metadata, encode_inputs, encode_targets
from applications.tabular.config import TabularConfig
from applications.tabular.table import read_table
from data.epoch_order import epoch_permutation
from data.splits import held_out_split


def read(path, config=None, metadata=None, names=None):
    """Read a table for training or scoring: with the model's columns when ``metadata`` is
    given (a file without header then holds all its columns, or ``names`` says which)."""
    names = names or (config.names if config is not None else None)
    if metadata is None:
        return progress.reading(path, "rows", read_table, names or None, size=len)
    inputs = [f["name"] for f in metadata["features"]]
    wanted = inputs + [t["name"] for t in metadata["targets"]]
    fallback = () if metadata["header"] else (metadata["columns"],)
    return progress.reading(path, "rows", read_table, names or None, wanted, fallback,
                            size=len)


def load_all_data(path, config=None, metadata=None):
    """The notes' "load all data": ``(metadata, X, Y)`` of a table file.

    Args:
        path: a CSV/TSV file (``.gz`` too).
        config: a :class:`TabularConfig` (targets, column options); defaults when None.
        metadata: a trained model's metadata; built from this file when None.

    Returns:
        ``metadata`` (a JSON-able dict), X ``{"numeric": float32 [N, n] raw numbers (NaN
        missing), "categorical": int32 [N, c] ids}`` and Y float32 ``[N, targets]`` (class
        ids or standardised numbers, NaN missing).
    """
    config = config or TabularConfig()
    table = read(path, config, metadata)
    metadata = metadata or build_metadata(table, config)
    return metadata, encode_inputs(table, metadata), encode_targets(table, metadata)


def load_all_batches(path, metadata, config=None, shuffle=False):
    """The notes' "load all batches": a generator of ``(X, Y)`` batches of a table file.

    X and Y are as :func:`load_all_data` gives them (Y holds the targets themselves, not
    one-hot rows: class ids and standardised numbers side by side), ``config.batch_size``
    rows a batch, in an order drawn from ``config.seed`` when ``shuffle``.
    """
    config = config or TabularConfig()
    _, inputs, targets = load_all_data(path, config, metadata)
    order = (np.random.default_rng(config.seed).permutation(len(targets)) if shuffle
             else np.arange(len(targets)))
    for start in range(0, len(order), config.batch_size):
        rows = order[start:start + config.batch_size]
        yield {k: v[rows] for k, v in inputs.items()}, targets[rows]


def table_dataset(inputs, targets, batch_size, shuffle=False, seed=0, order=None):
    """Batches ``(inputs, targets)``; shuffled in a new order each epoch of ``order``."""
    count = len(targets)
    inputs = {k: tf.constant(v) for k, v in inputs.items()}
    targets = tf.constant(targets)
    if shuffle:
        ids = epoch_permutation(count, seed, order)
    else:
        ids = tf.data.Dataset.range(count)
    gather = lambda idx: ({k: tf.gather(v, idx) for k, v in inputs.items()},
                          tf.gather(targets, idx))
    return ids.batch(batch_size).map(gather).prefetch(2)


def training_datasets(config, train_path, dev_path=None, metadata=None, order=None):
    """``(metadata, train dataset, dev dataset or None)`` for ``train``.

    Without ``dev_path``, ``config.dev_split`` of the training rows (seeded by
    ``config.seed``, :func:`data.splits.held_out_split`) are held out as dev and the
    statistics and vocabularies come from the rest. ``metadata`` (a resumed run's) is used
    instead of building new statistics.
    """
    table = whole = read(train_path, config, metadata)
    dev, split = None, None
    if dev_path is None and config.dev_split > 0:
        kept, held = held_out_split(len(table), config.dev_split, config.seed)
        progress.held_out(train_path, len(held), len(table), "rows", config.dev_split,
                          config.seed)
        table, dev = table.rows(kept), table.rows(held)
        # What evaluate --held-out checks its file against.
        split = {"fraction": config.dev_split, "seed": config.seed, "rows": len(whole)}
    with progress.stage(f"indexing {progress.file_label(train_path)}", unit="rows") as step:
        if metadata is None:
            metadata = {**build_metadata(table, config, whole), "held_out": split}
        train_x, train_y = encode_inputs(table, metadata), encode_targets(table, metadata)
        step.count = len(table)
    if dev_path is not None:
        dev = read(dev_path, config, metadata)
    train_ds = table_dataset(train_x, train_y, config.batch_size, True, config.seed, order)
    dev_ds = None
    if dev is not None and len(dev):
        dev_ds = table_dataset(encode_inputs(dev, metadata), encode_targets(dev, metadata),
                               config.batch_size * 8)
    return metadata, train_ds, dev_ds
