"""From sentence pairs to training batches: vocabularies, ids and length-bucketed ``tf.data``.

Sentences are split by the in-graph :func:`~applications.translator.text.tokenize` that the
served model uses. A target becomes ``<s> w1 ... wn </s>``; the decoder reads
``target_in = <s> w1 ... wn`` and learns to predict ``target_out = w1 ... wn </s>``.
Training batches come from :func:`translation_dataset`; the notes' :func:`load_all_data`
and :func:`load_all_batches` give the same pairs as NumPy arrays with one-hot targets.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from applications.translator.config import TranslatorConfig
from applications.translator.text import tokenize_corpus
from data.errors import InputError
from data.padded_batches import padded_batches, stack_examples
from data.parallel_text import read_tab_pairs
from data.sequence_batches import bucket_by_length
from data.vocabulary import Vocabulary
from encoders.search import (BOS_ID, EOS_ID, PAD_ID, check_output_vocabulary,
                             output_vocabulary)


@dataclasses.dataclass
class TranslationMetadata:
    """What training collects from its pairs; it travels inside the saved model.

    Attributes:
        source: source-side words (``<pad>`` 0, ``<unk>`` 1).
        target: target-side words, with ``<s>`` 2 and ``</s>`` 3 after the two specials.
        lowercase_source, lowercase_target: how each side is tokenised.
    """

    source: Vocabulary
    target: Vocabulary
    lowercase_source: bool
    lowercase_target: bool

    @classmethod
    def from_tokens(cls, source_tokens, target_tokens, config):
        size = config.max_vocab or None
        source = Vocabulary.build(source_tokens, config.min_count, max_size=size)
        target = output_vocabulary(Vocabulary.build(target_tokens, config.min_count,
                                                    max_size=size))
        return cls(source, target, config.lowercase_source, config.lowercase_target)

    def __post_init__(self):
        check_output_vocabulary(self.target)

    def get_config(self):
        return {"source": self.source.get_config(), "target": self.target.get_config(),
                "lowercase_source": self.lowercase_source,
                "lowercase_target": self.lowercase_target}

    @classmethod
    def from_config(cls, config):
        return cls(Vocabulary.from_config(config["source"]),
                   Vocabulary.from_config(config["target"]),
                   bool(config["lowercase_source"]), bool(config["lowercase_target"]))


def corpus_tokens(corpus, lowercase_source, lowercase_target):
    """Token lists of both sides of a :class:`~data.parallel_text.ParallelCorpus`."""
    return (tokenize_corpus(corpus.sources, lowercase_source),
            tokenize_corpus(corpus.targets, lowercase_target))


def keep_short(source_tokens, target_tokens, max_length):
    """Indices of pairs whose sides both have between 1 and ``max_length`` tokens."""
    return [i for i, (s, t) in enumerate(zip(source_tokens, target_tokens))
            if 0 < len(s) <= max_length and 0 < len(t) <= max_length]


def encode_pairs(source_tokens, target_tokens, metadata):
    """Id arrays: sources ``[T_s]`` and targets ``<s> ... </s>`` ``[T_t + 2]``."""
    sources = [np.asarray(metadata.source.encode(tokens) or [PAD_ID], np.int32)
               for tokens in source_tokens]
    targets = [np.asarray([BOS_ID, *metadata.target.encode(tokens), EOS_ID], np.int32)
               for tokens in target_tokens]
    return sources, targets


def load_all_data(path, metadata=None, config=None):
    """The notes' "load all data": read sentence pairs, collect metadata, build X and Y.

    Args:
        path: tab-separated ``source<TAB>target`` lines (:func:`~data.parallel_text.read_tab_pairs`).
        metadata: a :class:`TranslationMetadata` (or its config, e.g. a trained model's
            ``metadata``); built from these pairs when None.
        config: a :class:`TranslatorConfig` (``reverse``, ``max_length``, lower-casing and
            vocabulary options); the defaults when None.

    Returns:
        ``(metadata, X, Y)``: X ``{"source": [N, Ts], "target_in": [N, Tt]}`` ids, each
        zero-padded to its longest, and Y ``[N, Tt, V]`` the one-hot ``target_out``. Pairs
        with a side longer than ``max_length`` tokens are left out, as in training.
    """
    examples, metadata = _pair_examples(path, metadata, config or TranslatorConfig())
    X, Y = stack_examples(examples, one_hot_depth=len(metadata.target))
    return metadata, X, Y


def load_all_batches(path, metadata, config=None, shuffle=False):
    """The notes' "load all batches": a generator of ``(X, Y)`` batches of sentence pairs.

    Each batch is X ``{"source": [B, Ts], "target_in": [B, Tt]}``, the model's input with
    each side padded to its longest in the batch, and Y ``[B, Tt, V]`` one-hot.

    Args:
        path: the pairs file (read now, so errors show at once).
        metadata: the training :class:`TranslationMetadata` or its config.
        config: a :class:`TranslatorConfig` (``batch_size``, ``seed`` and as above).
        shuffle: visit the pairs in an order drawn from ``config.seed``; else file order.
    """
    config = config or TranslatorConfig()
    examples, metadata = _pair_examples(path, metadata, config)
    return padded_batches(examples, config.batch_size, len(metadata.target), shuffle,
                          config.seed)


def _pair_examples(path, metadata, config):
    """``([({"source", "target_in"}, target_out), ...], metadata)`` of the kept pairs."""
    if metadata is not None and not isinstance(metadata, TranslationMetadata):
        metadata = TranslationMetadata.from_config(metadata)
    corpus = read_tab_pairs(path, config.reverse)
    options = metadata or config
    sources, targets = corpus_tokens(corpus, options.lowercase_source, options.lowercase_target)
    kept = keep_short(sources, targets, config.max_length)
    if not kept:
        raise InputError(f"no pair has both sides within max_length={config.max_length} "
                         "tokens", path)
    sources, targets = [sources[i] for i in kept], [targets[i] for i in kept]
    if metadata is None:
        metadata = TranslationMetadata.from_tokens(sources, targets, config)
    sources, targets = encode_pairs(sources, targets, metadata)
    examples = [({"source": s, "target_in": t[:-1]}, t[1:]) for s, t in zip(sources, targets)]
    return examples, metadata


def translation_dataset(sources, targets, batch_size, shuffle=True, seed=0, order=None):
    """``({"source", "target_in"}, target_out, weights)`` batches of similar-length pairs.

    Each pair is padded to the longer of its two sides, so the shared
    :func:`~data.sequence_batches.bucket_by_length` can group pairs by that length and pad
    both sides of a batch to its bucket's edge. Weights are 1 at real target tokens and 0
    at padding, so neither the loss nor the metrics count padding. ``order`` (the run's
    :class:`~data.epoch_order.EpochOrder`) picks each shuffled pass's order.
    """
    lengths = [max(len(s), len(t) - 1) for s, t in zip(sources, targets)]

    def flat(rows, offset=0, cut=0):
        out = np.zeros(sum(lengths), np.int32)
        position = 0
        for row, length in zip(rows, lengths):
            piece = row[offset:len(row) - cut]
            out[position:position + len(piece)] = piece
            position += length
        return out

    per_token = {"source": flat(sources), "target_in": flat(targets, cut=1),
                 "target_out": flat(targets, offset=1)}
    ds = bucket_by_length(per_token, {}, lengths, batch_size, shuffle, seed, order=order)

    def split(tokens, _):
        target_out = tokens["target_out"]
        return ({"source": tokens["source"], "target_in": tokens["target_in"]}, target_out,
                tf.cast(target_out > 0, tf.float32))

    ds = ds.map(split, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
