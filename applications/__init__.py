"""Applications built on the shared base: each is run as ``python -m applications.<name>``."""

import os

# TensorFlow's C++ start-up chatter is not for users; real warnings still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from applications.core.memory import limit_malloc_arenas  # noqa: E402

# Before TensorFlow starts its threads, so they share the capped arenas.
limit_malloc_arenas()

# Importing a model module registers its class for safe ``.keras`` loading.
MODEL_MODULES = [
    "applications.pos_tagger.model",
    "applications.text_classifier.model",
    "applications.language_model.model",
    "applications.anomaly_detector.model",
    "applications.image_classifier.model",
    "applications.autoencoder.model",
    "applications.translator.model",
    "applications.core.ensemble",
]


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up lines (absl, oneDNN) kept off stderr.

    Those lines ignore ``TF_CPP_MIN_LOG_LEVEL`` and would bury the one-line errors the
    command line promises. Only the import is silenced; everything after it prints as usual.
    """
    import sys

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


import_tensorflow_quietly()


def register_all():
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(name)


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
