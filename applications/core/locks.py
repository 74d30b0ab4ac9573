"""One writer per folder: ``train`` and ``tune`` hold an exclusive lock on the folder they write.

The lock is ``fcntl.flock`` on :data:`LOCK_FILE` inside the folder. The kernel releases it
when the holding process ends in any way (SIGKILL included), so a lock left by a killed run
never blocks the next one; the file itself stays and only records the holder's pid for the
message. A second process asking for the same folder gets one line,
``FOLDER is in use by process N``, and exit code 2.

Example:
    >>> with folder_lock("runs/tagger"):  # doctest: +SKIP
    ...     train()
"""

import contextlib
import fcntl
import os

from applications.core.config import UsageError

LOCK_FILE = ".encore.lock"
# Locks this process holds: real path -> [file descriptor, holders]. flock locks belong to
# an open file, so a second open in the same process would block itself; it is counted here.
_held = {}


def acquire(folder):
    """Lock ``folder`` (created if missing) for this process, or raise :class:`UsageError`."""
    os.makedirs(folder, exist_ok=True)
    key = os.path.realpath(folder)
    if key in _held:
        _held[key][1] += 1
        return
    fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise UsageError(f"{folder} is in use by process {holder}; wait for it to end or "
                         "write to another folder") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    _held[key] = [fd, 1]


def held():
    """The folders (real paths) this process holds locks on."""
    return set(_held)


def release(folder):
    """Undo one :func:`acquire` of ``folder``; the last one unlocks it."""
    key = os.path.realpath(folder)
    entry = _held.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] == 0:
        del _held[key]
        os.close(entry[0])  # closing the only open file releases the flock


@contextlib.contextmanager
def folder_lock(folder):
    """Hold the lock of ``folder`` for the ``with`` block (see :func:`acquire`)."""
    acquire(folder)
    try:
        yield
    finally:
        release(folder)


@contextlib.contextmanager
def released_on_exit():
    """Release, when the block ends, every lock the block took (however deep inside)."""
    before = held()
    try:
        yield
    finally:
        for folder in held() - before:
            release(folder)
