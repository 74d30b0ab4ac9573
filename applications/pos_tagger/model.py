"""The part-of-speech tagger: a many-to-many application on the shared base."""

import keras
import numpy as np

from applications.base import Application
from applications.metrics import TokenAccuracy
from data.sequence_batches import TaggingMetadata
from encoders import build_encoder


@keras.saving.register_keras_serializable(package="encore")
class PosTagger(Application):
    """Tags every token of a sentence (the notes' many-to-many case).

    Each token is represented by its lower-cased word embedding and by a character encoder's
    pooled vector over its characters (so unseen words are still tagged from their spelling);
    a sentence encoder (a BiLSTM by default) reads those vectors and a dense layer scores the
    tags at every position.

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
        alpha = config["word_dropout"]
        counts = np.asarray(meta.words.counts or [1] * len(meta.words), "float32")
        # Padding and <unk> are never dropped (count 0 gives probability 1, so mask them).
        self.drop_probability = np.where(np.arange(len(counts)) < meta.words.specials, 0.0,
                                         alpha / (alpha + np.maximum(counts, 1e-6)))
        self.word_embedding = keras.layers.Embedding(len(meta.words), config["word_dim"])
        self.char_embedding = keras.layers.Embedding(len(meta.chars), config["char_dim"])
        self.char_encoder = build_encoder(config["char_encoder"], layer_name="char_encoder")
        self.encoder = build_encoder(config["encoder"], layer_name="encoder")
        self.embedding_dropout = keras.layers.Dropout(config["embedding_dropout"])
        self.head = keras.layers.Dense(self.num_tags, name="tag_scores")
        self.word_dropout_seed = keras.random.SeedGenerator(config["seed"])

    def call(self, inputs, training=False):
        ops = keras.ops
        words, chars = inputs["words"], inputs["chars"]
        mask = words > 0
        if training and self.config["word_dropout"] > 0:
            threshold = ops.take(ops.convert_to_tensor(self.drop_probability, "float32"), words)
            drop = keras.random.uniform(ops.shape(words), seed=self.word_dropout_seed) < threshold
            words = ops.where(drop, ops.ones_like(words), words)
        shape = ops.shape(chars)
        flat_chars = ops.reshape(chars, (-1, shape[2]))
        char_vectors = self.char_encoder(self.char_embedding(flat_chars), mask=flat_chars > 0,
                                         training=training)["pooled"]
        char_vectors = ops.reshape(char_vectors, (shape[0], shape[1], -1))
        x = ops.concatenate([self.word_embedding(words), char_vectors], axis=-1)
        x = self.embedding_dropout(x, training=training)
        return self.head(self.encoder(x, mask=mask, training=training)["sequence"])

    def make_loss(self):
        # Mean over real tokens: padding has weight 0 and does not dilute the loss.
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight")

    def make_metrics(self):
        return [TokenAccuracy(name="accuracy")]

    def serving_module(self):
        from applications.pos_tagger.serving import TaggerServer

        return TaggerServer(self)
