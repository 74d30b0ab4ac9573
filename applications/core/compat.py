"""The Keras and Keras Tuner releases this package is tested with, checked where it relies on
their private internals.

A few modules reach past the public API, because the public one lacks what they need:

- :mod:`applications.core.distributed` moves gradient clipping after the all-reduce by
  replacing ``optimizer._clip_gradients`` and ``optimizer._all_reduce_sum_gradients``;
- :mod:`applications.core.base` updates the model's ``_loss_tracker`` in its train step,
  and its ``Application`` takes :mod:`encoders.tracking`'s override of the private
  ``_trackable_children`` (checked here, as encoders import nothing from applications);
- :mod:`tuning.tuners`, :mod:`tuning.distributed`, :mod:`tuning.export_best` and
  :mod:`tuning.hypermodel` use ``keras_tuner.src`` modules, the oracle's ``_retry_queue``,
  the tuner's ``_build_hypermodel`` / ``_build_and_fit_model`` / ``_get_checkpoint_fname``
  and ``Layer._flatten_layers``.

Such internals change without notice between minor releases, so each of those modules calls
:func:`check_keras` or :func:`check_keras_tuner` when imported: on a release outside the
tested series it logs one warning line (once per process) naming the tested series. It does
not refuse to run: a newer release usually still works, and the tests say whether it does.

Example:
    >>> from applications.core import compat
    >>> compat.untested("keras", "3.15.2", compat.TESTED["keras"]) is None
    True
    >>> compat.untested("keras", "3.16.0", compat.TESTED["keras"]).endswith("keras 3.15.x")
    True
"""

import logging

# Release series (major, minor) the package is tested with.
TESTED = {"keras": (3, 15), "keras-tuner": (1, 4)}

_logger = logging.getLogger("encore")
_warned = set()


def series(version):
    """``(major, minor)`` of a version string such as ``"3.15.1"`` or ``"3.16.0rc1"``."""
    parts = []
    for piece in str(version).split(".")[:2]:
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits) if digits else -1)
    return tuple(parts + [-1] * (2 - len(parts)))


def untested(name, version, tested):
    """The warning for ``name`` at ``version`` outside the ``tested`` series, else None."""
    if series(version) == tuple(tested):
        return None
    return (f"{name} {version} is untested here: Encore patches its private internals and is "
            f"tested with {name} {tested[0]}.{tested[1]}.x")


def _warn_once(name, version):
    message = untested(name, version, TESTED[name])
    if message and (name, version) not in _warned:
        _warned.add((name, version))
        _logger.warning(message)
    return message


def check_keras():
    """Warn once if the installed Keras is outside the tested series; returns the warning."""
    import keras

    return _warn_once("keras", keras.__version__)


def check_keras_tuner():
    """Warn once if the installed Keras Tuner is outside the tested series; returns the
    warning."""
    import keras_tuner

    return _warn_once("keras-tuner", keras_tuner.__version__)
