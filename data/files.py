"""Reading user text files line by line, and writing files atomically."""

import gzip
import io
import json
import os
import sys
import tempfile
import zlib

from data.errors import InputError


def iter_lines(path):
    """Yield ``(line_number, text)`` for each line of a UTF-8 file.

    A UTF-8 byte-order mark and CRLF line endings are accepted. A missing
    file or bytes that are not UTF-8 raise :class:`InputError` naming the
    file and line. ``"-"`` reads standard input; a name ending in ``.gz`` is
    decompressed on the fly.
    """
    if str(path) == "-":
        stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else io.BytesIO(
            sys.stdin.read().encode("utf-8"))
        yield from _decode_lines(stream, "<stdin>")
        return
    try:
        handle = gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", path) from None
    except PermissionError:
        raise InputError("permission denied", path) from None
    with handle:
        try:
            yield from _decode_lines(handle, path)
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise InputError(f"not a readable gzip file ({err.__class__.__name__})",
                             path) from None


def _decode_lines(handle, path):
    for number, raw in enumerate(handle, start=1):
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


def atomic_write_bytes(path, payload):
    """Write ``payload`` to ``path`` so that readers see the old or the new file, never half."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path):
    """Read a JSON file the package wrote; a torn or missing file is an InputError."""
    try:
        with open(path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
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
