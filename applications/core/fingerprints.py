"""Content fingerprints of a run's training inputs, so a resumed run trains on the same data.

``train`` records them in ``checkpoints/application.json``; resuming compares them and
refuses a run whose training file changed in content (a renamed or moved file with the
same bytes resumes). The fingerprint is the SHA-256 of the bytes, read in chunks, and their
count; a folder (images) hashes each file's path inside it and its bytes, in sorted order.

Example:
    >>> fingerprint("train.conllu")  # doctest: +SKIP
    {'bytes': 1234, 'sha256': '9f86d0...'}
"""

import hashlib
import os

from applications.core.config import UsageError
from data.errors import InputError

# The flags, across applications, that name training inputs.
TRAINING_INPUTS = ("train", "train_labels", "train_src", "train_tgt", "labels")
_CHUNK = 1 << 20


def _hash_file(path, digest):
    size = 0
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(block)
                size += len(block)
    except OSError as err:
        raise InputError(f"cannot read ({err.strerror or type(err).__name__})", path) from None
    return size


def fingerprint(path):
    """``{"bytes", "sha256"}`` of a file or of a folder's files (``files`` counts them);
    None for no file (the embedded sample data)."""
    if path is None:
        return None
    digest, size, files = hashlib.sha256(), 0, 0
    if os.path.isdir(path):
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode("utf-8", "replace") + b"\0")
                size += _hash_file(full, digest)
                files += 1
        return {"bytes": size, "files": files, "sha256": digest.hexdigest()}
    return {"bytes": _hash_file(path, digest), "sha256": digest.hexdigest()}


def training_fingerprints(args):
    """``{flag: fingerprint}`` of the training inputs ``args`` names (see
    :data:`TRAINING_INPUTS`); an absent flag is recorded as None (the embedded data). A
    path that does not exist is left out: the reader reports it."""
    found = {}
    for name in TRAINING_INPUTS:
        path = getattr(args, name, False)
        if path is None or (path is not False and os.path.exists(path)):
            found[name] = fingerprint(path)
    return found


def _describe(value):
    if value is None:
        return "the embedded sample data"
    files = f" in {value['files']} files" if "files" in value else ""
    return f"{value['bytes']:,} bytes{files}, sha256 {value['sha256'][:12]}"


def check_same_data(saved, now, out):
    """Refuse to resume the run in ``out`` when a training input's content changed.

    ``saved`` is what the run recorded (None for runs made before fingerprints were
    kept: nothing to compare), ``now`` is :func:`training_fingerprints` of this command.

    Raises:
        UsageError: one line naming each changed flag, then and now.
    """
    if saved is None:
        return
    changed = [f"--{name.replace('_', '-')} was {_describe(saved.get(name))}, now "
               f"{_describe(value)}" for name, value in sorted(now.items())
               if name in saved and saved[name] != value]  # both recorded, and differ
    if changed:
        raise UsageError(f"{out} holds a run trained on other data ({'; '.join(changed)}); "
                         "resume it with the same data, train into a new --out, or pass "
                         "--restart to start this run afresh")
