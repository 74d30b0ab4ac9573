"""Process-wide settings for running Encore as a program: one function, called on purpose.

Importing ``applications`` (or any module of it) changes nothing in the process. The command
line calls :func:`configure_process` first thing; a library user who wants the same quiet,
memory-lean process calls it once, before anything imports TensorFlow::

    from applications.core.runtime import configure_process

    configure_process()
    from applications.pos_tagger.model import PosTagger
"""

import os
import sys

from applications.core.memory import limit_malloc_arenas


def configure_process(quiet_tensorflow=True):
    """Set up this process the way the ``encore`` command runs.

    - ``TF_CPP_MIN_LOG_LEVEL=2`` unless already set: TensorFlow's C++ info lines are not for
      users; its warnings and errors still show.
    - glibc's malloc arenas capped at two (:func:`~applications.core.memory.limit_malloc_arenas`)
      before TensorFlow starts its threads; nothing happens off glibc or when
      ``MALLOC_ARENA_MAX`` is set.
    - with ``quiet_tensorflow``, TensorFlow imported now with its start-up lines kept off
      stderr (:func:`import_tensorflow_quietly`).

    Calling it again does nothing more. Settings that only take effect before TensorFlow
    starts (the log level, the arenas) have no effect once it has.

    Args:
        quiet_tensorflow: import TensorFlow here, silently.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    limit_malloc_arenas()
    if quiet_tensorflow:
        import_tensorflow_quietly()


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up lines (absl, oneDNN) kept off stderr.

    Those lines ignore ``TF_CPP_MIN_LOG_LEVEL`` and would bury the one-line errors the
    command line promises. File descriptor 2 points at ``/dev/null`` only during the import
    and is restored after it; everything printed later shows as usual. Does nothing when
    TensorFlow is already imported.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
