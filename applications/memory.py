"""Handing freed heap memory back to the system during training (glibc only).

Training steps allocate and free tensors of a different size at every batch shape (length
buckets), and glibc keeps freed chunks inside the heap: the resident size creeps up over
epochs although the memory in use does not. ``malloc_trim(0)`` returns the free pages, and
at ~5 ms a call it is cheap twice a second.
"""

import ctypes
import math
import sys
import time

import keras

_libc = None


def release_free_memory():
    """Return free heap pages to the system; False where that is not possible (not glibc)."""
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                _libc = ctypes.CDLL(None)
                _libc.malloc_trim  # missing on musl
            except (OSError, AttributeError):
                _libc = False
    if not _libc:
        return False
    _libc.malloc_trim(0)
    return True


class ReleaseFreeMemory(keras.callbacks.Callback):
    """:func:`release_free_memory` after a batch when ``interval`` seconds have passed since
    the last time, and before each evaluation: at most ~1 % of the time for any step size."""

    def __init__(self, interval=0.5):
        super().__init__()
        self.interval = interval
        self.last = -math.inf

    def _release(self):
        release_free_memory()
        self.last = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.last >= self.interval:
            self._release()

    def on_test_begin(self, logs=None):
        self._release()
