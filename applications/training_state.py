"""Checkpointing, best-on-dev model and early stopping in one resumable callback."""

import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

MODEL_FILE = "model.keras"


def save_model_atomically(model, path):
    """``model.save`` writes in place; save beside the target and rename over it instead."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        model.save(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch when another epoch of the same length would overrun the budget."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()
        self.epoch_started = self.started

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if now - self.started + (now - self.epoch_started) > self.seconds:
            self.model.stop_training = True


class TrainingState(keras.callbacks.Callback):
    """Saves everything needed to resume, keeps the best model on dev, and stops early.

    The epoch counter, the best score so far and the early-stopping patience counter live in
    the same ``tf.train.Checkpoint`` as the weights and optimizer slots, and
    ``tf.train.CheckpointManager`` writes them atomically, so a killed run resumes where the
    last checkpoint left it.

    Args:
        out_dir: the application directory; checkpoints go to ``out_dir/checkpoints``.
        monitor: the log key to watch, e.g. ``"val_accuracy"``.
        mode: ``"max"`` or ``"min"``.
        patience: epochs without improvement before stopping.
    """

    def __init__(self, out_dir, monitor, mode="max", patience=3, max_to_keep=2):
        super().__init__()
        self.out_dir = out_dir
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.patience = patience
        self.max_to_keep = max_to_keep
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best = tf.Variable(-math.inf, dtype=tf.float64, trainable=False)
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.manager = None

    def attach(self, model):
        """Bind to a built model and optimizer (variables must exist before a restore)."""
        self.set_model(model)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer,
                                         epoch=self.epoch, best=self.best, wait=self.wait)
        self.manager = tf.train.CheckpointManager(
            checkpoint, os.path.join(self.out_dir, "checkpoints"), max_to_keep=self.max_to_keep)
        return self

    def restore(self):
        """Restore the newest checkpoint, if any; returns the epoch to continue from."""
        if self.manager.latest_checkpoint:
            self.manager.checkpoint.restore(self.manager.latest_checkpoint).expect_partial()
        return int(self.epoch.numpy())

    @property
    def stopped(self):
        return int(self.wait.numpy()) >= self.patience

    @property
    def best_score(self):
        value = self.best.numpy() * self.sign
        return None if math.isinf(value) else float(value)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or np.isnan(value):
            self.wait.assign_add(1)
        elif self.sign * value > self.best.numpy():
            self.best.assign(self.sign * value)
            self.wait.assign(0)
            save_model_atomically(self.model, os.path.join(self.out_dir, MODEL_FILE))
        else:
            self.wait.assign_add(1)
        self.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
        if self.stopped:
            self.model.stop_training = True
