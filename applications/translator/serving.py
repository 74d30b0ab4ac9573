"""Raw sentences in, translations out, entirely in TensorFlow: the ``translate`` verb,
``evaluate`` and the exported SavedModel share this code."""

import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind, one_or_many
from applications.core.decoding import checked_decoding
from applications.core.serving import ServingModule
from applications.translator.pipeline import EOS_ID, PAD_ID, TranslationMetadata
from applications.translator.text import detokenize, tokenize
from encoders.search import beam_decode, decode, greedy_decode

SENTENCES = tf.TensorSpec([None], tf.string, name="sentences")


class TranslatorServer(ServingModule):
    """Wraps a trained :class:`~applications.translator.model.Translator` with its
    vocabularies as lookup tables.

    Endpoints:
        ``serve(sentences)``: a batch of raw ``tf.string`` source sentences in;
        ``translations`` ``[N]`` (strings) and ``scores`` ``[N]`` (log-probability over
        the length penalty) out, decoded with the model's ``beam_size`` and
        ``length_penalty``.
        ``translate(sentences, beam_size, length_penalty)``: the same with the beam
        (``int32``, 1 = greedy) and the penalty (``float32``) chosen per call.

    Args:
        model: a trained translator.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> out = server.serve(tf.constant(["Ein Hund läuft."]))  # doctest: +SKIP
        >>> out["translations"].numpy()  # doctest: +SKIP
        array([b'A dog runs.'], dtype=object)
    """

    def __init__(self, model):
        super().__init__(model)
        meta = TranslationMetadata.from_config(model.metadata)
        self.lowercase_source = meta.lowercase_source
        source = meta.source
        self.source_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(source.items[source.specials:], tf.string),
                tf.range(source.specials, len(source), dtype=tf.int32)), 1)
        self.target_words = tf.constant(meta.target.items, tf.string)
        self.beam_size = int(model.config["beam_size"])
        self.alpha = float(model.config["length_penalty"])

    def endpoints(self):
        return {"serve": self.serve, "translate": self.translate}

    def source_tokens(self, sentences):
        return tokenize(sentences, self.lowercase_source)

    def source_ids(self, sentences):
        """Ids ``[N, T]`` (0-padded, T at least 1) of a batch of raw source sentences."""
        ids = tf.ragged.map_flat_values(self.source_table.lookup,
                                        self.source_tokens(sentences))
        width = tf.maximum(tf.reduce_max(ids.row_lengths()), 1)
        return ids.to_tensor(PAD_ID, shape=tf.stack([ids.nrows(), width]))

    def output_tokens(self, ids):
        """Ragged ``[N, (T)]`` word strings of output ids, cut before ``</s>``."""
        ended = tf.cumsum(tf.cast(ids == EOS_ID, tf.int32), axis=1) > 0
        keep = ~ended & (ids != PAD_ID)
        return tf.ragged.boolean_mask(tf.gather(self.target_words, ids), keep)

    def run(self, sentences, beam_size, length_penalty):
        """Translations ``[N]``, scores ``[N]``, source and output tokens (ragged) and
        attention weights ``[N, T, Ts]``.

        A Python ``int`` beam size picks greedy or beam search here, so only one of them
        is in the graph; a tensor picks at run time.
        """
        source = self.source_ids(sentences)
        if isinstance(beam_size, int):
            ids, weights, scores = (
                greedy_decode(self.model, source, length_penalty) if beam_size <= 1
                else beam_decode(self.model, source, beam_size, length_penalty))
        else:
            ids, weights, scores = decode(self.model, source, beam_size, length_penalty)
        tokens = self.output_tokens(ids)
        return {"translations": detokenize(tokens), "scores": scores,
                "source_tokens": self.source_tokens(sentences), "output_tokens": tokens,
                "weights": weights}

    def translator(self, beam_size, length_penalty):
        """A traced function from raw sentences to :meth:`run`'s outputs, for one beam size
        and penalty (what ``translate`` and ``evaluate`` call)."""
        beam_size, length_penalty = int(beam_size), float(length_penalty)
        return tf.function(lambda sentences: self.run(sentences, beam_size, length_penalty),
                           input_signature=[SENTENCES])

    @tf.function(input_signature=[SENTENCES])
    def serve(self, sentences):
        result = self.run(sentences, self.beam_size, self.alpha)
        return {"translations": result["translations"], "scores": result["scores"]}

    @tf.function(input_signature=[SENTENCES, tf.TensorSpec([], tf.int32, name="beam_size"),
                                  tf.TensorSpec([], tf.float32, name="length_penalty")])
    def translate(self, sentences, beam_size, length_penalty):
        result = self.run(sentences, beam_size, length_penalty)
        return {"translations": result["translations"], "scores": result["scores"]}


def translate_sentences(run, sentences, beam_size, batch_size=64):
    """The translation of each raw sentence through ``run`` (sentences -> ``translations``).

    ``run`` is :meth:`TranslatorServer.translator` or an exported signature. Batches are
    formed as the ``predict`` command forms them (shortest first, ``batch_size`` rows over
    the beam), so both decode the same batches; a blank sentence translates to ``""``.
    """
    translations = [""] * len(sentences)
    real = sorted((i for i, s in enumerate(sentences) if s.strip()),
                  key=lambda i: len(sentences[i].split()))
    rows = max(1, batch_size // max(1, beam_size))
    for start in range(0, len(real), rows):
        chunk = real[start:start + rows]
        served = run(tf.constant([sentences[i] for i in chunk]))["translations"].numpy()
        for i, text in zip(chunk, served):
            translations[i] = text.decode("utf-8")
    return translations


@exported_kind
class ExportedTranslator(ExportedModel):
    """A translator's SavedModel: ``predict(sentences)`` as :meth:`Translator.predict_raw`.

    Without options it decodes with the model's beam size and length penalty (the
    ``serve`` signature); with them, both are needed (the ``translate`` signature).
    """

    serve_outputs = frozenset({"translations", "scores"})

    def predict(self, sentences, beam_size=None, length_penalty=None, batch_size=64):
        if beam_size is None and length_penalty is None:
            serve = self.signatures["serve"]
            run, beam = (lambda batch: serve(sentences=batch)), 1
        elif beam_size is None or length_penalty is None:
            raise ValueError("an exported translator takes beam_size and length_penalty "
                             "together (or neither, for the model's own)")
        else:
            beam, alpha = checked_decoding(beam_size, length_penalty)
            translate = self.signatures["translate"]
            run = lambda batch: translate(sentences=batch, beam_size=tf.constant(beam),
                                          length_penalty=tf.constant(alpha))
        return one_or_many(sentences, lambda batch: translate_sentences(
            run, batch, beam, batch_size))

    translate = predict
