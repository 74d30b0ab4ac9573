"""From tagged sentences to model inputs: the notes' "load all data" and "load all batches",
and the faster ``tf.data`` path used for training.

Every example is ``({"words": [T], "chars": [T, C]}, tags [T])`` in integer ids. The plain
functions pad with zeros and give one-hot targets; the ``tf.data`` path keeps sparse ids,
groups sentences of similar length and pads each group only to its bucket's boundary.
"""

import dataclasses

import numpy as np

from data.errors import InputError
from data.padded_batches import padded_batches, stack_examples
from data.tagged_text import read_tagged
from data.vocabulary import Vocabulary

# Long words keep their first and last characters: prefixes and suffixes carry the tag.
MAX_WORD_CHARS = 16


@dataclasses.dataclass
class TaggingMetadata:
    """What "load all data" collects from a training corpus.

    Attributes:
        words: lower-cased word forms.
        chars: characters of the original forms (case kept: it tells proper nouns apart).
        tags: the tag set; unseen tags are errors.
        max_length: the longest training sentence, in tokens.
    """

    words: Vocabulary
    chars: Vocabulary
    tags: Vocabulary
    max_length: int = 0

    @classmethod
    def from_sentences(cls, sentences, min_word_count=1, tag_sentences=None):
        """Vocabularies of ``sentences``; the tags from ``tag_sentences`` when given (a
        whole training file, of which ``sentences`` are the part kept for training)."""
        forms = [sentence.tokens for sentence in sentences]
        tagged = sentences if tag_sentences is None else tag_sentences
        return cls(
            words=Vocabulary.build(([t.lower() for t in toks] for toks in forms), min_word_count),
            chars=Vocabulary.build((c for toks in forms for c in toks), min_count=1),
            tags=Vocabulary.build((sentence.tags for sentence in tagged), unk=False),
            max_length=max(len(toks) for toks in forms),
        )

    def encode_tokens(self, tokens):
        words = np.asarray(self.words.encode([t.lower() for t in tokens]), np.int32)
        chars = np.zeros((len(tokens), MAX_WORD_CHARS), np.int32)
        half = MAX_WORD_CHARS // 2
        for i, token in enumerate(tokens):
            if len(token) > MAX_WORD_CHARS:
                token = token[:half] + token[-half:]
            chars[i, : len(token)] = self.chars.encode(token)
        return {"words": words, "chars": chars}

    @property
    def unseen_tag_id(self):
        """The id evaluation gives a tag never seen in training: one past the known ids, so
        it weighs as a real token and no prediction matches it."""
        return len(self.tags)

    def encode_tags(self, tags, path=None, lines=None, unseen_ok=False):
        """Tag ids; an unseen tag is an :class:`InputError`, or with ``unseen_ok``
        :attr:`unseen_tag_id` (evaluation counts it as an error)."""
        ids = np.zeros(len(tags), np.int32)
        for i, tag in enumerate(tags):
            if tag not in self.tags:
                if unseen_ok:
                    ids[i] = self.unseen_tag_id
                    continue
                line = lines[i] if lines else None
                raise InputError(f"tag {tag!r} was never seen in training", path, line)
            ids[i] = self.tags.index[tag]
        return ids

    def get_config(self):
        return {
            "words": self.words.get_config(),
            "chars": self.chars.get_config(),
            "tags": self.tags.get_config(),
            "max_length": self.max_length,
        }

    @classmethod
    def from_config(cls, config):
        return cls(
            words=Vocabulary.from_config(config["words"]),
            chars=Vocabulary.from_config(config["chars"]),
            tags=Vocabulary.from_config(config["tags"]),
            max_length=config["max_length"],
        )


def encode_sentences(sentences, metadata, path=None, unseen_ok=False):
    """Turn :class:`TaggedSentence` s into (features, tag ids) examples.

    ``unseen_ok`` (evaluation): a tag never seen in training gets
    :attr:`TaggingMetadata.unseen_tag_id` instead of being an error.
    """
    return [(metadata.encode_tokens(s.tokens),
             metadata.encode_tags(s.tags, path, s.lines, unseen_ok)) for s in sentences]


def load_all_data(path, metadata=None, tag_column="upos", one_hot_labels=True,
                  min_word_count=1):
    """The notes' "load all data": read a tagged file, collect metadata, build X and Y.

    Args:
        path: a CoNLL-U or two-column file.
        metadata: a :class:`TaggingMetadata` from training; built from this file when None.
        tag_column: ``upos`` or ``xpos`` for CoNLL-U files.
        one_hot_labels: Y as one-hot ``[N, T, K]`` floats, else ids ``[N, T]``.
        min_word_count: words seen fewer times are ``<unk>`` (new metadata only).

    Returns:
        ``(metadata, X, Y)`` with X a dict of zero-padded arrays ``words [N, T]`` and
        ``chars [N, T, C]``, T the longest sentence in the file.

    Example:
        >>> meta, X, Y = load_all_data("train.conllu")  # doctest: +SKIP
        >>> X["words"].shape, Y.shape
        ((12544, 159), (12544, 159, 18))
    """
    sentences = read_tagged(path, tag_column)
    if metadata is None:
        metadata = TaggingMetadata.from_sentences(sentences, min_word_count)
    examples = encode_sentences(sentences, metadata, path)
    X, Y = stack_examples(examples, one_hot_depth=len(metadata.tags) if one_hot_labels else None)
    return metadata, X, Y


def load_all_batches(examples, batch_size, num_tags, shuffle=True, seed=0):
    """The notes' "load all batches": yield ``(X, Y)`` batches padded to their longest sentence.

    Y is one-hot ``[B, T, num_tags]``. Padding positions have word id 0 and an all-zero Y
    row, so a model can mask them. The shared :func:`~data.padded_batches.padded_batches`
    does the work; ``applications.pos_tagger.pipeline.load_all_batches`` reads a file first.

    Args:
        examples: from :func:`encode_sentences`.
        batch_size: sentences per batch.
        num_tags: size of the tag vocabulary (the one-hot depth).
        shuffle: visit the examples in a seeded random order.
        seed: the shuffle seed.
    """
    return padded_batches(examples, batch_size, num_tags, shuffle, seed)


def default_boundaries(max_length):
    """Bucket edges growing ~25% at a time, so padding stays small and shapes stay few."""
    edges, edge = [], 8
    while edge <= max_length:
        edges.append(edge)
        edge = max(edge + 4, int(edge * 1.25))
    edges.append(max_length + 1)
    return edges


def bucket_by_length(per_token, per_example, lengths, batch_size, shuffle=True, seed=0,
                     boundaries=None, max_tokens=0, order=None):
    """Length-bucketed ``tf.data`` batches from flat arrays; the one batching path for training.

    Args:
        per_token: dict of arrays whose first axis is all examples' tokens concatenated
            (``sum(lengths)`` rows); each example gets its own slice, padded with zeros.
        per_example: dict of arrays with one row per example (e.g. a class label).
        lengths: tokens per example.
        max_tokens: if > 0, a bucket padded to length L holds at most ``max_tokens // L``
            examples (and at least one), so batches of long examples are no larger in
            tokens than a full batch of short ones: the peak memory of a step is bounded.
        order: with ``shuffle``, the run's :class:`~data.epoch_order.EpochOrder`, which
            picks each pass's order (without one every pass has the same order).

    Examples of similar length are batched together and padded to their bucket's edge, so
    few positions are padding and only ``len(boundaries) + 1`` batch shapes ever occur (one
    compilation each under XLA). Yields ``(per_token batch dict, per_example batch dict)``.
    """
    import tensorflow as tf

    from data.epoch_order import epoch_permutation, epoch_pipeline_options

    lengths = np.asarray(lengths, np.int64)
    if boundaries is None:
        boundaries = default_boundaries(int(lengths.max()))
    starts = tf.constant(np.concatenate([[0], np.cumsum(lengths)[:-1]]), tf.int64)
    sizes = tf.constant(lengths)
    # Held in the narrowest integer type that fits (character ids: uint8, a quarter of the
    # int32 size) and widened back per example, so batches are unchanged.
    flat = {name: _compact(values) for name, values in per_token.items()}
    rows = {name: _compact(values) for name, values in per_example.items()}

    def example(i):
        # Slicing one flat array per feature is far cheaper than a Python generator.
        span = slice(starts[i], starts[i] + sizes[i])
        return ({name: tf.cast(values[span], dtype) for name, (values, dtype) in flat.items()},
                {name: tf.cast(values[i], dtype) for name, (values, dtype) in rows.items()})

    # A new order each epoch that depends only on (seed, epoch): a resumed run can skip
    # exactly the batches it had trained (data.epoch_order).
    ds = (epoch_permutation(len(lengths), seed, order) if shuffle
          else tf.data.Dataset.range(len(lengths)))
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    first = next(iter(per_token))
    sizes_per_bucket = bucket_batch_sizes(boundaries, int(lengths.max()), batch_size, max_tokens)
    ds = ds.bucket_by_sequence_length(
        element_length_func=lambda tokens, _: tf.shape(tokens[first])[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=sizes_per_bucket,
        pad_to_bucket_boundary=True,
    )
    if shuffle:
        # Buckets fill at different rates, so batches come out grouped by length; mix them.
        # Same seed every pass: the order still changes with the epoch's example order, and
        # a resumed run sees the same batches (reshuffling would draw from a hidden counter).
        ds = ds.shuffle(64, seed=seed, reshuffle_each_iteration=False)
    # Known size lets Keras show progress and avoids its "ran out of data" warning.
    bucket_of = np.searchsorted(np.asarray(boundaries), lengths, side="right")
    batches = int(sum(-(-count // size) for count, size
                      in zip(np.bincount(bucket_of), sizes_per_bucket)))
    ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    # tf.data's default graph rewrites (fusions this pipeline has nothing for) serialise the
    # dataset and so copy every array above into each iterator: 15 MB more on UD English.
    options = epoch_pipeline_options()
    options.experimental_optimization.apply_default_optimizations = False
    return ds.with_options(options)


def bucket_batch_sizes(boundaries, max_length, batch_size, max_tokens=0):
    """Examples per batch in each of the ``len(boundaries) + 1`` buckets.

    ``batch_size`` everywhere, or with ``max_tokens`` > 0 as many as fit in ``max_tokens``
    once padded to the bucket's edge (the last bucket's edge is the longest example).
    """
    edges = [edge - 1 for edge in boundaries] + [max(max_length, boundaries[-1])]
    if max_tokens <= 0:
        return [batch_size] * len(edges)
    return [max(1, min(batch_size, max_tokens // edge)) for edge in edges]


def _compact(values):
    """``(tf.constant in the smallest integer type holding values, the original dtype)``."""
    import tensorflow as tf

    values = np.asarray(values)
    original = tf.as_dtype(values.dtype)
    if original.is_integer and values.size:
        low, high = values.min(), values.max()
        for small in (np.uint8, np.int16):
            info = np.iinfo(small)
            if info.min <= low and high <= info.max and np.dtype(small).itemsize < values.itemsize:
                return tf.constant(values.astype(small)), original
    return tf.constant(values), original


def bucketed_dataset(examples, batch_size, shuffle=True, seed=0, boundaries=None,
                     max_tokens=0, order=None):
    """The tagger's training path: ``(features, tag ids, weights)`` batches.

    Built on :func:`bucket_by_length` (``max_tokens`` caps a batch's padded tokens;
    ``order`` picks each pass's order); weights are 1 at real tokens and 0 at padding.
    """
    import tensorflow as tf

    names = list(examples[0][0])
    per_token = {name: np.concatenate([feats[name] for feats, _ in examples]) for name in names}
    per_token["_tags"] = np.concatenate([labels for _, labels in examples])
    lengths = [len(labels) for _, labels in examples]
    ds = bucket_by_length(per_token, {}, lengths, batch_size, shuffle, seed, boundaries,
                          max_tokens, order)

    def split(tokens, _):
        tags = tokens.pop("_tags")
        return tokens, tags, tf.cast(tags > 0, tf.float32)

    ds = ds.map(split, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
