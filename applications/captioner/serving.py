"""Images in, captions out, entirely in TensorFlow: ``predict``, ``evaluate`` and the
exported SavedModel share this code."""

import numpy as np
import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind, image_batch
from applications.core.decoding import checked_decoding
from applications.core.serving import ServingModule
from applications.captioner.pipeline import CaptionMetadata, detokenize
from data.image_decoding import decode_images
from encoders.search import EOS_ID, PAD_ID, beam_decode, decode, greedy_decode

IMAGES = tf.TensorSpec([None], tf.string, name="images")


class CaptionerServer(ServingModule):
    """Wraps a trained :class:`~applications.captioner.model.Captioner`.

    Endpoints:
        ``serve(images)``: a batch of encoded image files (``tf.string``: JPEG, PNG, GIF,
        BMP) in; ``captions`` ``[N]`` (strings) and ``scores`` ``[N]`` (log-probability
        over the length penalty) out, decoded with the model's ``beam_size`` and
        ``length_penalty``.
        ``caption(images, beam_size, length_penalty)``: the same, beam (``int32``,
        1 = greedy) and penalty (``float32``) chosen per call.
        ``caption_pixels(pixels)``: ``uint8 [N, H, W, C]`` pixels in, as ``serve``.

    Args:
        model: a trained captioner.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.serve(tf.constant([open("dog.jpg", "rb").read()]))["captions"]  # doctest: +SKIP
        <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'a dog runs'], dtype=object)>
    """

    def __init__(self, model):
        super().__init__(model)
        meta = CaptionMetadata.from_config(model.metadata)
        self.shape = meta.shape
        self.words = tf.constant(meta.words.items, tf.string)
        self.beam_size = int(model.config["beam_size"])
        self.alpha = float(model.config["length_penalty"])
        self._captioners = {}
        self.caption_pixels = tf.function(
            lambda pixels: self._outputs(self.run(pixels, self.beam_size, self.alpha)),
            input_signature=[tf.TensorSpec([None, *self.shape], tf.uint8, name="pixels")])

    def endpoints(self):
        return {"serve": self.serve, "caption": self.caption,
                "caption_pixels": self.caption_pixels}

    def output_words(self, ids):
        """Ragged ``[N, (T)]`` words of output ids, cut before ``</s>``."""
        ended = tf.cumsum(tf.cast(ids == EOS_ID, tf.int32), axis=1) > 0
        return tf.ragged.boolean_mask(tf.gather(self.words, ids), ~ended & (ids != PAD_ID))

    def run(self, pixels, beam_size, length_penalty):
        """Captions ``[N]``, scores ``[N]``, words (ragged) and attention ``[N, T, h*w]``.

        A Python ``int`` beam size puts only greedy or beam search in the graph; a tensor
        picks at run time.
        """
        steps = self.model.max_steps
        if isinstance(beam_size, int):
            ids, weights, scores = (
                greedy_decode(self.model, pixels, length_penalty, steps) if beam_size <= 1
                else beam_decode(self.model, pixels, beam_size, length_penalty, steps))
        else:
            ids, weights, scores = decode(self.model, pixels, beam_size, length_penalty, steps)
        words = self.output_words(ids)
        return {"captions": detokenize(words), "scores": scores, "words": words,
                "weights": weights}

    @staticmethod
    def _outputs(result):
        return {"captions": result["captions"], "scores": result["scores"]}

    def captioner(self, beam_size, length_penalty):
        """A traced function from uint8 pixels to :meth:`run`'s outputs, for one beam size
        and penalty (what ``predict`` and ``evaluate`` call)."""
        key = int(beam_size), float(length_penalty)
        # Kept per setting, so repeated predict calls reuse one trace instead of retracing.
        if key not in self._captioners:
            self._captioners[key] = tf.function(
                lambda pixels: self.run(pixels, *key),
                input_signature=[tf.TensorSpec([None, *self.shape], tf.uint8)])
        return self._captioners[key]

    @tf.function(input_signature=[IMAGES])
    def serve(self, images):
        pixels = decode_images(images, *self.shape)
        return self._outputs(self.run(pixels, self.beam_size, self.alpha))

    @tf.function(input_signature=[IMAGES, tf.TensorSpec([], tf.int32, name="beam_size"),
                                  tf.TensorSpec([], tf.float32, name="length_penalty")])
    def caption(self, images, beam_size, length_penalty):
        pixels = decode_images(images, *self.shape)
        return self._outputs(self.run(pixels, beam_size, length_penalty))


def caption_pixels(run, pixels, batch_size=64, with_attention=False):
    """Captions of ``uint8 [N, H, W, C]`` pixels through ``run`` (pixels -> ``captions``).

    Returns ``{"captions": [str]}`` and, with ``with_attention``, ``"attention"``: per
    image ``(words, weights [len(words) + 1, h*w])`` (the last row is ``</s>``'s).
    """
    captions, attention = [], []
    for start in range(0, len(pixels), batch_size):
        result = run(tf.constant(pixels[start:start + batch_size]))
        captions.extend(text.decode("utf-8") for text in result["captions"].numpy())
        if with_attention:
            weights = result["weights"].numpy()
            for k, words in enumerate(result["words"].to_list()):
                words = [w.decode("utf-8") for w in words]
                attention.append((words, weights[k, :len(words) + 1]))
    return {"captions": captions, "attention": attention}


@exported_kind
class ExportedCaptioner(ExportedModel):
    """A captioner's SavedModel: ``predict(images)`` as :meth:`Captioner.caption`."""

    serve_outputs = frozenset({"captions", "scores"})

    def caption(self, images, beam_size=None, length_penalty=None):
        if (beam_size is None) != (length_penalty is None):
            raise ValueError("an exported captioner takes beam_size and length_penalty "
                             "together (or neither, for the model's own)")
        if beam_size is not None:
            beam_size, length_penalty = checked_decoding(beam_size, length_penalty)
        signature = self.signatures["caption_pixels"]
        shape = signature.structured_input_signature[1]["pixels"].shape[1:]
        pixels, single = image_batch(images, tuple(shape))
        if beam_size is None:
            run = lambda batch: signature(pixels=batch)  # noqa: E731
        else:
            encoded = self.signatures["caption"]
            run = lambda batch: encoded(  # noqa: E731
                images=tf.map_fn(tf.io.encode_png, batch, fn_output_signature=tf.string),
                beam_size=tf.constant(int(beam_size)),
                length_penalty=tf.constant(float(length_penalty)))
        captions = caption_pixels(run, np.asarray(pixels))["captions"]
        return captions[0] if single else captions

    predict = caption
