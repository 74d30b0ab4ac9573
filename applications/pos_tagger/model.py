"""The part-of-speech tagger: a many-to-many application on the shared base."""

import keras

from applications.core.base import Application
from applications.core.metrics import TokenAccuracy
from applications.core.word_dropout import drop_words, word_drop_probabilities
from data.sequence_batches import TaggingMetadata
from encoders import build_encoder
from encoders.embeddings import word_embedding
from encoders.rnn_encoder import RNN_Encoder


@keras.saving.register_keras_serializable(package="encore")
class PosTagger(Application):
    """Tags every token of a sentence (the notes' many-to-many case).

    Each token is represented by its lower-cased word embedding and by a character encoder's
    pooled vector over its characters (so unseen words are still tagged from their spelling);
    a sentence encoder (a 1-D CNN by default, or a BiLSTM or Transformer) reads those vectors
    and a dense layer scores the tags at every position.

    Args:
        config: ``TaggerConfig.to_dict()``.
        metadata: ``TaggingMetadata.get_config()`` from the training corpus.

    Example:
        >>> from applications.pos_tagger.config import TaggerConfig
        >>> from data import TaggingMetadata, TaggedSentence
        >>> meta = TaggingMetadata.from_sentences([TaggedSentence(["a"], ["DET"], [1])])
        >>> tagger = PosTagger(TaggerConfig().to_dict(), meta.get_config())
    """

    monitor = ("val_accuracy", "max")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        meta = TaggingMetadata.from_config(metadata)
        self.num_tags = len(meta.tags)
        self.drop_probability = word_drop_probabilities(meta.words, config["word_dropout"])
        self.word_embedding = word_embedding(
            len(meta.words), config["word_dim"], config.get("word_vectors_mode", "fine_tune"),
            bool(config.get("word_vectors")))
        self.char_embedding = keras.layers.Embedding(len(meta.chars), config["char_dim"])
        self.char_encoder = build_encoder(config["char_encoder"], layer_name="char_encoder")
        self.encoder = build_encoder(config["encoder"], layer_name="encoder")
        self.embedding_dropout = keras.layers.Dropout(config["embedding_dropout"])
        self.head = keras.layers.Dense(self.num_tags, name="tag_scores")
        self.word_dropout_seed = keras.random.SeedGenerator(config["seed"])

    def call(self, inputs, training=False):
        vectors, mask = self.input_vectors(inputs, training)
        return self.scores_from_vectors(vectors, mask, training)

    def input_vectors(self, inputs, training=False):
        """``([word and character vectors concatenated, [B, T, D]], token mask)``.

        With ``adversarial_epsilon``, a sentence's word and character vectors move together
        (as in Yasunaga et al. 2018).
        """
        words, chars = inputs["words"], inputs["chars"]
        mask = words > 0
        if training and self.config["word_dropout"] > 0:
            words = drop_words(words, self.drop_probability, self.word_dropout_seed)
        return [keras.ops.concatenate([self.word_embedding(words),
                                       self.char_vectors(chars, training)], axis=-1)], mask

    def scores_from_vectors(self, vectors, mask, training=False):
        """``[B, T, tags]`` logits from :meth:`input_vectors`' vectors."""
        x = self.embedding_dropout(vectors[0], training=training)
        return self.head(self.encoder(x, mask=mask, training=training)["sequence"])

    def char_vectors(self, chars, training=False):
        """The character encoder's pooled vector for every word: ``[B, T, C]`` -> ``[B, T, H]``.

        Its per-step activations over ``B * T`` words dominate training memory, so where
        the result is provably the same, each distinct spelling in the batch is encoded once
        ("the", ",", padding: ~3x fewer rows on UD English) and, for a recurrent encoder,
        spellings are grouped by length so short ones take fewer steps (masked steps leave
        an RNN's state unchanged, so dropping trailing padding gives the same final state).
        Not under XLA, which needs static shapes, nor with dropout in the char encoder,
        whose masks would be shared between repeats.
        """
        ops = keras.ops
        shape = ops.shape(chars)
        flat = ops.reshape(chars, (-1, shape[2]))
        encode = lambda ids: self.char_encoder(self.char_embedding(ids), mask=ids > 0,
                                               training=training)["pooled"]
        if self.jit_compile or getattr(self.char_encoder, "dropout", 1.0) != 0:
            return ops.reshape(encode(flat), (shape[0], shape[1], -1))
        spellings, which = ops.unique(flat, sorted=False, return_inverse=True, axis=0)
        widths = [chars.shape[2]]
        if isinstance(self.char_encoder, RNN_Encoder) and widths[0] is not None:
            # Two groups, words of up to 8 and up to 16 characters: each group is a loop of
            # its own in the traced graph, and a third (up to 4) cost ~65 MB of peak memory.
            while widths[0] >= 16:
                widths.insert(0, widths[0] // 2)
        lengths = ops.sum(ops.cast(spellings > 0, "int32"), axis=1)
        order = ops.argsort(lengths)
        spellings = ops.take(spellings, order, axis=0)
        ends = [ops.sum(ops.cast(lengths <= w, "int32")) for w in widths[:-1]]
        ends.append(ops.shape(spellings)[0])
        pieces, start = [], 0
        for width, end in zip(widths, ends):
            # A leading all-padding row keeps a length group from ever being empty.
            part = ops.pad(spellings[start:end, :width], [[1, 0], [0, 0]])
            pieces.append(encode(part)[1:])
            start = end
        vectors = ops.concatenate(pieces, axis=0)
        # Back from length order to first-seen order, then out to every word.
        vectors = ops.take(vectors, ops.take(ops.argsort(order), which), axis=0)
        return ops.reshape(vectors, (shape[0], shape[1], -1))

    def make_loss(self):
        # Mean over real tokens: padding has weight 0 and does not dilute the loss.
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight")

    def make_metrics(self):
        return [TokenAccuracy(name="accuracy")]

    def predict_raw(self, sentences):
        """Tags for raw sentences, as the ``predict`` command and the exported model give.

        Args:
            sentences: one sentence (``str``) or a list of them, as typed.

        Returns:
            A list of ``(token, tag)`` pairs per sentence (one list for a single ``str``).

        Example:
            >>> tagger = PosTagger.load_model("runs/tagger")  # doctest: +SKIP
            >>> tagger.predict(["The old man saw a dog."])  # doctest: +SKIP
            [[('The', 'DET'), ('old', 'ADJ'), ('man', 'NOUN'), ('saw', 'VERB'), ...]]
        """
        from applications.core.api import model_server, one_or_many
        from applications.pos_tagger.serving import tag_sentences

        serve = model_server(self).serve
        return one_or_many(sentences, lambda batch: tag_sentences(serve, batch))

    tag = predict_raw

    def attention_inputs(self, sentences):
        """``(tokens, encoder, vectors, mask)``: what the encoder reads for raw sentences
        (:mod:`applications.core.attention_maps`)."""
        import tensorflow as tf

        from applications.core.api import model_server
        from applications.core.attention_maps import token_lists
        from applications.pos_tagger.serving import tokenize

        tokens = tokenize(tf.constant(sentences))
        vectors, mask = self.input_vectors(model_server(self).model_inputs(tokens))
        return token_lists(tokens), self.encoder, vectors[0], mask

    def serving_module(self):
        from applications.pos_tagger.serving import TaggerServer

        return TaggerServer(self)
