"""Progress of a command's slow stages (reading, indexing, evaluating, predicting, decoding).

Progress always goes to standard error: standard output holds predictions and JSON. On a
terminal a stage that advances in steps shows Keras' progress bar
(:class:`keras.utils.Progbar`); anywhere else (a file, a pipe, a test) every stage writes one
line when it ends::

    reading train.conllu: 12,543 sentences in 1.2 s

The setting is one per process and explicit: the command line calls
``progress.set_enabled(not args.quiet)`` once before a verb runs (``--quiet``); it is on by
default, so a library user who wants silence calls ``set_enabled(False)`` too.

Example:
    >>> from applications.core import progress
    >>> with progress.stage("reading train.txt", unit="sentences") as step:
    ...     sentences = ["a b", "c"]
    ...     step.count = len(sentences)
    >>> total = 0
    >>> for chunk in progress.track([[1, 2], [3]], "scoring", total=3, unit="rows",
    ...                             size=len):
    ...     total += sum(chunk)
"""

import contextlib
import os
import re
import sys
import time

_enabled = True


def set_enabled(enabled):
    """Turn progress on or off for the whole process (the CLI: ``--quiet`` turns it off)."""
    global _enabled
    _enabled = bool(enabled)


def enabled():
    """Whether progress is shown at all."""
    return _enabled


def interactive():
    """Whether progress is on and standard error is a terminal (progress bars, not lines)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return _enabled and bool(isatty and isatty())


def fit_verbose():
    """The ``verbose`` for Keras' ``fit``: 0 when quiet, the bar on a terminal, else a line
    per epoch (Keras writes its bar to standard output)."""
    if not _enabled:
        return 0
    isatty = getattr(sys.stdout, "isatty", None)
    return 1 if isatty and isatty() else 2


@contextlib.contextmanager
def muted():
    """No progress inside the block (e.g. a tuning trial re-reading inputs already shown)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def line(text):
    """Write one line of progress (nothing when quiet)."""
    if _enabled:
        print(text, file=sys.stderr, flush=True)


def held_out(path, held, total, unit, fraction, seed):
    """Say in one line that, with no ``--dev``, part of the training file became dev
    (nothing when no example was held out)."""
    if held:
        line(f"{_HELD_OUT}{held:,} of {total:,} {unit} in {file_label(path)} held out as dev "
             f"(dev_split={fraction:g}, seed {seed}) to choose the best epoch and stop early")


def is_stage_line(text):
    """Whether ``text`` is a line a finished stage (or :func:`held_out`) writes off a
    terminal (to tell progress from other output, e.g. the one-line error that may follow
    it)."""
    return bool(_STAGE_LINE.match(text.rstrip("\n"))) or text.startswith(_HELD_OUT)


_HELD_OUT = "no --dev: "
_STAGE_LINE = re.compile(r"^[^\n]+ in \d+\.\d s( \([^\n]*\))?$")


def file_label(path):
    """How a stage names an input: its file name, or ``stdin`` for ``-``."""
    if path in (None, "-"):
        return "stdin"
    return os.path.basename(str(path).rstrip("/")) or str(path)


class Stage:
    """One timed stage; use it through :func:`stage` or :func:`track`.

    Attributes:
        count: how many ``unit`` are done; set it, or call :meth:`advance`. None leaves the
            count out of the final line.
        detail: optional text added to the final line in brackets.
    """

    def __init__(self, label, total=None, unit="items"):
        self.label = label
        self.total = total
        self.unit = unit
        self.count = None
        self.detail = None
        self._bar = None
        self._started = None

    def __enter__(self):
        self._started = time.monotonic()
        return self

    def advance(self, amount=1):
        """Count ``amount`` more units done; on a terminal, move the bar."""
        self.count = (self.count or 0) + amount
        if not interactive():
            return
        with contextlib.redirect_stdout(sys.stderr):  # Progbar writes to sys.stdout
            if self._bar is None:
                print(self.label, flush=True)
                from keras.utils import Progbar

                self._bar = Progbar(self.total, unit_name=self.unit.rstrip("s") or "item")
            self._bar.update(self.count)

    def __exit__(self, kind, error, traceback):
        if not _enabled:
            return False
        if self._bar is not None and interactive():
            finished = self.total is not None and self.count >= self.total
            with contextlib.redirect_stdout(sys.stderr):
                if kind is None and not finished:  # a bar at its target has ended its line
                    self._bar.update(self.count, finalize=True)
                elif kind is not None and not finished:  # the error then starts a new line
                    print(flush=True)
            return False
        if kind is None:
            line(self.summary(time.monotonic() - self._started))
        return False

    def summary(self, seconds):
        """``LABEL: COUNT UNIT in SECONDS s (DETAIL)``."""
        text = self.label
        if self.count is not None:
            text += f": {self.count:,} {self.unit}"
        text += f" in {seconds:.1f} s"
        if self.detail:
            text += f" ({self.detail})"
        return text


def stage(label, total=None, unit="items"):
    """A context manager timing one stage; it reports when the block ends without error."""
    return Stage(label, total, unit)


def track(items, label, total=None, unit="items", size=None):
    """Yield ``items`` one by one as one stage, counting ``size(item)`` units each (1 if None).

    ``total`` is the number of units expected (None: unknown; ``len(items)`` is used when
    ``size`` is None and ``items`` has a length).
    """
    if total is None and size is None and hasattr(items, "__len__"):
        total = len(items)
    with Stage(label, total, unit) as step:
        step.count = 0
        for item in items:
            yield item
            step.advance(1 if size is None else size(item))


def reading(path, unit, read, *args, size=len, **kwargs):
    """``read(path, *args, **kwargs)`` as a stage ``reading FILE``, counting ``size(result)``
    ``unit`` (e.g. ``size=lambda table: len(table.texts)`` for a result that is no list)."""
    with Stage(f"reading {file_label(path)}", unit=unit) as step:
        result = read(path, *args, **kwargs)
        step.count = size(result)
    return result
