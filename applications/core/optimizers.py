"""Optimizers from the shared options (:func:`optimizer_options`, every application), and
with a learning-rate schedule over the whole run for applications that set
``lr_schedule`` and ``warmup_epochs`` (the vision applications do)."""

import math
import types

import keras

from applications.core.config import UsageError

def optimizer_options(config, learning_rate=None):
    """Optimizer keyword arguments from the shared options: rate, the optimizer's knobs
    (betas, momentum, Nesterov, rho, Adagrad's initial accumulator, weight decay), clipping
    and averaging. A knob left at 0 is not passed, so the optimizer keeps its default.
    With ``warmup_steps`` a plain rate becomes a linear warm-up from 0 to it."""
    options = {"learning_rate": config["learning_rate"] if learning_rate is None
               else learning_rate}
    warmup = config.get("warmup_steps", 0)
    if warmup and isinstance(options["learning_rate"], (int, float)):
        # Cosine decay with alpha=1 never decays: linear warm-up, then the rate itself.
        options["learning_rate"] = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=1, alpha=1.0, warmup_target=float(options["learning_rate"]),
            warmup_steps=int(warmup))
    if config.get("beta_2"):
        options["beta_2"] = config["beta_2"]
    for knob, keyword in (("beta_1", "beta_1"), ("momentum", "momentum"),
                          ("nesterov", "nesterov"), ("rho", "rho"),
                          ("initial_accumulator", "initial_accumulator_value"),
                          ("weight_decay", "weight_decay")):
        if config.get(knob):
            options[keyword] = config[knob]
    if str(config.get("optimizer", "")).lower() == "muon":
        # Muon updates matrices by orthogonalised momentum and every other variable (and
        # those excluded) the AdamW way; the betas and weight decay reach that half too.
        for knob in ("beta_1", "beta_2"):
            if knob in options:
                options[f"adam_{knob}"] = options.pop(knob)
        if "weight_decay" in options:
            options["adam_weight_decay"] = options["weight_decay"]
    if config.get("clipnorm"):
        options["global_clipnorm"] = config["clipnorm"]
    if config.get("ema_momentum"):
        options.update(use_ema=True, ema_momentum=config["ema_momentum"])
    return options


def with_ema_warmup(optimizer, config):
    """``optimizer``, whose weight average (``ema_momentum``) warms up when ``ema_warmup``
    is set: after ``t`` updates its momentum is ``min(ema_momentum, (1 + t) / (10 + t))``.

    Keras' average uses the momentum from the second update on, so with 0.999 it still
    holds a fifth of the starting weights after 1,600 updates; this replaces the
    optimizer's own averaging step with one whose momentum rises with the update count.
    """
    if not (config.get("ema_momentum") and config.get("ema_warmup")):
        return optimizer
    limit = float(config["ema_momentum"])

    def update_average(self, trainable_variables):
        step = keras.ops.cast(self.iterations, "float32")
        momentum = keras.ops.minimum(limit, (1.0 + step) / (10.0 + step))
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is not None:
                kept = keras.ops.cast(momentum, var.dtype)
                average.assign(kept * average + (1.0 - kept) * var)

    optimizer._update_model_variables_moving_average = types.MethodType(update_average,
                                                                          optimizer)
    return optimizer


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

    The schedule's length comes from ``model.metadata["train_examples"]``; the other
    knobs are :func:`optimizer_options`'.
    """
    config = model.config
    kwargs = optimizer_options(config, schedule_or_rate(config, rate,
                                                        model.metadata["train_examples"]))
    optimizer = keras.optimizers.get(config["optimizer"])
    return with_ema_warmup(optimizer.__class__(**kwargs), config)
