"""The text classifier: a many-to-one application on the shared base."""

import keras

from applications.core.base import Application
from applications.text_classifier.pipeline import TextMetadata
from applications.core.word_dropout import drop_words, word_drop_probabilities
from encoders import build_encoder
from encoders.embeddings import word_embedding


@keras.saving.register_keras_serializable(package="encore")
class TextClassifier(Application):
    """Classifies a whole text (the notes' many-to-one case).

    Word embeddings are read by an encoder chosen by config (the 1-D CNN of Kim 2014 by
    default, or a BiLSTM / GRU); its pooled summary goes through dropout to one logit per
    output. The task decides the output and loss: binary has one sigmoid logit (binary
    cross-entropy), multi-class a softmax over the classes (sparse categorical
    cross-entropy), multi-label one sigmoid per label column (binary cross-entropy).
    An ensemble (``config["ensemble_size"]`` N > 1, built by
    :func:`~applications.text_classifier.ensemble.build_ensemble` from N trained
    classifiers) holds N such members and predicts with their mean logits.

    The model takes word ids ``[B, T]`` (0 = padding) and returns logits; its serving
    module (:class:`~applications.text_classifier.serving.ClassifierServer`) takes raw text.

    Args:
        config: ``ClassifierConfig.to_dict()``.
        metadata: ``TextMetadata.get_config()`` from the training table.

    Example:
        >>> from applications.text_classifier.config import ClassifierConfig
        >>> from data import Vocabulary
        >>> meta = TextMetadata(Vocabulary(["good", "bad"]), ["neg", "pos"], "binary",
        ...                     "text", ["label"], 50)
        >>> model = TextClassifier(ClassifierConfig().to_dict(), meta.get_config())
        >>> tuple(model(keras.ops.ones((2, 7), "int32")).shape)
        (2, 1)
    """

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        meta = TextMetadata.from_config(metadata)
        self.task = meta.task
        self.num_outputs = 1 if meta.task == "binary" else len(meta.labels)
        members = range(int(config.get("ensemble_size", 1)))
        pretrained = bool(config.get("word_vectors"))
        mode = config.get("word_vectors_mode", "fine_tune")
        self.embeddings = [word_embedding(len(meta.words), config["embedding_dim"], mode,
                                          pretrained) for _ in members]
        self.encoders = [build_encoder(config["encoder"], layer_name=f"encoder_{i}")
                         for i in members]
        self.heads = [keras.layers.Dense(self.num_outputs, name=f"label_scores_{i}")
                      for i in members]
        # Dropout layers hold no weights; each call draws fresh masks, so members share them.
        self.embedding_dropout = keras.layers.Dropout(config["embedding_dropout"])
        self.dropout = keras.layers.Dropout(config["dropout"])
        self.drop_probability = word_drop_probabilities(meta.words,
                                                        config.get("word_dropout", 0.0))
        self.word_dropout_seed = keras.random.SeedGenerator(config["seed"])

    @property
    def monitor(self):
        # Multi-label accuracy is dominated by the many all-zero columns; the loss is not.
        return ("val_loss", "min") if self.task == "multilabel" else ("val_accuracy", "max")

    def input_vectors(self, inputs, training=False):
        """Each member's word vectors ``[B, T, D]`` (before dropout), and the token mask."""
        mask = inputs > 0
        if training and self.config.get("word_dropout", 0) > 0:
            inputs = drop_words(inputs, self.drop_probability, self.word_dropout_seed)
        return [embedding(inputs) for embedding in self.embeddings], mask

    def member_logits(self, vectors, mask, training=False):
        """``[B, members, outputs]`` logits from each member's word vectors."""
        logits = []
        for x, encoder, head in zip(vectors, self.encoders, self.heads):
            x = self.embedding_dropout(x, training=training)
            pooled = encoder(x, mask=mask, training=training)["pooled"]
            logits.append(head(self.dropout(pooled, training=training)))
        return keras.ops.stack(logits, axis=1)

    def scores_from_vectors(self, vectors, mask, training=False):
        """The model's output from :meth:`input_vectors`' vectors: an ensemble predicts with
        its members' mean logits."""
        return keras.ops.mean(self.member_logits(vectors, mask, training), axis=1)

    def call(self, inputs, training=False):
        vectors, mask = self.input_vectors(inputs, training)
        return self.scores_from_vectors(vectors, mask, training)

    def make_loss(self):
        if self.task == "multiclass":
            return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return keras.losses.BinaryCrossentropy(from_logits=True)

    def targets_from_one_hot(self, y):
        """The loss's targets from one-hot Y ``[B, K]`` (the notes' batches); no weights.

        Multi-class: class ids; binary: the second class's column ``[B, 1]``, the one
        sigmoid logit's target; multi-label: the 0/1 rows as they are.
        """
        if self.task == "multiclass":
            return keras.ops.cast(keras.ops.argmax(y, axis=-1), "int32"), None
        return (y[:, 1:] if self.task == "binary" else y), None

    def make_metrics(self):
        if self.task == "multiclass":
            return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        # Logits: a positive logit is a probability above 0.5.
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)]

    def predict_raw(self, texts):
        """The label and probabilities of raw texts, as ``predict`` and the export give.

        Args:
            texts: one text (``str``) or a list of them.

        Returns:
            ``{"label": str, "probabilities": {label name: float}}`` per text (one dict
            for a single ``str``); a multi-label model's ``label`` joins the labels above
            0.5 with commas.

        Example:
            >>> classifier = TextClassifier.load_model("runs/sst2")  # doctest: +SKIP
            >>> classifier.predict(["A moving, funny film."])  # doctest: +SKIP
            [{'label': 'positive', 'probabilities': {'negative': 0.08, 'positive': 0.92}}]
        """
        from applications.core.api import model_server, one_or_many
        from applications.text_classifier.serving import classify_texts

        serve = model_server(self).serve
        return one_or_many(texts, lambda batch: classify_texts(serve, batch))

    classify = predict_raw

    def attention_inputs(self, texts):
        """``(tokens, encoder, vectors, mask)``: what the (first member's) encoder reads for
        raw texts (:mod:`applications.core.attention_maps`)."""
        import tensorflow as tf

        from applications.core.api import model_server
        from applications.core.attention_maps import token_lists
        from applications.text_classifier.serving import encode_texts, tokenize

        server = model_server(self)
        texts = tf.constant(texts)
        tokens = tokenize(texts)[:, :server.max_length]
        vectors, mask = self.input_vectors(encode_texts(texts, server.word_table,
                                                        server.max_length))
        return token_lists(tokens), self.encoders[0], vectors[0], mask

    def serving_module(self):
        from applications.text_classifier.serving import ClassifierServer

        return ClassifierServer(self)
