"""From captioned images to training batches: reading, the caption vocabulary, ``tf.data``.

Two layouts are read. Flickr8k / Flickr30k: a caption file of ``image.jpg#n<TAB>caption``
lines (several per image) and an image folder. CSV: a header ``image,caption`` and one
row per caption (an image repeated for several). Images are decoded and resized as they
are read (:mod:`data.image_files`); every problem is reported with the caption file's
line. Captions are split by the in-graph :func:`tokenize` the served model uses too.
"""

import csv
import dataclasses
import io
import os

import numpy as np
import tensorflow as tf

from data.epoch_order import epoch_permutation
from data.errors import InputError
from data.files import iter_lines
from data.image_files import decode_image_file, fit_image, image_header
from data.tokenize import split_words, word_lists
from data.vocabulary import Vocabulary
from encoders.search import BOS_ID, EOS_ID, check_output_vocabulary, output_vocabulary

# Every mark but apostrophes, hyphens and combining marks is a word of its own.
MARKS = r"[^\pL\pN\pM\s'\-]"


def tokenize(captions):
    """Lower-cased words of a batch of captions: ragged ``[N, (T)]`` strings."""
    return split_words(captions, lowercase=True, marks=MARKS, one_pass=True)


def detokenize(words):
    """Join ragged ``[N, (T)]`` words into ``[N]`` captions (no space before , . ! ? ; :)."""
    text = tf.strings.reduce_join(words, axis=-1, separator=" ")
    return tf.strings.regex_replace(text, r" ([.,!?;:])", r"\1")


def caption_words(captions):
    """:func:`tokenize` over a Python list: lists of ``str``."""
    return word_lists(captions, lowercase=True, marks=MARKS, one_pass=True)


@dataclasses.dataclass
class CaptionSet:
    """Images and their captions.

    Attributes:
        images: ``uint8 [N, H, W, C]``.
        names: each image's file name as the caption file gives it.
        captions: each image's captions (a list of ``str``).
        path: the caption file (or a sample's name).
    """

    images: np.ndarray
    names: list
    captions: list
    path: str

    def subset(self, indices):
        return CaptionSet(self.images[indices], [self.names[i] for i in indices],
                          [self.captions[i] for i in indices], self.path)


@dataclasses.dataclass
class CaptionMetadata:
    """What training collects; it travels inside the saved model.

    Attributes:
        words: the caption vocabulary (padding, ``<unk>``, ``<s>``, ``</s>``, then words).
        height, width, channels: the model's input size.
        train_examples: training images (the length of the learning-rate schedule).
    """

    words: Vocabulary
    height: int
    width: int
    channels: int
    train_examples: int = 0

    def __post_init__(self):
        check_output_vocabulary(self.words)

    @classmethod
    def from_captions(cls, captions, shape, config, train_examples=0):
        words = Vocabulary.build(caption_words(captions), config.min_count,
                                 max_size=config.max_vocab or None)
        return cls(output_vocabulary(words), *(int(n) for n in shape), int(train_examples))

    @property
    def shape(self):
        return (self.height, self.width, self.channels)

    def get_config(self):
        return {"words": self.words.get_config(), "height": self.height,
                "width": self.width, "channels": self.channels,
                "train_examples": self.train_examples}

    @classmethod
    def from_config(cls, config):
        return cls(Vocabulary.from_config(config["words"]), int(config["height"]),
                   int(config["width"]), int(config["channels"]),
                   int(config.get("train_examples", 0)))


def caption_lines(path):
    """``(line number, image name, caption)`` of a Flickr-layout or CSV caption file."""
    if path.lower().endswith((".csv", ".csv.gz")):
        text = "".join(line + "\n" for _, line in iter_lines(path))
        rows = csv.reader(io.StringIO(text))
        header = [cell.strip().lower() for cell in next(rows, [])]
        if header[:2] != ["image", "caption"]:
            raise InputError("expected the header 'image,caption'", path, 1)
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != 2:
                raise InputError(f"expected 2 fields (image,caption), found {len(row)}",
                                 path, rows.line_num)
            yield rows.line_num, row[0].strip(), row[1].strip()
        return
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        if not tab:
            raise InputError("expected 'image.jpg#n<TAB>caption'", path, number)
        yield number, key.strip().rpartition("#")[0] or key.strip(), caption.strip()


def read_captions(path, images_dir=None, keep=None, shape=None, size=None, channels=None):
    """Read a caption file and its images into a :class:`CaptionSet`.

    Args:
        path: the caption file (Flickr layout or CSV).
        images_dir: the image folder (default: the caption file's folder).
        keep: image names to keep (None: all).
        shape: ``(height, width, channels)`` to convert to (a trained model's); else
            ``size`` / ``channels`` (None: the first image's size; gray if all are gray).

    Raises:
        InputError: a missing or undecodable image, an empty caption or a malformed line,
            naming the caption file's line.
    """
    folder = os.path.dirname(path) if images_dir is None else images_dir
    order, captions, first_line = [], {}, {}
    for number, name, caption in caption_lines(path):
        if keep is not None and name not in keep:
            continue
        if not name:
            raise InputError("no image name", path, number)
        if not caption:
            raise InputError("empty caption", path, number)
        if name not in captions:
            order.append(name)
            captions[name], first_line[name] = [], number
        captions[name].append(caption)
    if not order:
        raise InputError("no captions", path)
    headers = {}
    for name in order:
        try:
            headers[name] = image_header(os.path.join(folder, name))
        except InputError as err:
            raise InputError(f"image {os.path.join(folder, name)}: {err.message}", path,
                             first_line[name]) from None
    if shape is None:
        (first_width, first_height), _ = headers[order[0]]
        shape = (*(size or (first_height, first_width)),
                 channels or (1 if all(gray for _, gray in headers.values()) else 3))
    images = np.empty((len(order), *shape), np.uint8)
    for i, name in enumerate(order):
        try:
            pixels = decode_image_file(os.path.join(folder, name))
        except InputError as err:
            raise InputError(f"image {os.path.join(folder, name)}: {err.message}", path,
                             first_line[name]) from None
        images[i] = fit_image(pixels, shape[:2], shape[2])
    return CaptionSet(images, order, [captions[name] for name in order], path)


def read_name_list(path):
    """The image names of a split file (one a line, as Flickr8k's ``trainImages.txt``)."""
    return {line.strip() for _, line in iter_lines(path) if line.strip()}


def caption_rows(caption_set, metadata, max_length):
    """``(image indices [N'], target ids [N', M, max_length + 2], caption counts [N'])``.

    Every caption with 1 to ``max_length`` words becomes ``<s> w1 .. wn </s>``,
    zero-padded; an image with fewer than ``M`` (the most any image has) has rows of zeros
    after its own. Images left with no caption are left out.
    """
    width = max_length + 2
    usable = [[words for words in caption_words(captions) if 0 < len(words) <= max_length]
              for captions in caption_set.captions]
    most = max(1, max(len(kept) for kept in usable))
    indices, rows, counts = [], [], []
    for i, kept in enumerate(usable):
        if not kept:
            continue
        block = np.zeros((most, width), np.int32)
        for k, words in enumerate(kept):
            ids = [BOS_ID, *metadata.words.encode(words), EOS_ID]
            block[k, :len(ids)] = ids
        indices.append(i)
        rows.append(block)
        counts.append(len(kept))
    return (np.asarray(indices, np.int64), np.asarray(rows, np.int32).reshape(-1, most, width),
            np.asarray(counts, np.int64))


def caption_dataset(images, indices, targets, counts, batch_size, per_image=None,
                    shuffle=True, seed=0, order=None):
    """``({"image", "target_in"}, target_out, weights)`` batches of images and captions.

    A batch holds ``batch_size`` images with ``per_image`` captions each (``[B, K, T]``;
    None: all), so the model computes each image's features once for all of them. Which
    of an image's captions a pass reads rotates with ``order``'s epoch, so over the epochs
    every caption is read. Images are shuffled by index (each epoch's order from
    ``order``) and gathered from the array held in the dataset. Weights are 0 at padding
    and for captions an image does not have.
    """
    per_image = targets.shape[1] if per_image is None else min(per_image, targets.shape[1])
    pixels, targets = tf.constant(images[indices]), tf.constant(targets)
    counts = tf.constant(counts)
    ds = (epoch_permutation(len(indices), seed, order) if shuffle
          else tf.data.Dataset.range(len(indices)))

    def batch(index):
        epoch = tf.constant(0, tf.int64) if order is None else order.variable.read_value()
        have = tf.gather(counts, index)[:, None]
        turn = tf.range(per_image, dtype=tf.int64)[None, :]
        slots = (epoch + index[:, None] + turn) % have
        rows = tf.gather(tf.gather(targets, index), slots, batch_dims=1)
        rows = rows * tf.cast(turn < have, rows.dtype)[:, :, None]
        target_out = rows[:, :, 1:]
        return ({"image": tf.gather(pixels, index), "target_in": rows[:, :, :-1]},
                target_out, tf.cast(target_out > 0, tf.float32))

    return ds.batch(batch_size).map(batch).prefetch(tf.data.AUTOTUNE)
