"""Optimizers with a learning-rate schedule over the whole run, for applications that set
``lr_schedule``, ``warmup_epochs`` and ``weight_decay`` (the vision applications do)."""

import math

import keras

from applications.core.base import optimizer_options
from applications.core.config import UsageError

SCHEDULES = ("cosine", "constant")


def check_schedule(config):
    """Refuse an unknown ``lr_schedule`` before anything is read or written."""
    if config.lr_schedule not in SCHEDULES:
        raise UsageError(f"lr_schedule must be one of {', '.join(SCHEDULES)}")


def schedule_or_rate(config, rate, train_examples):
    """The learning rate as a constant, or as cosine decay (after an optional linear warm-up
    from ``rate / 10``) over ``epochs`` passes of ``train_examples``.

    Example:
        >>> config = {"lr_schedule": "cosine", "batch_size": 10, "epochs": 2,
        ...           "warmup_epochs": 0}
        >>> schedule = schedule_or_rate(config, 1e-3, 100)
        >>> round(float(schedule(0)), 6), round(float(schedule(20)), 6)
        (0.001, 0.0)
    """
    if config["lr_schedule"] == "constant" or not train_examples:
        return rate
    steps_per_epoch = math.ceil(train_examples / config["batch_size"])
    warmup = int(round(config["warmup_epochs"] * steps_per_epoch))
    total = max(1, config["epochs"] * steps_per_epoch - warmup)
    if warmup:
        return keras.optimizers.schedules.CosineDecay(rate / 10, total, warmup_target=rate,
                                                      warmup_steps=warmup)
    return keras.optimizers.schedules.CosineDecay(rate, total)


def make_scheduled_optimizer(model, rate):
    """The ``optimizer`` option's class at ``rate`` under the model's schedule.

    The schedule's length comes from ``model.metadata["train_examples"]``; ``weight_decay``
    (decoupled) is passed on when set.
    """
    config = model.config
    kwargs = optimizer_options(config, schedule_or_rate(config, rate,
                                                        model.metadata["train_examples"]))
    if config.get("weight_decay"):
        kwargs["weight_decay"] = config["weight_decay"]
    optimizer = keras.optimizers.get(config["optimizer"])
    return optimizer.__class__(**kwargs)
