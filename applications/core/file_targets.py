"""Single files the verbs write (plots, encodings, evaluation reports): an existing file is
replaced only when it is an earlier output of the same kind, else refused with one
:class:`~data.errors.InputError` line before anything is written. Folders are
:mod:`applications.core.outputs`' part."""

import os

from applications.core.outputs import read_dict
from data.errors import InputError

# How each kind of single-file output begins, to recognise an earlier one.
FILE_SIGNATURES = {".png": b"\x89PNG\r\n\x1a\n", ".npy": b"\x93NUMPY", ".csv": b"source,"}


def check_file_target(path, flag="--out"):
    """Refuse to replace ``path`` unless it is an earlier output of the same kind.

    A PNG, ``.npy`` or the encoder's CSV (header ``source,z0,...``) may be replaced; a
    folder, or a file that does not begin as that format does, is refused.
    """
    if not os.path.lexists(path):
        return
    kind = os.path.splitext(str(path))[1].lower()
    signature = FILE_SIGNATURES.get(kind)
    if os.path.isdir(path) or os.path.islink(path):
        raise InputError(f"{flag} names a folder or a link, not a {kind or 'file'} to write "
                         "(nothing was changed)", path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(signature or b""))
    except OSError as err:
        raise InputError(f"cannot read ({err.strerror}); nothing was changed", path) from None
    if signature is None or head != signature:
        raise InputError(f"exists and is not a {kind or 'file'} this package wrote; choose "
                         "another path or move it away (nothing was changed)", path)


def check_report_target(path):
    """Refuse to replace ``path`` (an ``evaluation.json``) unless an earlier ``evaluate``
    wrote it: a JSON object naming the scored ``data`` and its ``examples``."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) or os.path.islink(path):
        raise InputError("names a folder or a link, not the evaluation report to write "
                         "(nothing was changed)", path)
    # A report is a few kilobytes; a large file is someone else's, and is not read whole.
    report = read_dict(path) if os.path.getsize(path) < (1 << 24) else None
    if not (isinstance(report, dict) and "data" in report and "examples" in report):
        raise InputError("exists and is not an evaluation report this package wrote; choose "
                         "another --report folder or move it away (nothing was changed)", path)

