"""Reading user text files line by line in bounded memory, and writing files atomically.

Hostile input stays bounded: a line longer than :data:`MAX_LINE_BYTES` and a gzip file that
expands more than :data:`MAX_GZIP_RATIO` times (past :data:`GZIP_FREE_BYTES`) are refused
with one :class:`InputError` naming the file (and line) before they fill the memory. A write
that finds the disk full raises :class:`DiskFullError` and leaves the old file in place.
"""

import errno
import gzip
import io
import itertools
import json
import os
import sys
import tempfile
import zlib

from data.errors import InputError

# The longest line a reader accepts; a longer one is refused, never held in memory whole.
MAX_LINE_BYTES = 1 << 20
# A gzip input may expand this many times its compressed size (text: 3-10 times) ...
MAX_GZIP_RATIO = 100
# ... once its expanded bytes pass this floor (a small file cannot hurt, whatever its ratio).
GZIP_FREE_BYTES = 64 << 20
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(InputError):
    """A write stopped because the disk (or the user's quota) is full.

    Raised where the package writes a file; the file that was there before is unchanged.

    Example:
        >>> str(DiskFullError("runs/a/model.keras"))
        'runs/a/model.keras: no space left on device; the previous file is unchanged'
    """

    def __init__(self, path, reason="no space left on device"):
        super().__init__(f"{reason}; the previous file is unchanged", path)


def is_disk_full(err):
    """Whether ``err`` (an ``OSError`` or a TensorFlow file error) says the disk is full."""
    if isinstance(err, DiskFullError):
        return True
    if isinstance(err, OSError) and err.errno in _DISK_FULL_ERRNOS:
        return True
    # TensorFlow's C++ file writers report errno only as its text (strerror).
    text = str(err)
    return any(os.strerror(code) in text for code in _DISK_FULL_ERRNOS)


def disk_full_reason(err):
    """``"no space left on device"`` or ``"disk quota exceeded"`` for a disk-full ``err``."""
    quota = (getattr(err, "errno", None) == errno.EDQUOT
             or os.strerror(errno.EDQUOT) in str(err))
    return "disk quota exceeded" if quota else "no space left on device"


def source_name(path):
    """How errors name a file argument: ``<stdin>`` for ``"-"``, as :func:`iter_lines` does."""
    return "<stdin>" if str(path) == "-" else path


def iter_lines(path, max_line_bytes=None):
    """Yield ``(line_number, text)`` for each line of a UTF-8 file, in bounded memory.

    A UTF-8 byte-order mark and CRLF line endings are accepted. A missing
    file or bytes that are not UTF-8 raise :class:`InputError` naming the
    file and line. ``"-"`` reads standard input; a name ending in ``.gz`` is
    decompressed on the fly.

    Args:
        path: the file, or ``"-"``.
        max_line_bytes: the most bytes a line may hold before its ``\n`` (default
            :data:`MAX_LINE_BYTES`); a longer line is refused after reading that many bytes.
    """
    limit = MAX_LINE_BYTES if max_line_bytes is None else int(max_line_bytes)
    if str(path) == "-":
        stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(
            sys.stdin.read().encode("utf-8"))
        yield from _decode_lines(stream, source_name(path), limit)
        return
    try:
        compressed = str(path).endswith(".gz")
        handle = gzip.open(path, "rb") if compressed else open(path, "rb")
        size = os.path.getsize(path) if compressed else None
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", path) from None
    except PermissionError:
        raise InputError("permission denied", path) from None
    with handle:
        try:
            yield from _decode_lines(handle, path, limit, size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise InputError(f"not a readable gzip file ({err.__class__.__name__})",
                             path) from None


def batches_or_refuse(items, size, path, nothing):
    """:func:`batches_of`, but input without a single item is refused before anything is
    read on: one InputError, ``nothing``, naming ``path`` as :func:`source_name` does."""
    batches = batches_of(items, size)
    first = next(batches, None)
    if first is None:
        raise InputError(nothing, source_name(path))
    return itertools.chain([first], batches)


def batches_of(items, size):
    """Yield lists of ``size`` consecutive items (the last may be shorter), lazily.

    Example:
        >>> list(batches_of(iter("abcde"), 2))
        [['a', 'b'], ['c', 'd'], ['e']]
    """
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def nonblank_lines(path):
    """The lines of ``path`` (see :func:`iter_lines`) that hold more than white space."""
    return (text for _, text in iter_lines(path) if text.strip())


def gzip_budget(compressed_bytes):
    """How many bytes a gzip file of ``compressed_bytes`` may expand to."""
    return max(GZIP_FREE_BYTES, MAX_GZIP_RATIO * compressed_bytes)


def gzip_bomb_error(path, expanded, compressed_bytes, line=None):
    """The error for a gzip file that expanded past :func:`gzip_budget`."""
    return InputError(f"gzip data expands more than {MAX_GZIP_RATIO} times "
                      f"({compressed_bytes:,} bytes compressed, over {expanded:,} expanded "
                      "so far); refused as a decompression bomb", path, line)


def decompress_gzip(payload, path):
    """Decompress a whole gzip ``payload`` held in memory, refusing a decompression bomb.

    Raises:
        InputError: the data is not gzip, is cut short, or expands past :func:`gzip_budget`.
    """
    budget = gzip_budget(len(payload))
    parts, size = [], 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(payload)) as handle:
            while True:
                part = handle.read(1 << 20)
                if not part:
                    break
                size += len(part)
                if size > budget:
                    raise gzip_bomb_error(path, size, len(payload))
                parts.append(part)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise InputError(f"not a readable gzip file ({err.__class__.__name__}: {err})",
                         path) from None
    return b"".join(parts)


def _decode_lines(handle, path, limit=MAX_LINE_BYTES, compressed_bytes=None):
    budget = None if compressed_bytes is None else gzip_budget(compressed_bytes)
    number, expanded = 0, 0
    while True:
        # readline(n) stops after n bytes: a line with no end is never read whole.
        raw = handle.readline(limit + 1)
        if not raw:
            return
        number += 1
        expanded += len(raw)
        if budget is not None and expanded > budget:
            raise gzip_bomb_error(path, expanded, compressed_bytes, number)
        if len(raw) > limit and not (len(raw) == limit + 1 and raw.endswith(b"\n")):
            raise InputError(f"line longer than {limit:,} bytes (is this a text file with "
                             "one record a line?)", path, number)
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(
                f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at column {err.start + 1})",
                path,
                number,
            ) from None
        if "\x00" in text:
            # UTF-8 allows NUL, text files never hold it: UTF-16 without a BOM, or binary.
            raise InputError(f"NUL byte at column {text.index(chr(0)) + 1} (is this a binary "
                             "or UTF-16 file?)", path, number)
        yield number, text.rstrip("\r\n")


def file_above(path):
    """The first existing path at or above ``path`` when it is not a folder (a file there
    stops folders being made down to ``path``), else None."""
    above = os.path.abspath(path)
    while not os.path.lexists(above):
        above = os.path.dirname(above)
    return None if os.path.isdir(above) else above


def atomic_write_bytes(path, payload):
    """Write ``payload`` to ``path`` so that readers see the old or the new file, never half.

    Raises:
        DiskFullError: the disk or quota filled up; ``path`` still holds what it held.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError("is a folder: name a file to write (nothing was changed)", path)
    above = file_above(folder)
    if above is not None:
        raise InputError(f"cannot be written: {above} is a file (nothing was changed)", path)
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if is_disk_full(err):
            raise DiskFullError(path, disk_full_reason(err)) from None
        raise
    _fsync_dir(folder)


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path, max_bytes=64 << 20):
    """Read a JSON file the package wrote (or a ``--config`` file); a torn, missing, larger
    than ``max_bytes`` or too deeply nested file is an InputError."""
    try:
        with open(path, "rb") as handle:
            payload = handle.read(max_bytes + 1)
        if len(payload) > max_bytes:
            raise InputError(f"over {max_bytes:,} bytes; not a file this package reads", path)
        return json.loads(payload.decode("utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        line = getattr(err, "lineno", None)
        raise InputError(f"not a valid JSON file ({err.__class__.__name__})", path, line) from None


def _fsync_dir(folder):
    # The rename is only durable once the directory entry itself is on disk.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
