"""The translator: a sequence-to-sequence application with attention on the shared base."""

import keras
import numpy as np

from applications.core.base import Application
from applications.core.metrics import TokenAccuracy
from applications.translator.pipeline import TranslationMetadata
from encoders import Transformer_Encoder, build_encoder
from encoders.embeddings import word_embedding
from encoders.seq_decoder import ATTENTIONS, AttentionDecoder
from encoders.transformer_decoder import TransformerDecoder

# Options of a Transformer decoder that default to the Transformer encoder's own.
SHARED_WITH_ENCODER = ("width", "num_layers", "num_heads", "feed_forward_width", "dropout")


@keras.saving.register_keras_serializable(package="encore")
class SmoothedCrossentropy(keras.losses.Loss):
    """Sparse cross-entropy from logits against labels smoothed by ``smoothing``.

    The target distribution is ``1 - smoothing`` on the reference word plus ``smoothing``
    spread evenly over the vocabulary (Szegedy et al. 2016), which keeps the model from
    becoming over-confident; with 0 it is the plain cross-entropy. Keras' sparse loss has
    no smoothing option, and one-hot targets over a large vocabulary are what to avoid.

    Example:
        >>> import numpy as np
        >>> loss = SmoothedCrossentropy(0.0)
        >>> round(float(loss(np.array([[1]]), np.zeros((1, 1, 4), "float32"))), 4)
        1.3863
    """

    def __init__(self, smoothing=0.1, reduction="mean_with_sample_weight",
                 name="smoothed_crossentropy", **kwargs):
        super().__init__(reduction=reduction, name=name, **kwargs)
        self.smoothing = float(smoothing)

    def call(self, y_true, y_pred):
        ops = keras.ops
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        labels = ops.expand_dims(ops.cast(y_true, "int32"), -1)
        nll = -ops.squeeze(ops.take_along_axis(log_probs, labels, axis=-1), -1)
        if not self.smoothing:
            return nll
        return (1.0 - self.smoothing) * nll - self.smoothing * ops.mean(log_probs, axis=-1)

    def get_config(self):
        return {**super().get_config(), "smoothing": self.smoothing}


@keras.saving.register_keras_serializable(package="encore")
class Translator(Application):
    """Encoder-decoder with attention (the notes' sequence-to-sequence case).

    Source word embeddings are read by a bidirectional ``RNN_Encoder`` (GRU or LSTM) or a
    ``Transformer_Encoder``; its pooled summary (an RNN's final states, a Transformer's
    mean), through ``tanh(W s)``, starts a GRU decoder that attends over all encoder
    states at every step (:class:`~encoders.seq_decoder.AttentionDecoder`,
    Bahdanau or Luong) and scores every target word. With ``decoder={"name":
    "transformer"}`` a :class:`TransformerDecoder` (causal self-attention and
    cross-attention) takes the GRU's place.

    Training uses teacher forcing: the model takes ``{"source": [B, Ts], "target_in":
    [B, Tt]}`` ids (0 = padding) and returns logits ``[B, Tt, V]`` for ``target_out``. With
    ``scheduled_sampling > 0`` a training call feeds back its own predictions at random
    steps instead; the shared ``train_step`` is unchanged either way. Decoding (greedy and
    beam search) lives in :mod:`encoders.search` and uses :meth:`encode`
    and ``decoder.step``.

    Args:
        config: ``TranslatorConfig.to_dict()``.
        metadata: ``TranslationMetadata.get_config()`` from the training pairs.

    Example:
        >>> from applications.translator.config import TranslatorConfig
        >>> from data import Vocabulary
        >>> meta = TranslationMetadata(Vocabulary(["ein", "hund"]),
        ...                            Vocabulary(["<s>", "</s>", "a", "dog"]), True, False)
        >>> model = Translator(TranslatorConfig().to_dict(), meta.get_config())
        >>> ids = keras.ops.ones((2, 4), "int32")
        >>> tuple(model({"source": ids, "target_in": ids}).shape)
        (2, 4, 6)
    """

    monitor = ("val_loss", "min")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        meta = TranslationMetadata.from_config(metadata)
        encoder = dict(config["encoder"])
        if encoder.get("name") not in ("rnn", "transformer"):
            raise ValueError("the translator needs encoder.name=rnn or transformer")
        if config["attention"] not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, "
                             f"not {config['attention']!r}")
        if not 0.0 <= config["scheduled_sampling"] <= 1.0:
            raise ValueError("scheduled_sampling must be between 0 and 1")
        for name in ("label_smoothing", "dropout"):
            if not 0.0 <= config[name] < 1.0:
                raise ValueError(f"{name} must be in [0, 1), not {config[name]}")
        self.source_embedding = word_embedding(
            len(meta.source), config["embedding_dim"],
            config.get("source_word_vectors_mode", "fine_tune"),
            bool(config.get("source_word_vectors")), name="source_embedding")
        self.source_dropout = keras.layers.Dropout(config["dropout"])
        self.encoder = build_encoder(encoder, layer_name="encoder")
        # A model saved before the decoder option existed has the attention GRU.
        decoder = dict(config.get("decoder") or {"name": "rnn"})
        if decoder.get("name") == "transformer":
            self.decoder = self._transformer_decoder(decoder, len(meta.target), config)
        elif decoder == {"name": "rnn"}:
            self.decoder = self._attention_decoder(len(meta.target), config)
        else:
            raise ValueError("decoder must be {\"name\": \"rnn\"} (the attention GRU, set "
                             "by the other options) or {\"name\": \"transformer\", ...}")
        if config.get("target_word_vectors"):
            mode = config.get("target_word_vectors_mode", "fine_tune")
            if mode not in ("fine_tune", "frozen"):
                raise ValueError(f"target_word_vectors_mode must be fine_tune or frozen (the "
                                 f"decoder reads one target table), not {mode!r}")
            self.decoder.embedding.trainable = mode == "fine_tune"

    def _attention_decoder(self, vocab_size, config):
        """The attention GRU (:class:`AttentionDecoder`) the options describe."""
        if (config["attention"] == "luong" and config["score"] == "dot"
                and config["decoder_units"] != self.encoder.output_size):
            raise ValueError(f"the dot score needs decoder_units equal to the encoder's "
                             f"output size ({self.encoder.output_size}), not "
                             f"{config['decoder_units']}; or use score=general")
        return AttentionDecoder(
            vocab_size, config["embedding_dim"], config["decoder_units"],
            attention=config["attention"], score=config["score"],
            attention_units=config["attention_units"], output_dim=config["output_dim"],
            dropout=config["dropout"], tie_embeddings=config["tie_embeddings"], name="decoder")

    def _transformer_decoder(self, spec, vocab_size, config):
        """A :class:`TransformerDecoder`: options not in ``spec`` follow a Transformer
        encoder's (its width, layers, heads, feed-forward width and dropout)."""
        if config["scheduled_sampling"] > 0:
            raise ValueError("scheduled_sampling needs decoder.name=rnn")
        options = {k: v for k, v in spec.items() if k != "name"}
        if isinstance(self.encoder, Transformer_Encoder):
            options = {**{k: getattr(self.encoder, k) for k in SHARED_WITH_ENCODER}, **options}
        try:
            return TransformerDecoder(vocab_size, tie_embeddings=config["tie_embeddings"],
                                      name="decoder", **options)
        except TypeError as err:
            raise ValueError(f"bad decoder option: {err}") from None

    def encode(self, source, training=False):
        """Read source ids ``[B, Ts]``; returns the decoder's per-sentence memory."""
        mask = source > 0
        x = self.source_dropout(self.source_embedding(source), training=training)
        out = self.encoder(x, mask=mask, training=training)
        return self.decoder.prepare(out["sequence"], out["pooled"], mask)

    def call(self, inputs, training=False):
        memory = self.encode(inputs["source"], training=training)
        ratio = self.config["scheduled_sampling"]
        if training and ratio > 0:
            return self.decoder.scheduled_sampling(inputs["target_in"], memory, ratio,
                                                   training=True)
        return self.decoder.teacher_forced(inputs["target_in"], memory, training=training)[0]

    def attention_weights(self, source, target_in):
        """Teacher-forced attention weights ``[B, Tt, Ts]`` for given source and target ids."""
        memory = self.encode(source)
        return self.decoder.teacher_forced(target_in, memory)[1]

    def build(self, input_shape=None):
        # The layers make their variables on the first call; nothing to do before it.
        self.built = True

    def build_from_config(self, config):
        # Variables are made by running the layers once; a tiny batch does it.
        ids = np.ones((1, 2), np.int32)
        self({"source": ids, "target_in": ids})

    def get_build_config(self):
        return {"built": True}

    def train(self, train_data, dev_data, out_dir, epochs, callbacks=(), **kwargs):
        """:meth:`Application.train`, plus halving (``lr_decay``) the learning rate after
        an epoch that did not lower ``val_loss``: recurrent translation models gain from a
        smaller step once the dev loss stalls."""
        factor = self.config["lr_decay"]
        if dev_data is not None and 0.0 < factor < 1.0:
            callbacks = [*callbacks, keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=factor, patience=0, min_lr=1e-5, verbose=0)]
        return super().train(train_data, dev_data, out_dir, epochs, callbacks, **kwargs)

    def make_loss(self):
        # Mean over real target tokens: the weights are 0 at padding.
        return SmoothedCrossentropy(self.config["label_smoothing"])

    def make_metrics(self):
        return [TokenAccuracy()]

    def predict_raw(self, sentences, beam_size=None, length_penalty=None, batch_size=64):
        """Translate raw sentences, as the ``predict`` and ``translate`` commands do.

        Args:
            sentences: one source sentence (``str``) or a list of them.
            beam_size: beam width, 1 = greedy (default: the model's ``beam_size``).
            length_penalty: GNMT length penalty alpha (default: the model's).
            batch_size: sentences decoded together.

        Returns:
            The translation of each sentence (one ``str`` for a single sentence).

        Example:
            >>> translator = Translator.load_model("runs/de-en")  # doctest: +SKIP
            >>> translator.predict(["Ein Hund läuft."])  # doctest: +SKIP
            ['A dog runs.']
        """
        from applications.core.api import model_server, one_or_many
        from applications.core.decoding import checked_decoding
        from applications.translator.serving import translate_sentences

        beam, alpha = checked_decoding(
            self.config["beam_size"] if beam_size is None else beam_size,
            self.config["length_penalty"] if length_penalty is None else length_penalty)
        server = model_server(self)
        # One traced decoder per (beam, alpha), kept with the server.
        decoders = server.__dict__.setdefault("_decoders", {})
        if (beam, alpha) not in decoders:
            decoders[(beam, alpha)] = server.translator(beam, alpha)
        run = decoders[(beam, alpha)]
        return one_or_many(sentences, lambda batch: translate_sentences(
            run, batch, beam, batch_size))

    translate = predict_raw

    def attention_inputs(self, sentences):
        """``(tokens, encoder, vectors, mask)``: what the source encoder reads for raw
        sentences (:mod:`applications.core.attention_maps`)."""
        import tensorflow as tf

        from applications.core.api import model_server
        from applications.core.attention_maps import token_lists

        server = model_server(self)
        sentences = tf.constant(sentences)
        source = server.source_ids(sentences)
        return (token_lists(server.source_tokens(sentences)), self.encoder,
                self.source_embedding(source), source > 0)

    def serving_module(self):
        from applications.translator.serving import TranslatorServer

        return TranslatorServer(self)
