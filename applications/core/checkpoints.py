"""Finding state that reads back whole after a crash: torn files are named and skipped.

``tf.train.CheckpointManager`` writes each checkpoint under a new name and only then lists
it, so a killed run leaves at worst an unlisted or half-written newest checkpoint. A disk
that fills up, a copy cut short or a file system that loses its last writes can still
truncate any file. The functions here read what is there, report each unreadable file in
one ``warning: FILE: ...`` line, and fall back to the newest checkpoint that restores in
full; when there is none, the error is one line too.

Only damage counts as damage: a file that cannot be opened or read at all (no permission,
an I/O error, a file system gone away) is not torn, and deleting checkpoints because of it
would destroy a run that is whole. Such an error stops the run with one line naming the
file, and nothing is deleted.
"""

import glob
import os
import re
import shutil
import sys
import zipfile
import zlib

import tensorflow as tf

from data.errors import InputError

LIST_FILE = "checkpoint"  # CheckpointManager's list of checkpoints
_NUMBERED = re.compile(r"ckpt-(\d+)\.index$")
_LIST_LINE = re.compile(r'^\w+: ("[^"]*"|[-+0-9.eE]+)$')


def warn(path, message):
    print(f"warning: {path}: {message}", file=sys.stderr)


def _reason(err):
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


# TensorFlow's errors for a file it could not get at, as opposed to one it read and found bad.
_ACCESS_ERRORS = (OSError, tf.errors.PermissionDeniedError, tf.errors.UnavailableError,
                  tf.errors.ResourceExhaustedError, tf.errors.UnauthenticatedError)


def access_error(path, err):
    """The one-line :class:`InputError` for a file that could not be read at all."""
    reason = getattr(err, "strerror", None) or _reason(err)
    return InputError(f"cannot read this file ({reason}); it was left as it is, and so was "
                      "every checkpoint: fix its permissions or storage and run again", path)


def check_readable(prefix):
    """Open every file of the checkpoint ``prefix`` and read a byte of each.

    A missing or empty file is damage, left for the restore to find; any other ``OSError``
    (permission, I/O) raises :func:`access_error`.
    """
    for path in [prefix + ".index", *sorted(glob.glob(glob.escape(prefix) + ".data-*"))]:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except FileNotFoundError:
            continue
        except OSError as err:
            raise access_error(path, err) from None


def remove_stale_temporaries(*folders):
    """Delete what a killed write left behind: ``.tmp-*`` files and TF's ``*_temp`` folders.

    The caller holds the folder's lock (:mod:`applications.core.locks`), so no other live
    process is writing them.
    """
    for folder in folders:
        for path in glob.glob(os.path.join(glob.escape(folder), ".tmp-*")):
            if os.path.isfile(path):
                try:
                    os.unlink(path)
                except OSError as err:
                    raise access_error(path, err) from None
        for path in glob.glob(os.path.join(glob.escape(folder), "ckpt-*_temp*")):
            shutil.rmtree(path, ignore_errors=True)


def _list_problem(path):
    """Why CheckpointManager's list file looks torn, or None (also when there is none)."""
    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise access_error(path, err) from None
    if not payload:
        return "empty file"
    text = payload.decode("utf-8", "replace")
    # TensorFlow writes whole "key: value" lines, the last one ending in a newline.
    if not text.endswith("\n") or "model_checkpoint_path:" not in text:
        return "cut off"
    if not all(_LIST_LINE.match(line) for line in text.splitlines()):
        return "garbled line"
    return None


def open_manager(checkpoint, directory, max_to_keep):
    """A ``CheckpointManager``; a torn list file is reported, removed and rebuilt from disk."""
    path = os.path.join(directory, LIST_FILE)
    problem = _list_problem(path)
    if problem is None:
        try:
            return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep)
        except _ACCESS_ERRORS as err:
            raise access_error(path, err) from None
        except (ValueError, tf.errors.OpError) as err:
            problem = _reason(err)
    warn(path, f"unreadable list of checkpoints ({problem}); "
               "looking for the checkpoint files themselves")
    os.unlink(path)
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep)


def checkpoints_on_disk(directory):
    """Prefixes of the ``ckpt-N`` checkpoints in ``directory``, newest (highest N) first."""
    found = []
    for name in os.listdir(directory) if os.path.isdir(directory) else []:
        match = _NUMBERED.match(name)
        if match:
            found.append((int(match.group(1)), os.path.join(directory, name[:-len(".index")])))
    return [prefix for _, prefix in sorted(found, reverse=True)]


def _torn_file(prefix):
    """Which file of a checkpoint that failed to restore is at fault: its index or data."""
    try:
        tf.train.load_checkpoint(prefix)
    except Exception:  # noqa: BLE001 - any failure to open means the index is bad
        return prefix + ".index"
    data = sorted(glob.glob(glob.escape(prefix) + ".data-*"))
    return data[0] if data else prefix + ".data-00000-of-00001"


def restore_newest_readable(checkpoint, manager):
    """Restore the newest checkpoint that reads back in full; returns its prefix or None.

    Every checkpoint file on disk is a candidate, listed or not, newest first. Each one that
    fails is named in a warning and the next older one is tried; once one restores, the
    unreadable newer ones are deleted. A file that cannot be read at all (permission, I/O:
    not damage) stops the search with an :class:`InputError` before anything is deleted. When the one restored is not the manager's latest
    (or the list was torn), the list is rewritten to it and the older ones, so the manager
    keeps pruning them; the caller must then reopen the manager.

    Raises:
        InputError: checkpoint files exist but none of them can be restored, or one of them
            cannot be read at all.
    """
    directory = manager.directory
    candidates = checkpoints_on_disk(directory)
    bad, reasons = [], []
    for prefix in candidates:
        check_readable(prefix)
        try:
            checkpoint.restore(prefix).expect_partial()
        except _ACCESS_ERRORS as err:
            raise access_error(prefix, err) from None
        except Exception as err:  # noqa: BLE001 - any other failure: damage; try an older one
            bad.append(prefix)
            reasons.append((_torn_file(prefix), _reason(err)))
            continue
        for path, reason in reasons:  # reported only now: with no fallback, the error says it
            warn(path, f"unreadable checkpoint ({reason}); falling back to an older one")
        if bad or prefix != manager.latest_checkpoint:
            keep = candidates[candidates.index(prefix):][::-1]
            tf.compat.v1.train.update_checkpoint_state(
                directory, prefix, all_model_checkpoint_paths=keep)
        for torn in bad:  # newer than the one restored; training will write past them
            for path in glob.glob(glob.escape(torn) + ".*"):
                os.unlink(path)
        return prefix
    if candidates:
        path, reason = reasons[0]
        raise InputError(f"none of the {len(candidates)} checkpoint(s) here reads back (newest: "
                         f"{os.path.basename(path)}: {reason}); delete this folder to start "
                         "over, or train into a new --out", directory)
    return None


def readable_keras_file(path):
    """None when ``path`` is a whole ``.keras`` archive, else why it is not (zip CRC check).

    Raises:
        InputError: the file cannot be read at all (:func:`access_error`).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError) as err:
        return _reason(err)
    except OSError as err:
        raise access_error(path, err) from None
    return f"member {broken} fails its CRC check" if broken else None
