"""Training-length callbacks: the time budget and the learning-rate decay that follows it."""

import math
import time

import keras

from applications.config import DECAYS


def schedule_callbacks(config, decay_by_time=True):
    """The callbacks that ``time_budget_minutes`` and ``lr_decay`` ask for, in that order.

    ``decay_by_time=False`` decays by epochs even under a time budget: workers that train
    one model together must agree on the rate, and their clocks differ.
    """
    callbacks = []
    seconds = 60 * config.get("time_budget_minutes", 0.0)
    if seconds:
        callbacks.append(TimeBudget(seconds))
    kind = config.get("lr_decay", "none")
    if kind != "none":
        callbacks.append(LearningRateDecay(kind, config["learning_rate"],
                                           seconds=seconds if decay_by_time else None,
                                           epochs=config["epochs"]))
    return callbacks


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


def decayed_rate(kind, base_rate, fraction):
    """The learning rate ``fraction`` (0..1) of the way through training.

    Example:
        >>> decayed_rate("linear", 1.0, 0.25), round(decayed_rate("cosine", 1.0, 0.5), 6)
        (0.75, 0.5)
    """
    fraction = min(max(fraction, 0.0), 1.0)
    if kind == "linear":
        return base_rate * (1.0 - fraction)
    if kind == "cosine":
        return base_rate * 0.5 * (1.0 + math.cos(math.pi * fraction))
    raise ValueError(f"lr_decay must be one of {', '.join(DECAYS)}, not {kind!r}")


class LearningRateDecay(keras.callbacks.Callback):
    """Lowers the learning rate before every batch, to zero at the end of training.

    The way through training is the time spent over ``seconds`` when a time budget is set
    (so the rate reaches its lowest in the last epochs the budget allows, however fast the
    machine), and otherwise the epochs and batches done over ``epochs``. A resumed run
    starts its budget afresh, as :class:`TimeBudget` does, and continues by epoch count.
    """

    def __init__(self, kind, base_rate, seconds=None, epochs=None, clock=time.monotonic):
        super().__init__()
        decayed_rate(kind, base_rate, 0.0)  # rejects an unknown kind here, not mid-training
        self.kind, self.base_rate = kind, base_rate
        self.seconds, self.epochs, self.clock = seconds, epochs, clock
        self.epoch = 0
        self.steps = None  # batches in an epoch: Keras' count, or the last epoch's
        self.seen = 0

    def on_train_begin(self, logs=None):
        self.started = self.clock()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.steps = self.params.get("steps") or self.steps
        self.seen = 0

    def on_epoch_end(self, epoch, logs=None):
        if not self.params.get("steps") and self.seen:
            self.steps = self.seen
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))

    def on_train_batch_begin(self, batch, logs=None):
        if self.seconds:
            fraction = (self.clock() - self.started) / self.seconds
        else:
            within = batch / self.steps if self.steps else 0.0
            fraction = (self.epoch + min(within, 1.0)) / self.epochs
        self.model.optimizer.learning_rate = decayed_rate(self.kind, self.base_rate, fraction)

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
