"""The dimensions a hyperparameter search may vary, declared beside each application's config.

An application lists its space as ``SEARCH_SPACE`` in its ``config.py``: a dict from a
hyperparameter name to a :class:`Choice` or :class:`Range`. Names follow the ``--set`` paths of
the config (``encoder.cell``, ``learning_rate``), plus the shorthands ``X.units``,
``X.layers``, ``X.filters`` and ``X.name`` that :func:`tuning.spaces.apply_values` expands.
``batch_size`` belongs in every space; the tuner reads it when it fits a trial.

Example:
    >>> SEARCH_SPACE = {
    ...     "encoder.units": Choice((64, 128)),
    ...     "learning_rate": LEARNING_RATE,
    ...     "batch_size": Choice((32, 64)),
    ... }

Nothing here imports Keras Tuner: ``declare`` receives the tuner's ``hp`` object.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of a few values; ``when=(parent, values)`` makes it exist only for those parents."""

    values: tuple
    when: tuple = None

    def declare(self, hp, name):
        """Declare this dimension as ``hp.Choice(name, ...)``; returns its current value."""
        return hp.Choice(name, list(self.values))


@dataclasses.dataclass(frozen=True)
class Range:
    """A float between ``low`` and ``high``, on a log scale when ``log`` (learning rates)."""

    low: float
    high: float
    step: float = None
    log: bool = False
    when: tuple = None

    def declare(self, hp, name):
        """Declare this dimension as ``hp.Float(name, ...)``; returns its current value."""
        return hp.Float(name, self.low, self.high, step=self.step,
                        sampling="log" if self.log else "linear")


LEARNING_RATE = Range(3e-4, 1e-2, log=True)
"""The learning-rate range most applications search."""


def transformer_space(group="encoder", dropout=True, warmup=True):
    """The ``Transformer_Encoder`` dimensions of ``group``, active when its name is
    ``transformer``: blocks, heads, width, feed-forward width, positions, (with ``dropout``)
    dropout and (with ``warmup``) the learning-rate warm-up ``warmup_steps``.

    Example:
        >>> sorted(transformer_space())[:2]
        ['encoder.dropout', 'encoder.feed_forward_width']
    """
    when = (f"{group}.name", ("transformer",))
    space = {
        f"{group}.num_layers": Choice((2, 4, 6), when=when),
        f"{group}.num_heads": Choice((2, 4, 8), when=when),
        f"{group}.width": Choice((64, 128, 256), when=when),
        f"{group}.feed_forward_width": Choice((256, 512, 1024), when=when),
        f"{group}.positions": Choice(("sinusoidal", "rotary"), when=when),
    }
    if dropout:
        space[f"{group}.dropout"] = Range(0.0, 0.3, step=0.1, when=when)
    if warmup:
        space["warmup_steps"] = Choice((0, 200, 1000), when=when)
    return space
