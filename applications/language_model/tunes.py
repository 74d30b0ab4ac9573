"""Tunes in ABC notation as the language model's corpus, and whole tunes out of it.

A tune is a unit: each is read as a line break, its text (``X:`` line to last line, header
fields kept) and a blank line, the end-of-tune mark; training windows are cut inside each
tune (the last one filled with weight-0 padding) unless ``cross_tunes`` joins them into one
text. Validation tunes are a seeded share of all tunes, drawn from every file alike.
"""

import os
import sys

import numpy as np
import tensorflow as tf

from applications.core import progress
from applications.core.config import UsageError
from applications.core.outputs import make_folder
from applications.language_model.pipeline import (NEWLINE, build_vocabulary, check_length,
                                                  make_metadata,
                                                  metadata_vocabulary, window_dataset)
from data.abc import read_tunes
from data.abc_check import check_tune, check_tunes
from data.epoch_order import epoch_permutation, epoch_pipeline_options
from data.errors import InputError

FORMATS = ("auto", "text", "abc")
# The last line of a generated tune that reached the length limit before its end.
CUT_MARK = "% cut at the length limit"


def resolve_format(fmt, path):
    """``"abc"`` or ``"text"``: ``auto`` means ABC for a ``.abc`` file or a folder."""
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt != "auto":
        return fmt
    return "abc" if os.path.isdir(path) or str(path).lower().endswith(".abc") else "text"


def tune_texts(path):
    """The text of every tune in an ABC file or folder of ``.abc`` files."""
    return [tune.text for tune in read_tunes(path)]


def tune_tokens(text):
    """A tune's characters as the model reads them: line break, tune, blank line."""
    return list(NEWLINE + text + NEWLINE)


def split_tunes_for_validation(tunes, fraction, seed):
    """``(train, dev)``: a share ``fraction`` of the tunes, drawn with ``seed`` (None: none)."""
    if fraction <= 0:
        return tunes, None
    count = int(round(len(tunes) * fraction))
    held = set(np.random.default_rng(seed).permutation(len(tunes))[:count].tolist())
    return ([t for i, t in enumerate(tunes) if i not in held],
            [t for i, t in enumerate(tunes) if i in held])


def tune_windows(tunes_ids, window):
    """``(inputs, targets, weights)`` arrays ``[N, window]``: each tune's consecutive windows,
    the last padded with id 0 at weight 0, so no window runs into the next tune."""
    inputs, targets, weights = [], [], []
    for ids in tunes_ids:
        ids = np.asarray(ids, np.int32)
        for start in range(0, len(ids) - 1, window):
            x = ids[start:start + window]
            y = ids[start + 1:start + window + 1]
            x = x[:len(y)]
            pad = window - len(y)
            inputs.append(np.pad(x, (0, pad)))
            targets.append(np.pad(y, (0, pad)))
            weights.append(np.pad(np.ones(len(y), np.float32), (0, pad)))
    return np.stack(inputs), np.stack(targets), np.stack(weights)


def tune_dataset(tunes_ids, window, batch_size, shuffle=False, seed=0, order=None):
    """Batches ``(inputs, targets, weights)`` of :func:`tune_windows`, all of one shape (a
    last short batch is filled with weight-0 windows); with ``shuffle`` the window order is
    drawn anew each epoch of ``order``."""
    inputs, targets, weights = (tf.constant(a) for a in tune_windows(tunes_ids, window))
    count = int(inputs.shape[0])
    if shuffle:
        picks = epoch_permutation(count, seed, order)
    else:
        picks = tf.data.Dataset.range(count)
    missing = -count % batch_size

    def take(k):
        return tf.gather(inputs, k), tf.gather(targets, k), tf.gather(weights, k)

    filler = tf.data.Dataset.from_tensors(
        (tf.zeros([window], tf.int32), tf.zeros([window], tf.int32),
         tf.zeros([window], tf.float32))).repeat(missing)
    return (picks.map(take).concatenate(filler).batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE).with_options(epoch_pipeline_options()))


def tune_training_data(train_path, dev_path, config, metadata=None, order=None):
    """``(metadata, train dataset, dev dataset or None)`` of ABC tunes, as
    ``read_training_data`` returns them; ``dev_path`` None holds out a seeded
    ``dev_fraction`` of the tunes."""
    if config.level != "char":
        raise UsageError("ABC tunes are read character by character: set level=char")
    tunes = [tune_tokens(text) for text in tune_texts(train_path)]
    if dev_path:
        train, dev = tunes, [tune_tokens(text) for text in tune_texts(dev_path)]
    else:
        train, dev = split_tunes_for_validation(tunes, config.dev_fraction, config.seed)
        if not train:
            raise InputError(f"dev_fraction={config.dev_fraction} holds out all "
                             f"{len(tunes)} tunes; none is left to train on", train_path)
        if dev:
            progress.line(f"no --dev: a seeded {config.dev_fraction:.0%} of the tunes of "
                          f"{progress.file_label(train_path)} ({len(dev):,} of {len(tunes):,}) "
                          "held out as dev to choose the best epoch and stop early")
    if config.cross_tunes:  # one text: each part must fill a window
        for part, path, what in ((train, train_path, "the training tunes"),
                                 (dev or [], dev_path or train_path, "the dev tunes")):
            if part:
                check_length([t for tune in part for t in tune], config.window, path, "char",
                             what)
    vocab = (metadata_vocabulary(metadata) if metadata is not None
             else build_vocabulary([t for tune in train for t in tune], "char", 0, 1))
    metadata = {**make_metadata("char", vocab), "format": "abc"}
    return metadata, tunes_dataset(vocab, train, config, shuffle=True, order=order), (
        None if not dev else tunes_dataset(vocab, dev, config))


def tunes_dataset(vocab, tunes, config, shuffle=False, order=None):
    """Windows inside each tune, or (``cross_tunes``) of all tunes joined into one text."""
    if config.cross_tunes:
        return window_dataset(vocab.encode([t for tune in tunes for t in tune]), config.window,
                              config.batch_size, shuffle=shuffle, seed=config.seed, order=order)
    return tune_dataset([vocab.encode(tune) for tune in tunes], config.window,
                        config.batch_size, shuffle=shuffle, seed=config.seed, order=order)


def tune_prompt(prompt):
    """The text a tune generation starts from: a line break and ``X:``, then the given header
    fields (a literal ``\\n`` in a command-line prompt is a line break)."""
    prompt = prompt.replace("\\n", NEWLINE)
    if prompt and not prompt.endswith(NEWLINE):
        prompt += NEWLINE
    if not prompt:
        return NEWLINE + "X:"
    return NEWLINE + (prompt if prompt.startswith("X:") else "X: 1" + NEWLINE + prompt)


def generate_tunes(server, count, prompt="", temperature=1.0, top_k=0, seed=None,
                   max_length=2000):
    """``count`` whole tunes, drawn side by side (one batch); each ends at a blank line or
    after ``max_length`` characters (then its last line is the comment :data:`CUT_MARK`),
    and its ``X:`` line is renumbered 1, 2, ...

    Returns ``(tunes, truncated)``: the tune texts and how many reached ``max_length``.
    """
    from applications.language_model.serving import pick_token, traced

    start = tune_prompt(prompt)
    ids = tf.constant(server.vocabulary.encode(list(start)), tf.int32)
    logits, states = traced(server, "prime")(ids)
    states = [tf.repeat(s, count, axis=0) for s in states]
    logits = np.repeat(logits.numpy(), count, axis=0)
    advance = traced(server, "advance")
    rng = np.random.default_rng(seed)
    pieces = [[] for _ in range(count)]
    done = np.zeros(count, bool)
    previous = [start[-1]] * count
    for _ in range(max_length):
        tokens = np.zeros(count, np.int32)
        for row in np.flatnonzero(~done):
            tokens[row] = pick_token(logits[row], temperature, top_k, rng, server.specials)
            token = server.vocabulary.items[tokens[row]]
            if token == NEWLINE and previous[row] == NEWLINE:
                done[row] = True
            else:
                pieces[row].append(token)
                previous[row] = token
        if done.all():
            break
        logits, states = advance(tf.constant(tokens), states)
        logits = logits.numpy()
    tunes = []
    for number, row in enumerate(pieces, start=1):
        text = (start[1:] + "".join(row)).rstrip(NEWLINE) + NEWLINE
        if not done[number - 1]:
            text += CUT_MARK + NEWLINE
        first, _, rest = text.partition(NEWLINE)
        tunes.append(f"X: {number}{NEWLINE}{rest}" if first.startswith("X:") else text)
    return tunes, int((~done).sum())


def write_tunes(tunes, out=None):
    out = out or sys.stdout
    for tune in tunes:
        out.write(tune + NEWLINE)
    out.flush()


def check_whole_tunes(tunes):
    """:func:`data.abc_check.check_tunes` totals, a tune cut at the length limit (marked
    with :data:`CUT_MARK`) counted as one that does not parse; ``cut`` counts those."""
    totals = check_tunes(tunes)
    cut = sum(tune.rstrip(NEWLINE).endswith(CUT_MARK) for tune in tunes)
    totals["parsed"] = sum(check_tune(tune).parsed and not tune.rstrip(NEWLINE).endswith(
        CUT_MARK) for tune in tunes)
    totals["parse_share"] = totals["parsed"] / len(tunes) if tunes else 0.0
    return {**totals, "cut": cut}


def describe_check(tunes, label="generated"):
    """One line of :func:`check_whole_tunes` totals (and the totals)."""
    totals = check_whole_tunes(tunes)
    line = (f"{label}: {totals['parsed']}/{totals['tunes']} whole tunes parse "
            f"({totals['parse_share']:.1%}), {totals['bars_in_metre']}/{totals['bars']} bars "
            f"in metre ({totals['in_metre_share']:.1%})")
    return line, totals


def midi_targets(folder, count):
    """The MIDI file names for ``count`` tunes; refuses names that already exist."""
    paths = [os.path.join(folder, f"tune_{i:03d}.mid") for i in range(1, count + 1)]
    for path in paths:
        if os.path.lexists(path):
            raise InputError("exists; choose another --midi folder or move it away "
                             "(nothing was written)", path)
    return paths


def render_midi(tunes, folder):
    """Write each tune as ``folder/tune_NNN.mid`` with music21 (the ``music`` extra).

    Returns ``[(path or None, error or None)]``: a tune music21 cannot read is skipped.
    """
    try:
        import music21
    except ImportError:
        raise UsageError("--midi needs music21: pip install 'encore[music]'") from None
    from data.files import atomic_write_bytes

    paths = midi_targets(folder, len(tunes))
    make_folder(folder, "--midi")
    written = []
    for tune, path in zip(tunes, paths):
        try:
            score = music21.converter.parse(tune, format="abc")
            payload = music21.midi.translate.streamToMidiFile(score).writestr()
        except Exception as err:  # music21 raises many kinds on a malformed tune
            written.append((None, f"{type(err).__name__}: {err}"))
            continue
        atomic_write_bytes(path, payload)
        written.append((path, None))
    return written
