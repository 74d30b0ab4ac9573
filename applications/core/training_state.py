"""Checkpointing, best-on-dev model and early stopping in one resumable callback."""

import contextlib
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from applications.core.checkpoints import (open_manager, readable_keras_file,
                                           remove_stale_temporaries, restore_newest_readable,
                                           warn)
from data.files import DiskFullError, disk_full_reason, is_disk_full

MODEL_FILE = "model.keras"


def save_model_atomically(model, path):
    """Save the model alone, beside ``path``, then rename it over ``path``.

    ``model.save`` writes in place, hence the rename. The file leaves out the optimizer
    (moments, moving averages, compile settings): the checkpoints keep those for resuming,
    and without them the file is a quarter of the size (the tagger's: 10 MB, not 40) and
    Keras, which builds it in memory, needs a quarter of the memory to write it.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    compiled, optimizer = model.compiled, getattr(model, "optimizer", None)
    try:
        model.compiled = False
        if optimizer is not None:
            model.optimizer = None
        model.save(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except Exception as err:
        if is_disk_full(err):
            raise DiskFullError(path, disk_full_reason(err)) from None
        raise
    finally:
        model.compiled = compiled
        if optimizer is not None:
            model.optimizer = optimizer
        if os.path.exists(tmp):
            os.unlink(tmp)


def averages_weights(model):
    """Whether the model's optimizer keeps a moving average of its weights (``ema_momentum``)."""
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)  # loss scaling
    return bool(getattr(optimizer, "use_ema", False))


@contextlib.contextmanager
def averaged_weights(model):
    """Within the block, the model holds its optimizer's moving averages of the weights
    (what dev scores measure, see ``ema_momentum``); its raw weights come back after it.
    Nothing changes for a model whose optimizer keeps no averages."""
    if not averages_weights(model):
        yield
        return
    raw = [v.numpy() for v in model.trainable_variables]
    model.optimizer.finalize_variable_values(model.trainable_variables)
    try:
        yield
    finally:
        for variable, value in zip(model.trainable_variables, raw):
            variable.assign(value)


class TrainingState(keras.callbacks.Callback):
    """Saves everything needed to resume, keeps the best model on dev, and stops early.

    The epoch counter, the batches done in that epoch, the best score so far, the
    early-stopping patience counter, the seconds of training so far (of every run, the
    interrupted ones up to their last checkpoint) and the last whole epoch's, and the state
    of every random-number generator of the model live in the same ``tf.train.Checkpoint``
    as the weights and optimizer slots, and
    ``tf.train.CheckpointManager`` writes them atomically, so a killed run resumes where the
    last checkpoint left it. A checkpoint that does not read back is reported and the one
    before it is used (:mod:`applications.core.checkpoints`).

    Args:
        out_dir: the application directory; checkpoints go to ``out_dir/checkpoints``.
        monitor: the log key to watch, e.g. ``"val_accuracy"``.
        mode: ``"max"`` or ``"min"``.
        patience: epochs without improvement before stopping.
        max_to_keep: checkpoints kept; two or more, so a torn newest one has a fallback.
        save_every_steps: also checkpoint every this many batches (0: at epoch ends only).
        budget_seconds: the run's time budget (0: none), spread over its resumes: the run
            counts as :attr:`stopped` at an epoch end where another epoch as long as the
            last would overrun it (:func:`overruns`), so resuming it trains nothing more.
    """

    def __init__(self, out_dir, monitor, mode="max", patience=3, max_to_keep=2,
                 save_every_steps=0, budget_seconds=0.0):
        super().__init__()
        self.out_dir = out_dir
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.patience = patience
        self.max_to_keep = max(2, max_to_keep)
        self.save_every_steps = save_every_steps
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best = tf.Variable(-math.inf, dtype=tf.float64, trainable=False)
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False)
        # Batches of epoch ``epoch`` already trained (0 at an epoch boundary).
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.epoch_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.budget_seconds = float(budget_seconds or 0.0)
        self.manager = None
        self._done_before = 0
        self._clock = None  # (monotonic time, seconds) when this run's fit() began
        self._epoch_started = None

    def attach(self, model):
        """Bind to a built model and optimizer (variables must exist before a restore)."""
        self.set_model(model)
        # Dropout masks come from seed generators whose state is not a weight; saving it
        # makes a resumed run draw the masks the uninterrupted one would have drawn.
        weights = {id(w) for w in model.weights}
        random_state = [v for v in model.variables if id(v) not in weights]
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=model.optimizer, epoch=self.epoch, best=self.best,
            wait=self.wait, step=self.step, seconds=self.seconds,
            epoch_seconds=self.epoch_seconds, random_state=random_state)
        self.manager = open_manager(self.checkpoint, self.checkpoint_dir, self.max_to_keep)
        return self

    @property
    def checkpoint_dir(self):
        return os.path.join(self.out_dir, "checkpoints")

    def restore(self):
        """Restore the newest readable checkpoint, if any; returns the epoch to continue from.

        ``steps_done`` then tells how many batches of that epoch were already trained.
        """
        remove_stale_temporaries(self.out_dir, self.checkpoint_dir)
        restored = restore_newest_readable(self.checkpoint, self.manager)
        if restored and restored != self.manager.latest_checkpoint:
            self.manager = open_manager(self.checkpoint, self.checkpoint_dir, self.max_to_keep)
        best_path = os.path.join(self.out_dir, MODEL_FILE)
        if restored and os.path.exists(best_path):
            problem = readable_keras_file(best_path)
            if problem:
                # The checkpoint holds the latest weights, not the best: keep those until
                # an epoch ends and is saved as the best from then on.
                warn(best_path, f"unreadable ({problem}); replaced by the latest checkpoint's "
                                "model until the next epoch ends")
                self.best.assign(-math.inf)
                save_model_atomically(self.model, best_path)
        return int(self.epoch.numpy())

    @property
    def steps_done(self):
        return int(self.step.numpy())

    @property
    def seconds_trained(self):
        """Seconds of training so far: those of earlier runs (to their last checkpoint) plus
        this run's since its ``fit()`` began."""
        if self._clock is None:
            return float(self.seconds.numpy())
        started, before = self._clock
        return before + time.monotonic() - started

    def save(self):
        """Write a checkpoint; a full disk raises DiskFullError, the older ones intact."""
        self.seconds.assign(self.seconds_trained)
        # Numbered by optimizer steps, so a step save and an epoch-end save never collide.
        try:
            self.manager.save(checkpoint_number=int(self.model.optimizer.iterations.numpy()))
        except Exception as err:
            if is_disk_full(err):
                # TensorFlow writes under a temporary name first; the listed checkpoints
                # are untouched, and the next run removes the leftover.
                raise DiskFullError(self.checkpoint_dir, disk_full_reason(err)) from None
            raise

    def fit_remaining(self, train_data, epochs, **fit_kwargs):
        """``fit`` from the restored position; returns the history of both parts as one dict.

        An epoch a killed run left half done is finished first, on the same batches in the
        same order minus those already trained (the pipelines' order depends only on the
        seed and the epoch, which :class:`~applications.core.epochs.FollowEpoch` among the
        callbacks sets: :mod:`data.epoch_order`); whole epochs follow.
        """
        model, start, skip = self.model, int(self.epoch.numpy()), self.steps_done
        history = {}
        if skip:
            batches = int(train_data.cardinality())
            if batches > 0:
                skip = min(skip, batches - 1)  # leave the epoch at least one batch to end on
            part = model.fit(train_data.skip(skip), epochs=start + 1, initial_epoch=start,
                             **fit_kwargs)
            history = {key: list(values) for key, values in part.history.items()}
            start += 1
            if model.stop_training:
                return history
            if averages_weights(model):
                # fit() ended by copying the averaged weights into the model; the next
                # epochs go on from the raw ones, as saved when this epoch ended.
                self.checkpoint.restore(self.manager.latest_checkpoint).expect_partial()
        if start < epochs:
            rest = model.fit(train_data, epochs=epochs, initial_epoch=start, **fit_kwargs)
            for key, values in rest.history.items():
                history[key] = history.get(key, []) + list(values)
        return history

    def on_train_begin(self, logs=None):
        self._clock = (time.monotonic(), float(self.seconds.numpy()))

    def on_epoch_begin(self, epoch, logs=None):
        self._done_before = self.steps_done
        self._epoch_started = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        every = self.save_every_steps
        done = self._done_before + batch + 1
        # Saved when the count passes a multiple of ``every`` (it may not land on one: a
        # resumed run can start between them). The epoch's last batch is saved by
        # on_epoch_end, with the epoch counted as done. With steps_per_execution > 1,
        # ``batch`` is the last of the batches one call ran (past the epoch's end when the
        # epoch's last call ran fewer).
        if (every and done // every > self.steps_done // every
                and batch + 1 < (self.params.get("steps") or math.inf)):
            self.step.assign(done)
            self.save()

    @property
    def stopped(self):
        """Whether early stopping's patience ran out, or, at an epoch boundary, the time
        budget would be overrun by another epoch."""
        if int(self.wait.numpy()) >= self.patience:
            return True
        return (self.budget_seconds > 0 and self.steps_done == 0
                and overruns(float(self.seconds.numpy()), float(self.epoch_seconds.numpy()),
                             self.budget_seconds))

    @property
    def best_score(self):
        value = self.best.numpy() * self.sign
        return None if math.isinf(value) else float(value)

    def _save_best(self):
        """The best model file, holding the averaged weights when the optimizer keeps them
        (the dev score was measured on those); training goes on from the raw weights."""
        with averaged_weights(self.model):
            save_model_atomically(self.model, os.path.join(self.out_dir, MODEL_FILE))

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or np.isnan(value):
            self.wait.assign_add(1)
        elif self.sign * value > self.best.numpy():
            self.best.assign(self.sign * value)
            self.wait.assign(0)
            self._save_best()
        else:
            self.wait.assign_add(1)
        self.epoch.assign(epoch + 1)
        self.step.assign(0)
        if self._epoch_started is not None:
            # An epoch resumed part way ran only its remaining batches: scaled to a whole
            # epoch, as the budget asks whether a whole epoch fits.
            elapsed, ran = time.monotonic() - self._epoch_started, self.params.get("steps")
            if self._done_before and ran:
                elapsed *= (self._done_before + ran) / ran
            self.epoch_seconds.assign(elapsed)
        self.save()
        if self.stopped:
            self.model.stop_training = True


def overruns(elapsed, epoch_seconds, budget):
    """Whether another epoch of ``epoch_seconds`` after ``elapsed`` seconds would overrun a
    time budget of ``budget`` seconds."""
    return elapsed + epoch_seconds > budget
