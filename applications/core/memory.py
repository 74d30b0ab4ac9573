"""Process memory: glibc's allocator tuned for training (a no-op off glibc), and the resident size.

- :func:`limit_malloc_arenas` caps the per-thread arenas before TensorFlow starts its threads.
- :func:`resident_megabytes` reads the process's resident size (the tuner logs it per trial).
- :func:`release_free_memory` hands freed heap pages back: steps allocate and free tensors of
  a different size at every batch shape (length buckets), and glibc keeps freed chunks
  inside the heap, so the resident size creeps up over epochs although the memory in use
  does not. Called every few seconds while training (``epochs.ReleaseFreeMemory``).

No Keras or TensorFlow here: :func:`applications.core.runtime.configure_process` calls
:func:`limit_malloc_arenas` before anything imports TensorFlow.
"""

import ctypes
import functools
import os
import sys


@functools.cache
def glibc_function(name):
    """The C library's function ``name`` on Linux, or None (another OS, or not in this libc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(count=2):
    """Cap glibc's per-thread malloc arenas (as ``MALLOC_ARENA_MAX`` would), unless set.

    TensorFlow's many pool threads each get an arena of their own by default (up to 8 per
    core), and memory freed in one arena is not reused by threads on another: training the
    tagger on UD English peaked ~90 MB higher that way, at the same speed.
    """
    mallopt = glibc_function("mallopt")
    if mallopt is not None and not os.environ.get("MALLOC_ARENA_MAX"):
        mallopt(-8, count)  # M_ARENA_MAX


def release_free_memory():
    """Return free heap pages to the system; False where that is not possible (not glibc)."""
    malloc_trim = glibc_function("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True


def resident_megabytes():
    """This process's resident memory now, in MB (Linux ``/proc``; peak RSS elsewhere)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
