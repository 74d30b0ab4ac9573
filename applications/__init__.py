"""Encore's applications, each run as ``encore <name> VERB`` or ``python -m applications.<name>``.

``applications/core/`` is the framework they share; every other folder with a
``commands.py`` is an application (:func:`applications.core.registry.application_names`).
Importing this package or any of its modules changes nothing in the process: the command
line calls :func:`applications.core.runtime.configure_process` (TensorFlow's log level,
malloc arenas, a quiet TensorFlow import), and a library user may call it too.
"""


def load(path):
    """Load a trained application directory or an exported SavedModel for the Python API.

    The result's ``predict`` takes raw Python inputs and returns Python values
    (:mod:`applications.core.api`). TensorFlow is imported here, not with the package.

    Example:
        >>> tagger = load("runs/tagger")  # doctest: +SKIP
        >>> tagger.predict(["The old man saw a dog."])  # doctest: +SKIP
        [[('The', 'DET'), ('old', 'ADJ'), ('man', 'NOUN'), ('saw', 'VERB'), ...]]
    """
    from applications.core.api import load as load_any

    return load_any(path)
