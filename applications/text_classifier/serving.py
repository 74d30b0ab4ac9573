"""In-graph text preprocessing for the classifier: raw strings in, probabilities out.

Training batches, ``predict``, ``evaluate`` and the exported SavedModel all turn text into
word ids with :func:`encode_texts`, so they cannot disagree about a token.
"""

import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind, one_or_many
from applications.core.serving import ServingModule
from data.tokenize import split_words
from data.vocabulary import Vocabulary


def tokenize(texts):
    """Lower-case and split raw texts into words: ragged ``[N, (T)]`` strings.

    HTML line breaks (IMDB) become spaces; punctuation is split off, and so are the clitics
    ``n't``, ``'s``, ``'re``, ``'ll``, ``'ve``, ``'m``, ``'d`` (the form SST-2 is written in).

    ``"Don't stop, it's GREAT!"`` -> ``do n't stop , it 's great !``
    """
    text = tf.strings.lower(texts, encoding="utf-8")
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    return split_words(text)


def vocabulary_table(words):
    """A lookup table from the saved words to their ids; unseen words get id 1 (``<unk>``)."""
    keys = tf.constant(words.items[words.specials:], tf.string)
    values = tf.range(words.specials, len(words), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), 1)


def encode_texts(texts, table, max_length):
    """Word ids ``[N, T]`` (0-padded, T ≤ ``max_length``) for a batch of raw texts."""
    tokens = tokenize(texts)[:, :max_length]
    ids = tf.ragged.map_flat_values(table.lookup, tokens)
    return tf.cast(ids.to_tensor(0), tf.int32)


class ClassifierServer(ServingModule):
    """Wraps a trained :class:`TextClassifier` with its vocabulary as a lookup table.

    ``serve(texts)`` takes a batch of raw ``tf.string`` texts and returns
    ``probabilities`` ``[N, K]``, ``label_names`` ``[N, K]`` (the same K names in every
    row, so every output is batch-major) and ``predicted`` ``[N]``: the most probable label,
    or for multi-label models the labels above 0.5 joined by commas.

    Args:
        model: a trained :class:`TextClassifier`.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.serve(tf.constant(["a fine film"]))["predicted"].numpy()
        array([b'positive'], dtype=object)
    """

    def __init__(self, model):
        super().__init__(model)
        # The saved metadata as TextMetadata.get_config() wrote it; read here directly, as the
        # pipeline imports this module's tokenizer.
        meta = model.metadata
        self.task = meta["task"]
        self.max_length = int(meta["max_length"])
        self.word_table = vocabulary_table(Vocabulary.from_config(meta["words"]))
        self.label_names = tf.constant(list(meta["labels"]))

    def _probabilities(self, texts, training):
        logits = self.model(encode_texts(texts, self.word_table, self.max_length),
                            training=training)
        if self.task == "multiclass":
            return tf.nn.softmax(logits, axis=-1)
        probabilities = tf.sigmoid(logits)
        if self.task == "binary":
            return tf.concat([1.0 - probabilities, probabilities], axis=-1)
        return probabilities

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(self, texts):
        probabilities = self._probabilities(texts, training=False)
        count = tf.shape(texts)[0]
        names = tf.tile(self.label_names[tf.newaxis, :], [count, 1])
        if self.task == "multilabel":
            chosen = tf.ragged.boolean_mask(names, probabilities > 0.5)
            predicted = tf.strings.reduce_join(chosen, axis=-1, separator=",")
        else:
            predicted = tf.gather(self.label_names, tf.argmax(probabilities, axis=-1))
        return {"probabilities": probabilities, "label_names": names, "predicted": predicted}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def sample(self, texts):
        """One Monte-Carlo-dropout draw: probabilities with dropout left on."""
        return self._probabilities(texts, training=True)


def classify_texts(serve, texts, batch_size=256):
    """``{"label", "probabilities"}`` for each raw text, through a ``serve`` function.

    ``serve`` is :meth:`ClassifierServer.serve` or an exported SavedModel's ``serve``
    signature. ``label`` is the served prediction as the ``predict`` command writes it (for
    a multi-label model, the labels above 0.5 joined by commas); ``probabilities`` maps
    every label name to its probability.
    """
    results = []
    for start in range(0, len(texts), batch_size):
        served = serve(texts=tf.constant(texts[start:start + batch_size]))
        for label, row, names in zip(served["predicted"].numpy(),
                                     served["probabilities"].numpy(),
                                     served["label_names"].numpy()):
            results.append({"label": label.decode("utf-8"),
                            "probabilities": {name.decode("utf-8"): float(p)
                                              for name, p in zip(names, row)}})
    return results


@exported_kind
class ExportedClassifier(ExportedModel):
    """A text classifier's SavedModel: ``predict(texts)`` as :meth:`TextClassifier.predict_raw`."""

    serve_outputs = frozenset({"probabilities", "label_names", "predicted"})

    def predict(self, texts):
        serve = self.signatures["serve"]
        return one_or_many(texts, lambda batch: classify_texts(serve, batch))

    classify = predict
