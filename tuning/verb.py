"""The ``tune`` verb as the launcher adds it to every application's command line.

The core command line (:mod:`applications.core.cli`) knows nothing of the tuner; the
launcher (:mod:`applications.main`) passes :data:`TUNE` to it, so
``encore <app> tune``, ``python -m applications.<app> tune`` and ``python -m tuning <app>``
all run :func:`tuning.search.run_tune`.
"""

from applications.core.cli import Verb
from tuning.search import add_tune_arguments


def add_arguments(app, parser):
    """The ``tune`` flags, then ``app``'s own input flags (tune reads what train reads)."""
    add_tune_arguments(parser)
    app.add_arguments("train", parser)


def run(app, args):
    """Run (or resume) a search for ``app``; returns the exit code."""
    from tuning.search import run_tune

    return run_tune(app, args)


TUNE = Verb("tune", "search hyperparameters with Keras Tuner", add_arguments, run)
