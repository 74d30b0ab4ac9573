"""Layers kept in Python lists or dicts, made visible to ``tf.train.Checkpoint``.

Keras 3 wraps a list assigned to a layer attribute in its own tracked list, which the
``.keras`` format saves but TensorFlow's object graph does not see: such a list is not a TF
``Trackable``, so ``tf.train.Checkpoint(model=model)`` skips every layer in it (its weights
were reached only through an optimizer's references, batch-norm moving statistics not at
all). :class:`CheckpointableLists` adds those layers to the checkpoint graph under
``attribute/index`` (``blocks/0/1`` for a list of lists, ``attribute/key`` for a dict). Only
TF checkpoints change; the ``.keras`` layout stays as it was.
"""

import tensorflow as tf

_Trackable = tf.__internal__.tracking.Trackable


def _listed(prefix, value, found):
    """Collect ``(name, trackable)`` for every trackable inside a list, tuple or dict."""
    if isinstance(value, dict):
        items = ((str(key), item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((str(i), item) for i, item in enumerate(value))
    else:
        return
    for key, item in items:
        name = f"{prefix}/{key}"
        if isinstance(item, _Trackable):
            found[name] = item
        else:
            _listed(name, item, found)


def listed_trackables(owner):
    """``{"attribute/index": trackable}`` for the layers and variables ``owner`` holds in
    public list or dict attributes (Keras' own private bookkeeping lists are left out)."""
    found = {}
    for attribute, value in vars(owner).items():
        if not attribute.startswith("_"):
            _listed(attribute, value, found)
    return found


class CheckpointableLists:
    """Mixin for a ``keras.Model`` or ``keras.layers.Layer`` that keeps layers in lists.

    Put it before the Keras class: ``class RNN_Encoder(CheckpointableLists, keras.Model)``.

    Example:
        >>> import keras, numpy as np, tensorflow as tf
        >>> class Stack(CheckpointableLists, keras.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.steps = [keras.layers.Dense(2), keras.layers.BatchNormalization()]
        ...     def call(self, x):
        ...         for layer in self.steps:
        ...             x = layer(x)
        ...         return x
        >>> model = Stack()
        >>> _ = model(np.ones((1, 3), "float32"))
        >>> path = tf.train.Checkpoint(model=model).write("/tmp/stack")  # doctest: +SKIP
        >>> sorted(model._trackable_children("checkpoint"))[-2:]
        ['steps/0', 'steps/1']
    """

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        children = super()._trackable_children(save_type, **kwargs)
        # A SavedModel export keeps Keras' own handling (it flattens the lists itself).
        if save_type == "checkpoint":
            for name, child in listed_trackables(self).items():
                children.setdefault(name, child)
        return children
