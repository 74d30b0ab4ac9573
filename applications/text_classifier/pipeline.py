"""From a text table to training batches: the label set, the word vocabulary, and ``tf.data``.

Texts are tokenised by the same in-graph function the served model uses
(:func:`~applications.text_classifier.serving.encode_texts`), run once over the corpus; the
batches group texts of similar length, as the tagger's do. The notes' :func:`load_all_data`
and :func:`load_all_batches` give the same texts as NumPy arrays with one-hot labels.
"""

import collections
import dataclasses

import numpy as np
import tensorflow as tf

from applications.core.evaluation import UNSEEN_ID
from applications.text_classifier.config import ClassifierConfig
from applications.text_classifier.serving import encode_texts, tokenize, vocabulary_table
from data.errors import InputError
from data.padded_batches import padded_batches, stack_examples
from data.sequence_batches import bucket_by_length
from data.text_table import read_text_table
from data.vocabulary import Vocabulary

TASKS = ("auto", "binary", "multiclass", "multilabel")
_TRUE, _FALSE = {"1", "1.0", "true", "yes"}, {"0", "0.0", "false", "no"}
_CHUNK = 2048
# A label column with a different value on each of at least this many rows is refused (an id).
DISTINCT_ROWS = 10


@dataclasses.dataclass
class TextMetadata:
    """What training collects from its table; it travels inside the saved model.

    Attributes:
        words: the word vocabulary (lower-cased tokens of :func:`tokenize`).
        labels: class names (binary / multi-class) or label column names (multi-label).
        task: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        text_column: header name of the text column in training.
        label_columns: header names of the label columns in training.
        max_length: texts are cut to this many tokens.
    """

    words: Vocabulary
    labels: list
    task: str
    text_column: str
    label_columns: list
    max_length: int

    @classmethod
    def from_table(cls, table, task="auto", max_length=400, max_vocab=None, min_word_count=1,
                   whole=None):
        """Choose the task from the label columns and build the vocabulary from the texts.

        With ``whole`` (the file's table, ``table`` being the rows kept for training), the
        label values come from every row, so a value only held-out rows have is a label.
        """
        if task not in TASKS:
            raise InputError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
        if task == "auto":
            task = "multilabel" if len(table.label_columns) > 1 else "classes"
        if task == "multilabel":
            labels = list(table.label_columns)
        else:
            if len(table.label_columns) != 1:
                raise InputError(f"a {task} task takes one label column, not "
                                 f"{len(table.label_columns)}", table.path, 1)
            labels = sorted({row[0] for row in (table if whole is None else whole).labels},
                            key=_label_order)
            if len(labels) < 2:
                raise InputError(f"column {table.label_columns[0]!r} holds one label value "
                                 f"({labels[0]!r}); a classifier needs two or more", table.path)
            rows = len((table if whole is None else whole).labels)
            if rows >= DISTINCT_ROWS and len(labels) == rows:
                raise InputError(f"column {table.label_columns[0]!r} has a different value on "
                                 f"each of its {rows} rows, as an id does: name the label "
                                 "column, whose values repeat", table.path)
            if task == "classes":
                task = "binary" if len(labels) == 2 else "multiclass"
            elif task == "binary" and len(labels) != 2:
                raise InputError(f"a binary task needs 2 label values, found {len(labels)}",
                                 table.path)
        counts = collections.Counter()
        for start in range(0, len(table.texts), _CHUNK):
            counts.update(tokenize(tf.constant(table.texts[start:start + _CHUNK]))
                          .flat_values.numpy().tolist())
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ranked = [(w, c) for w, c in ranked if c >= min_word_count][:max_vocab or None]
        words = Vocabulary([w.decode("utf-8") for w, _ in ranked],
                           counts=[c for _, c in ranked])
        return cls(words, labels, task, table.text_column, list(table.label_columns),
                   max_length)

    def encode_labels(self, table, unseen_ok=False):
        """Targets for a table read with this model's label columns; unseen labels are errors.

        Binary: ``[N, 1]`` floats (1 = the second label name); multi-class: ``[N]`` ids;
        multi-label: ``[N, K]`` floats from 0/1 values. With ``unseen_ok`` (evaluation) a
        label never seen in training gets :data:`~applications.core.evaluation.UNSEEN_ID`
        (binary and multi-class), which no prediction matches.
        """
        if self.task == "multilabel":
            targets = np.zeros((len(table.labels), len(self.labels)), np.float32)
            for i, row in enumerate(table.labels):
                for k, value in enumerate(row):
                    lowered = value.lower()
                    if lowered not in _TRUE and lowered not in _FALSE:
                        raise InputError(
                            f"multi-label column {table.label_columns[k]!r} must hold 0 or 1, "
                            f"not {value!r}", table.path, table.lines[i],
                            table.label_positions[k])
                    targets[i, k] = lowered in _TRUE
            return targets
        index = {name: i for i, name in enumerate(self.labels)}
        ids = np.zeros(len(table.labels), np.int32)
        for i, row in enumerate(table.labels):
            if row[0] not in index:
                if unseen_ok:
                    ids[i] = UNSEEN_ID
                    continue
                raise InputError(f"label {row[0]!r} was never seen in training", table.path,
                                 table.lines[i], table.label_positions[0])
            ids[i] = index[row[0]]
        return ids[:, None].astype(np.float32) if self.task == "binary" else ids

    def get_config(self):
        return {"words": self.words.get_config(), "labels": list(self.labels),
                "task": self.task, "text_column": self.text_column,
                "label_columns": list(self.label_columns), "max_length": self.max_length}

    @classmethod
    def from_config(cls, config):
        return cls(Vocabulary.from_config(config["words"]), list(config["labels"]),
                   config["task"], config["text_column"], list(config["label_columns"]),
                   int(config["max_length"]))


def _label_order(name):
    """Numeric labels in numeric order (``2`` before ``10``), others alphabetically after."""
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def encode_corpus(texts, metadata):
    """Word-id arrays, one per text, by the served model's own tokenizer and table."""
    table = vocabulary_table(metadata.words)
    encoded = []
    for start in range(0, len(texts), _CHUNK):
        ids = encode_texts(tf.constant(texts[start:start + _CHUNK]), table,
                           metadata.max_length).numpy()
        lengths = (ids > 0).sum(axis=1)
        # A text with no tokens keeps one padding id: every example needs a length of 1 or more.
        encoded.extend(row[:max(n, 1)] for row, n in zip(ids, lengths))
    return encoded


def load_all_data(path, metadata=None, config=None):
    """The notes' "load all data": read a text table, collect metadata, build X and Y.

    Args:
        path: a CSV/TSV file with a header (see :func:`~data.text_table.read_text_table`).
        metadata: a :class:`TextMetadata` (or its config, e.g. a trained model's
            ``metadata``); built from this table when None.
        config: a :class:`ClassifierConfig` (columns, task, ``max_length``, vocabulary
            options); the defaults when None.

    Returns:
        ``(metadata, X, Y)``: X word ids ``[N, T]`` zero-padded to the longest text (at most
        ``max_length`` tokens), Y one-hot ``[N, classes]`` (binary: two columns;
        multi-label: the 0/1 label columns ``[N, K]``).
    """
    examples, metadata = _table_examples(path, metadata, config or ClassifierConfig())
    X, Y = stack_examples(examples, one_hot_depth=_one_hot_depth(metadata))
    return metadata, X, Y


def load_all_batches(path, metadata, config=None, shuffle=False):
    """The notes' "load all batches": a generator of ``(X, Y)`` batches of a text table.

    Each batch is X word ids ``[B, T]`` padded to its longest text, the classifier's input,
    and Y one-hot ``[B, classes]`` as in :func:`load_all_data`.

    Args:
        path: the table (read now, so errors show at once).
        metadata: the training :class:`TextMetadata` or its config.
        config: a :class:`ClassifierConfig` (``batch_size``, ``seed``).
        shuffle: visit the texts in an order drawn from ``config.seed``; else in file order.
    """
    config = config or ClassifierConfig()
    examples, metadata = _table_examples(path, metadata, config)
    return padded_batches(examples, config.batch_size, _one_hot_depth(metadata), shuffle,
                          config.seed)


def _table_examples(path, metadata, config):
    """``([(word ids, label), ...], metadata)``: a class id per text, or its 0/1 row."""
    if metadata is None:
        table = read_text_table(path, config.text_column or None, config.label_columns or None)
        metadata = TextMetadata.from_table(table, config.task, config.max_length,
                                           config.max_vocab, config.min_word_count)
    else:
        if not isinstance(metadata, TextMetadata):
            metadata = TextMetadata.from_config(metadata)
        table = read_text_table(path, metadata.text_column, metadata.label_columns)
    targets = metadata.encode_labels(table)
    if metadata.task == "binary":  # [N, 1] floats: the second class is 1
        targets = targets[:, 0].astype(np.int32)
    return list(zip(encode_corpus(table.texts, metadata), targets)), metadata


def _one_hot_depth(metadata):
    return None if metadata.task == "multilabel" else len(metadata.labels)


def text_dataset(encoded, targets, batch_size, shuffle=True, seed=0, order=None):
    """``tf.data`` batches ``(word ids [B, T], targets)`` with texts of similar length together.

    Each batch is padded to its length bucket's edge, so only a few shapes occur (one
    compilation each under XLA) and little compute goes to padding. ``order`` (the run's
    :class:`~data.epoch_order.EpochOrder`) picks each shuffled pass's order.
    """
    lengths = [len(ids) for ids in encoded]
    ds = bucket_by_length({"ids": np.concatenate([np.asarray(ids, np.int32) for ids in encoded])},
                          {"target": np.asarray(targets)}, lengths, batch_size, shuffle, seed,
                          order=order)
    ds = ds.map(lambda tokens, rows: (tokens["ids"], rows["target"]))
    return ds.prefetch(tf.data.AUTOTUNE)
