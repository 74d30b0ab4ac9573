"""The one epoch driver under ``train``, ``train --distribute`` and every tuning trial.

:func:`epoch_callbacks` assembles what every run gets, in the order it runs:

* :class:`FollowEpoch`: sets the run's :class:`~data.epoch_order.EpochOrder` to the number of
  the epoch that begins, so the training data's next pass takes that epoch's order. The
  number is the one the loop hands to ``on_epoch_begin``: an explicit argument, not a count
  of passes, so a resumed run or a trial continued from epoch 3 sees the orders an
  uninterrupted run would.
* ``SwapEMAWeights`` when the optimizer averages weights (dev is scored on the averages);
* the stopping rule: :class:`~applications.core.training_state.TrainingState` with an out
  dir (checkpoints, best model on dev, early stopping, resume), else Keras' ``EarlyStopping``
  on the same score and patience (a tuning trial: keras-tuner keeps its checkpoints);
* :class:`ReleaseFreeMemory`, TensorBoard (with a log dir), the caller's callbacks, and
  :class:`TimeBudget` when the config sets ``time_budget_minutes``.

:func:`fit_epochs` runs the epochs with ``fit()`` (``Application.train`` and the tuner);
:mod:`applications.core.distributed_loop` runs the same callbacks around ``strategy.run``,
differing only in how a batch is split across replicas and reduced.
"""

import math
import os
import time

import keras

from applications.core import progress
from applications.core.memory import release_free_memory
from applications.core.training_state import TrainingState, averages_weights, overruns


class FollowEpoch(keras.callbacks.Callback):
    """Set ``order`` (an :class:`~data.epoch_order.EpochOrder`) to each epoch as it begins.

    Keras makes an epoch's data iterator after ``on_epoch_begin``, so the pass reads the
    epoch set here.
    """

    def __init__(self, order):
        super().__init__()
        self.order = order

    def on_epoch_begin(self, epoch, logs=None):
        self.order.set(epoch)


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch when another epoch of the same length would overrun the budget.

    With ``anneal``, the learning rate also follows a cosine over the budget's wall-clock
    time: before each batch it is set to ``rate * (0.1 + 0.9 * (1 + cos(pi * s)) / 2)``,
    ``s`` the share of the budget used so far, so it falls from the configured rate to a
    tenth of it as the budget ends, whatever the machine's speed. A scheduled rate (a
    warm-up, ``lr_schedule``) is left to its schedule.

    With ``state`` (the run's :class:`TrainingState`) the budget spans resumes: a resumed
    run goes on with what its earlier runs left of the budget (and of the annealing), and
    the state applies the stop rule; without (a tuning trial), each ``fit()`` has the
    whole budget.
    """

    def __init__(self, seconds, anneal=False, state=None, rate=None):
        super().__init__()
        self.seconds = seconds
        self.anneal = anneal
        self.state = state
        # The configured rate: the optimizer's own is the annealed one after a restore.
        self.base_rate = rate

    def on_train_begin(self, logs=None):
        spent = float(self.state.seconds.numpy()) if self.state is not None else 0.0
        self.started = time.monotonic() - spent
        self.epoch_started = self.started
        optimizer = self.model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # under loss scaling
        if isinstance(getattr(inner, "_learning_rate", None),
                      keras.optimizers.schedules.LearningRateSchedule):
            self.anneal = False
        if self.anneal:
            self.rate = (float(self.base_rate) if self.base_rate is not None
                         else float(keras.ops.convert_to_numpy(optimizer.learning_rate)))

    def on_train_batch_begin(self, batch, logs=None):
        if self.anneal:
            share = min(1.0, (time.monotonic() - self.started) / self.seconds)
            self.model.optimizer.learning_rate = self.rate * annealed_share(share)

    def on_train_end(self, logs=None):
        if self.anneal:  # the configured rate again, for whatever trains next
            self.model.optimizer.learning_rate = self.rate

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if self.state is not None:
            return  # the run's TrainingState applies the same rule, counting resumes
        now = time.monotonic()
        if overruns(now - self.started, now - self.epoch_started, self.seconds):
            self.model.stop_training = True


def annealed_share(share):
    """The learning rate's factor after ``share`` (0..1) of the budget: a cosine from 1 to 0.1.

    Example:
        >>> [round(annealed_share(s), 3) for s in (0.0, 0.5, 1.0)]
        [1.0, 0.55, 0.1]
    """
    return 0.1 + 0.45 * (1.0 + math.cos(math.pi * share))


def budget_callbacks(config, state=None):
    """``[TimeBudget]`` when the config sets ``time_budget_minutes`` (annealing the rate
    with ``budget_anneal``; spanning resumes with the run's ``state``), else ``[]``."""
    minutes = config.get("time_budget_minutes", 0.0)
    return ([TimeBudget(60 * minutes, config.get("budget_anneal", False), state,
                        config.get("learning_rate"))] if minutes else [])


class ReleaseFreeMemory(keras.callbacks.Callback):
    """:func:`~applications.core.memory.release_free_memory` after a batch when ``interval``
    seconds have passed since the last time, and before each evaluation.

    Not more often: every released page is faulted back in by a later step, and twice a
    second doubled the tagger's system time and cost 10 % of its speed (5,309 against
    5,917 tokens/s in ``benchmarks/pos_tagger_speed.py``) for ~30 MB less peak memory."""

    def __init__(self, interval=5.0):
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


def monitored(model, has_dev):
    """``(log key, "max" | "min")`` that picks the best epoch: the model's dev score, or the
    training loss without dev data."""
    return model.monitor if has_dev else ("loss", "min")


def training_state(model, state_dir, has_dev):
    """A :class:`TrainingState` under ``state_dir`` attached to the built ``model``."""
    monitor, mode = monitored(model, has_dev)
    return TrainingState(state_dir, monitor, mode, model.config["patience"],
                         save_every_steps=model.config.get("save_every_steps", 0),
                         budget_seconds=60 * model.config.get("time_budget_minutes", 0.0)
                         ).attach(model)


def epoch_callbacks(model, order=None, state=None, log_dir=None, has_dev=True, extra=()):
    """Every run's callbacks, in the order they run (see the module docstring).

    Args:
        model: the compiled application.
        order: the run's :class:`~data.epoch_order.EpochOrder` (None: the data has a fixed
            order).
        state: the run's :class:`TrainingState`; None for a tuning trial, which stops early
            through ``keras.callbacks.EarlyStopping`` instead.
        log_dir: where TensorBoard writes (None: no TensorBoard).
        has_dev: whether ``fit`` gets dev data (the trial's early-stopping score).
        extra: the caller's callbacks.
    """
    callbacks = [FollowEpoch(order)] if order is not None else []
    if averages_weights(model):
        callbacks.append(keras.callbacks.SwapEMAWeights())
    if state is not None:
        callbacks.append(state)
    else:
        monitor, mode = monitored(model, has_dev)
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode,
                                                       patience=model.config["patience"]))
    callbacks.append(ReleaseFreeMemory())
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir))
    return [*callbacks, *extra, *budget_callbacks(model.config, state)]


def prepare(model, train_data):
    """Compile ``model`` if it is not, and create its and its optimizer's variables."""
    if not model.compiled:
        model.compile_for_training()
    model.build_from_batch(next(iter(train_data)))


def fit_epochs(model, train_data, dev_data, epochs, order=None, out_dir=None, callbacks=(),
               verbose=None, initial_epoch=0):
    """Train ``model`` with ``fit()`` up to ``epochs``; returns the history as a dict of lists.

    With ``out_dir`` (``train``): resumes from ``out_dir/checkpoints`` if they exist (the
    rest of an epoch a killed run left half done first), keeps the best model on dev in
    ``out_dir/model.keras``, logs to ``out_dir/logs``; returns ``{}`` when nothing is left to
    train. ``model.training_state`` is the run's :class:`TrainingState` afterwards.

    Without (a tuning trial, already compiled and built): epochs ``initial_epoch`` to
    ``epochs``, stopping early on the dev score; nothing is written.

    ``order`` is the :class:`~data.epoch_order.EpochOrder` ``train_data`` was built with.
    """
    if verbose is None:  # 0 under --quiet (applications/core/progress.py)
        verbose = progress.fit_verbose()
    has_dev = dev_data is not None
    # shuffle=False: the datasets shuffle themselves, by ``order``.
    options = dict(validation_data=dev_data, verbose=verbose, shuffle=False)
    if out_dir is None:
        history = model.fit(train_data, epochs=epochs, initial_epoch=initial_epoch,
                            callbacks=epoch_callbacks(model, order, has_dev=has_dev,
                                                      extra=callbacks), **options)
        return {key: list(values) for key, values in history.history.items()}
    prepare(model, train_data)
    state = training_state(model, out_dir, has_dev)
    start = state.restore()
    model.training_state = state
    if start >= epochs or state.stopped:
        return {}
    return state.fit_remaining(
        train_data, epochs,
        callbacks=epoch_callbacks(model, order, state, os.path.join(out_dir, "logs"),
                                  has_dev, callbacks), **options)
