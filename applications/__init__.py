"""Applications built on the shared base: each is run as ``python -m applications.<name>``."""

import os

# TensorFlow's C++ start-up chatter is not for users; real warnings still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Importing a model module registers its class for safe ``.keras`` loading.
MODEL_MODULES = [
    "applications.pos_tagger.model",
    "applications.text_classifier.model",
    "applications.language_model.model",
    "applications.anomaly_detector.model",
]


def register_all():
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(name)
