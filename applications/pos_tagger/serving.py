"""In-graph preprocessing for the tagger: raw sentences in, tags out.

``predict`` and the exported SavedModel both run this module, so they cannot disagree.
"""

import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind, one_or_many
from applications.core.serving import ServingModule

from data.sequence_batches import MAX_WORD_CHARS, TaggingMetadata
from data.tokenize import split_words

# The marks set apart as tokens, as UD English does; others (' - $ %) stay in their word.
TAGGER_MARKS = r"[.,!?;:\"()\[\]{}]|\.\.\."


def tokenize(sentences):
    """Split raw sentences into tokens the way UD English does: punctuation and clitics apart.

    ``"I don't know, Bob's car."`` -> ``I do n't know , Bob 's car .``
    """
    return split_words(sentences, marks=TAGGER_MARKS, letter=r"\w", ignore_case=True)


def _table(vocab):
    keys = tf.constant(vocab.items[vocab.specials:], tf.string)
    values = tf.range(vocab.specials, len(vocab), dtype=tf.int32)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), 1)


def _fixed_width_chars(tokens, table):
    """Character ids ``[n, MAX_WORD_CHARS]``: long words keep their first and last halves."""
    chars = tf.strings.unicode_split(tokens, "UTF-8")
    ids = tf.ragged.map_flat_values(table.lookup, chars)
    lengths = tf.cast(ids.row_lengths(), tf.int32)
    # Extra zero columns so short words can be read at every one of the fixed positions.
    dense = tf.pad(ids.to_tensor(0), [[0, 0], [0, MAX_WORD_CHARS]])
    positions = tf.range(MAX_WORD_CHARS)[tf.newaxis, :]
    half = MAX_WORD_CHARS // 2
    shift = tf.where((lengths[:, tf.newaxis] > MAX_WORD_CHARS) & (positions >= half),
                     lengths[:, tf.newaxis] - MAX_WORD_CHARS, 0)
    return tf.gather(dense, positions + shift, batch_dims=1)


class TaggerServer(ServingModule):
    """Wraps a trained :class:`PosTagger` with its vocabularies as lookup tables.

    ``serve(sentences)`` takes a batch of raw sentences (``tf.string``) and returns
    ``tokens``, ``tags`` (both ``[N, T]`` strings, padded with ``""``) and ``lengths``.
    """

    def __init__(self, model):
        super().__init__(model)
        meta = TaggingMetadata.from_config(model.metadata)
        self.word_table = _table(meta.words)
        self.char_table = _table(meta.chars)
        self.tag_names = tf.constant(meta.tags.items)

    def model_inputs(self, tokens):
        """The model's ``{"words", "chars"}`` ids for tokenised sentences (ragged
        ``[N, (T)]``)."""
        words = tf.ragged.map_flat_values(
            self.word_table.lookup, tf.strings.lower(tokens, encoding="utf-8"))
        chars = tf.RaggedTensor.from_row_lengths(
            _fixed_width_chars(tokens.flat_values, self.char_table), tokens.row_lengths())
        # At least one (padding) position: a batch of blank sentences has none to convolve.
        width = tf.maximum(tf.reduce_max(tokens.row_lengths()), 1)
        return {"words": words.to_tensor(0, shape=tf.stack([tokens.nrows(), width])),
                "chars": chars.to_tensor(0, shape=tf.stack([tokens.nrows(), width, -1]))}

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.string)])
    def tag_tokens(self, tokens):
        """Tags for already tokenised sentences (ragged ``[N, (T)]``)."""
        logits = self.model(self.model_inputs(tokens), training=False)
        # Id 0 is padding and never a real tag.
        ids = tf.argmax(logits[..., 1:], axis=-1, output_type=tf.int32) + 1
        tags = tf.gather(self.tag_names, ids)
        return tf.RaggedTensor.from_tensor(tags, lengths=tokens.row_lengths())

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    def serve(self, sentences):
        tokens = tokenize(sentences)
        tags = self.tag_tokens(tokens)
        return {"tokens": tokens.to_tensor(""), "tags": tags.to_tensor(""),
                "lengths": tokens.row_lengths()}


def tag_sentences(serve, sentences, batch_size=64):
    """``[(token, tag), ...]`` for each raw sentence, through a ``serve`` function.

    ``serve`` is :meth:`TaggerServer.serve` or an exported SavedModel's ``serve``
    signature; the ``predict`` command reads the same outputs.
    """
    tagged = []
    for start in range(0, len(sentences), batch_size):
        result = serve(sentences=tf.constant(sentences[start:start + batch_size]))
        for tokens, tags, length in zip(result["tokens"].numpy(), result["tags"].numpy(),
                                        result["lengths"].numpy()):
            tagged.append([(token.decode("utf-8"), tag.decode("utf-8"))
                           for token, tag in zip(tokens[:length], tags[:length])])
    return tagged


@exported_kind
class ExportedTagger(ExportedModel):
    """A tagger's SavedModel: ``predict(sentences)`` as :meth:`PosTagger.predict_raw`."""

    serve_outputs = frozenset({"tokens", "tags", "lengths"})

    def predict(self, sentences):
        serve = self.signatures["serve"]
        return one_or_many(sentences, lambda batch: tag_sentences(serve, batch))

    tag = predict
