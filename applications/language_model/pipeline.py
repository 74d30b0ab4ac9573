"""Text into tokens, tokens into ids, ids into fixed-shape batches of contiguous windows.

Word tokens come from one in-graph function, :func:`word_tokens`, used for the training
file, the prompt of ``generate`` and the exported SavedModel alike, so they cannot disagree
about where a word ends. Characters are Unicode code points, newlines included.

Training batches come from :func:`window_dataset`; the notes' :func:`load_all_data` and
:func:`load_all_batches` give the same windows as NumPy arrays with one-hot next tokens.
"""

import numpy as np
import tensorflow as tf

from applications.language_model.config import LanguageModelConfig
from data.epoch_order import epoch_pipeline_options, pass_seed, per_epoch
from data.errors import InputError
from data.files import iter_lines
from data.padded_batches import padded_batches, stack_examples
from data.tokenize import split_words, word_lists
from data.vocabulary import Vocabulary

LEVELS = ("char", "word")
NEWLINE = "\n"
# Stands in for a line break inside the word split (a private-use character).
_LINE_BREAK = "\ue000"


def word_tokens(lines):
    """Split a batch of lines into words and punctuation marks: ragged ``[N, (T)]`` strings.

    A word keeps inner apostrophes (``don't``); any other mark that is not a letter, digit
    or space is a token of its own. ``"Hello, world!"`` -> ``Hello , world !``
    """
    return split_words(lines, clitics=False)


def text_tokens(texts, level):
    """In-graph tokens of whole texts (ragged ``[N, (T)]``); a line break is a ``"\\n"`` token."""
    if level == "char":
        return tf.strings.unicode_split(texts, "UTF-8")
    # Line breaks would vanish in the whitespace split; the stand-in is set apart as a token.
    tokens = word_tokens(tf.strings.regex_replace(texts, "\n", _LINE_BREAK))
    return tf.ragged.map_flat_values(tf.strings.regex_replace, tokens, _LINE_BREAK, NEWLINE)


def read_tokens(path, level):
    """The tokens of a UTF-8 file (line breaks become ``"\\n"`` tokens).

    Raises:
        InputError: a missing or empty file, or bytes that are not UTF-8 (with the line).
    """
    lines = [text for _, text in iter_lines(path)]
    if not any(line.strip() for line in lines):
        raise InputError("empty file: no text to learn from", path)
    if level == "char":
        return list("".join(line + NEWLINE for line in lines))
    tokens = []
    for row in word_lists(lines, clitics=False):  # as word_tokens splits them
        tokens.extend(row)
        tokens.append(NEWLINE)
    return tokens


def prompt_tokens(prompt, level):
    """Tokens of a prompt exactly as the exported model splits it."""
    row = text_tokens(tf.constant([prompt]), level).to_list()[0]
    return [t.decode("utf-8") for t in row]


def join_piece(token, previous, level):
    """The text a generated token adds: words are spaced, except around line breaks."""
    if level == "char" or token == NEWLINE or previous == NEWLINE:
        return token
    return " " + token


def build_vocabulary(tokens, level, max_vocab, min_count):
    """Characters: every one seen. Words: the ``max_vocab`` most frequent (0 = all) seen at
    least ``min_count`` times.

    Raises:
        InputError: no word is seen ``min_count`` times (a model could only say ``<unk>``).
    """
    if level == "char":
        built = Vocabulary.build([tokens])
    else:
        built = Vocabulary.build([tokens], min_count=min_count, max_size=max_vocab or None)
    if len(built) == built.specials:
        raise InputError(f"no word of the training text is seen min_count={min_count} "
                         "times: the vocabulary would be empty")
    # Counts are not needed at run time; leaving them out keeps the saved metadata small.
    return Vocabulary(built.items[built.specials:], unk=True)


def make_metadata(level, vocabulary):
    return {"level": level, "vocabulary": vocabulary.get_config()}


def metadata_vocabulary(metadata):
    return Vocabulary.from_config(metadata["vocabulary"])


def split_for_validation(tokens, fraction):
    """``(train, dev)``: the last ``fraction`` of the tokens is held out, as nanoGPT does."""
    if fraction <= 0:
        return tokens, None
    cut = len(tokens) - int(round(len(tokens) * fraction))
    return tokens[:cut], tokens[cut:]


def check_length(tokens, window, path, level, part="file"):
    """A window needs ``window + 1`` tokens: the inputs and the next token after each."""
    unit = "characters" if level == "char" else "tokens"
    if len(tokens) < window + 1:
        raise InputError(f"{part} holds {len(tokens)} {unit}, shorter than one window "
                         f"({window} + 1); use a longer file or a smaller --set window=N",
                         path)


def load_all_data(path, metadata=None, config=None):
    """The notes' "load all data": read a text file, collect metadata, build X and Y.

    Args:
        path: a UTF-8 text file.
        metadata: ``{"level", "vocabulary"}`` (:func:`make_metadata`; a trained model's
            ``metadata``); built from this file when None.
        config: a :class:`LanguageModelConfig` (``level``, ``window``, vocabulary options);
            the defaults when None.

    Returns:
        ``(metadata, X, Y)``: X ``[N, window]`` token ids of the file's consecutive windows
        (the tokens that do not fill a last window are left out) and Y ``[N, window, V]``
        the one-hot next token at every position.
    """
    examples, metadata = _window_examples(path, metadata, config or LanguageModelConfig())
    X, Y = stack_examples(examples, one_hot_depth=len(metadata_vocabulary(metadata)))
    return metadata, X, Y


def load_all_batches(path, metadata, config=None, shuffle=False):
    """The notes' "load all batches": a generator of ``(X, Y)`` batches of a text file.

    Each batch is X ``[B, window]`` ids, the model's input, and Y ``[B, window, V]`` one-hot
    next tokens, as in :func:`load_all_data`; the last batch may hold fewer windows.

    Args:
        path: the text file (read now, so errors show at once).
        metadata: the training metadata (:func:`make_metadata`).
        config: a :class:`LanguageModelConfig` (``window``, ``batch_size``, ``seed``).
        shuffle: visit the windows in an order drawn from ``config.seed``; else in order.
    """
    config = config or LanguageModelConfig()
    examples, metadata = _window_examples(path, metadata, config)
    return padded_batches(examples, config.batch_size, len(metadata_vocabulary(metadata)),
                          shuffle, config.seed)


def _window_examples(path, metadata, config):
    """``([(ids [window], next ids [window]), ...], metadata)`` of consecutive windows."""
    level = config.level if metadata is None else metadata["level"]
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    tokens = read_tokens(path, level)
    window = config.window
    check_length(tokens, window, path, level)
    if metadata is None:
        metadata = make_metadata(level, build_vocabulary(tokens, level, config.max_vocab,
                                                         config.min_count))
    ids = np.asarray(metadata_vocabulary(metadata).encode(tokens), np.int32)
    starts = range(0, (len(ids) - 1) // window * window, window)
    return [(ids[k:k + window], ids[k + 1:k + window + 1]) for k in starts], metadata


def scoring_windows(usable, window, stride):
    """``(starts, skips)`` of the windows that score targets 1..``usable`` once each.

    The windows start ``stride`` tokens apart; the first scores all its ``window`` targets,
    each later one only the targets no earlier window scored (its last ``stride``, and for
    the last window, which ends at the final token, what is left), so every target after
    the first window is scored with at least ``window - stride`` tokens before it.
    """
    ends = list(range(window, usable + 1, stride))
    if ends[-1] != usable:
        ends.append(usable)
    ends = np.asarray(ends, np.int64)
    skips = np.concatenate([[0], window - np.diff(ends)])
    return ends - window, skips


def window_dataset(ids, window, batch_size, shuffle=False, seed=0, order=None, steps=0,
                   stride=0):
    """Batches ``(inputs [B, W], targets [B, W], weights [B, W])`` of contiguous windows.

    Every batch has the same shape: the last one is filled with windows of weight 0, so
    nothing is recompiled for a smaller batch. Without ``shuffle`` (validation, evaluation)
    every token after the first is scored exactly once: by windows side by side, each
    target scored with the tokens before it in its own window, or, with ``stride`` between
    1 and ``window``, by windows ``stride`` apart that score only their last ``stride``
    targets (see :func:`scoring_windows`). With ``shuffle`` the window order
    is reshuffled every epoch and each window starts at a random offset into a spare
    window of slack, so epochs do not see identical cuts of the text; ``order`` (the run's
    :class:`~data.epoch_order.EpochOrder`) says which epoch a pass is.

    With ``shuffle`` and ``steps`` > 0 a pass is instead ``steps`` batches of windows that
    start anywhere in the text, drawn afresh for each epoch (nanoGPT's sampling): an epoch
    is then a fixed number of updates, however long the text is.
    """
    ids = np.asarray(ids, np.int32)
    usable = len(ids) - 1
    count = usable // window
    if shuffle and count >= 2:
        count -= 1
    slack = usable - count * window
    tokens = tf.constant(ids)
    if shuffle and steps > 0:
        drawn = int(steps) * batch_size

        def one_pass(epoch):
            places = tf.random.stateless_uniform([drawn], pass_seed(seed, epoch), minval=0,
                                                 maxval=usable - window + 1, dtype=tf.int64)
            return tf.data.Dataset.from_tensor_slices((places, tf.zeros([drawn], tf.int64)))

        starts = per_epoch(one_pass, order).apply(tf.data.experimental.assert_cardinality(drawn))
    elif shuffle:
        # Order and offsets depend only on (seed, epoch), so a resumed run repeats them.
        def one_pass(epoch):
            order_seed, offset_seed = tf.unstack(
                tf.random.experimental.stateless_split(pass_seed(seed, epoch), 2))
            order = tf.random.experimental.stateless_shuffle(
                tf.range(count, dtype=tf.int64), seed=order_seed)
            offsets = tf.random.stateless_uniform([count], offset_seed, minval=0,
                                                  maxval=slack + 1, dtype=tf.int64)
            return tf.data.Dataset.from_tensor_slices(
                (order * window + offsets, tf.zeros([count], tf.int64)))

        starts = per_epoch(one_pass, order).apply(tf.data.experimental.assert_cardinality(count))
    else:
        starts = tf.data.Dataset.from_tensor_slices(
            scoring_windows(usable, window, stride if 0 < stride < window else window))

    def cut(start, skip):
        start = tf.cast(start, tf.int32)
        weights = tf.cast(tf.range(window, dtype=tf.int64) >= skip, tf.float32)
        return (tokens[start:start + window], tokens[start + 1:start + window + 1], weights)

    def fill(x, y, weights):
        missing = batch_size - tf.shape(x)[0]
        weights = tf.pad(weights, [[0, missing], [0, 0]])
        x = tf.ensure_shape(tf.pad(x, [[0, missing], [0, 0]]), [batch_size, window])
        y = tf.ensure_shape(tf.pad(y, [[0, missing], [0, 0]]), [batch_size, window])
        return x, y, tf.ensure_shape(weights, [batch_size, window])

    return (starts.map(cut, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size).map(fill).prefetch(tf.data.AUTOTUNE)
            .with_options(epoch_pipeline_options()))
