"""ImageNet backbones from ``keras.applications``, with their own input preprocessing.

:class:`~encoders.cnn_encoder.CNN_Encoder` uses them for its ``mobilenet_v2``, ``resnet50``
and ``efficientnet_b0`` presets. The encoder takes pixels scaled to [0, 1], as every image
application gives them; :class:`BackboneInput` turns those into what the backbone was
trained on (three channels, at least its minimum size, its own scaling), inside the model,
so the export does the same.

Pretrained weights come from ``weights``: ``"imagenet"`` (Keras downloads them once into
``~/.keras/models``), the path of a weights file, or None. They are fetched when an encoder
is first built for training; a model restored from a saved file (inside :func:`restoring`)
builds the bare architecture, since its own saved weights replace them.
"""

import contextlib
import os
import warnings

import keras

from data.errors import InputError

# scale: how [0, 1] pixels become the backbone's input. "tf": [-1, 1]; "caffe": 0-255 BGR
# less the ImageNet channel means; "pixels": 0-255 (the model normalises them itself).
BACKBONES = {
    "mobilenet_v2": dict(build="MobileNetV2", scale="tf", min_size=32, width=True),
    "resnet50": dict(build="ResNet50", scale="caffe", min_size=32, width=False),
    "efficientnet_b0": dict(build="EfficientNetB0", scale="pixels", min_size=32, width=False),
}
_CAFFE_MEANS = (103.939, 116.779, 123.68)  # B, G, R
BATCH_NORM_MOMENTUM = 0.9
_restoring = [False]


@contextlib.contextmanager
def restoring():
    """Inside the block, backbones are built without fetching pretrained weights: a model
    being restored from a file brings its own."""
    before, _restoring[0] = _restoring[0], True
    try:
        yield
    finally:
        _restoring[0] = before


def check_backbone(name):
    """Raise ValueError unless ``name`` is a known backbone."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}")


def build_backbone(name, weights=None, alpha=1.0):
    """The ``keras.applications`` model ``name`` without its classifier, on any image size.

    Args:
        name: a key of :data:`BACKBONES`.
        weights: ``"imagenet"``, a weights file path, or None / ``"none"`` (random).
        alpha: MobileNetV2's width multiplier (0.35, 0.5, 0.75, 1.0, 1.3 or 1.4 have
            ImageNet weights).

    Raises:
        InputError: the weights cannot be had: offline (the message names the URL Keras
            tried), a missing file, or a file that does not fit (both name the file).
    """
    check_backbone(name)
    spec = BACKBONES[name]
    weights = normalise_weights(weights)
    if _restoring[0]:
        weights = None
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise InputError(f"no such {name} weights file", weights)
    options = dict(include_top=False, weights=weights, input_shape=(None, None, 3))
    if spec["width"]:
        options["alpha"] = float(alpha)
    elif float(alpha) != 1.0:
        raise ValueError(f"alpha applies to mobilenet_v2 only, not {name}")
    try:
        with warnings.catch_warnings():  # Keras warns per layer a wrong file leaves out
            warnings.simplefilter("ignore")
            model = getattr(keras.applications, spec["build"])(**options)
    except Exception as err:  # Keras raises bare Exception for download failures
        if weights is None:
            raise
        lines = str(err).strip().splitlines() or [type(err).__name__]
        first = " ".join(lines[:2] if lines[0].endswith(":") else lines[:1])[:300]
        if weights == "imagenet":
            raise InputError(f"cannot get the ImageNet weights of {name}: {first} (offline? "
                             "download them where the machine is online, or pass a weights "
                             "file)") from None
        raise InputError(f"the weights in this file do not fit {name}"
                         f"{f' (alpha {alpha})' if spec['width'] else ''}: {first}",
                         weights) from None
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # keras.applications uses 0.999 (0.99 did not do either): the moving statistics
            # lag the weights of a backbone trained for a few epochs, which then scores at
            # chance in inference mode. 0.9 (PyTorch's default) follows them.
            layer.momentum = BATCH_NORM_MOMENTUM
    return model


def has_pretrained_weights(spec):
    """Whether a ``CNN_Encoder`` spec (a config's ``encoder`` dict) starts a backbone from
    pretrained weights."""
    spec = spec or {}
    backbone = spec.get("backbone") or (spec.get("preset") if spec.get("preset") in BACKBONES
                                        else None)
    return backbone is not None and normalise_weights(spec.get("weights")) is not None


def normalise_weights(weights):
    """None for no pretrained weights (None, ``""``, ``"none"``); else the value as given."""
    if weights is None or str(weights).strip().lower() in ("", "none", "null"):
        return None
    return "imagenet" if str(weights).strip().lower() == "imagenet" else str(weights)


@keras.saving.register_keras_serializable(package="encore")
class BackboneInput(keras.layers.Layer):
    """Pixels in [0, 1] ``[B, H, W, 1 or 3]`` -> a backbone's input ``[B, H', W', 3]``.

    Grey images are repeated to three channels; images smaller than the backbone's
    minimum side are scaled up (bilinear, keeping the aspect ratio) so the smaller side
    reaches it; then the backbone's own scaling applies.

    Args:
        backbone: a key of :data:`BACKBONES`.

    Example:
        >>> import numpy as np
        >>> tuple(BackboneInput("mobilenet_v2")(np.zeros((2, 28, 28, 1), "float32")).shape)
        (2, 32, 32, 3)
    """

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        check_backbone(backbone)
        self.backbone = backbone
        self.scale = BACKBONES[backbone]["scale"]
        self.min_size = BACKBONES[backbone]["min_size"]

    def call(self, inputs):
        ops = keras.ops
        x = ops.cast(inputs, "float32")
        channels = x.shape[-1]
        if channels == 1:
            x = ops.repeat(x, 3, axis=-1)
        elif channels != 3:
            raise ValueError(f"a {self.backbone} backbone takes 1 or 3 channels, not {channels}")
        size = self._target_size(x.shape[1], x.shape[2])
        if size is not None:
            x = ops.image.resize(x, size, interpolation="bilinear")
        if self.scale == "tf":
            return x * 2.0 - 1.0
        x = x * 255.0
        if self.scale == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(_CAFFE_MEANS, x.dtype)
        return x

    def _target_size(self, height, width):
        """The scaled-up ``(height, width)``, or None when no resize is needed (or the size
        is not known when the model is traced)."""
        if height is None or width is None or min(height, width) >= self.min_size:
            return None
        factor = self.min_size / min(height, width)
        return (max(self.min_size, round(height * factor)),
                max(self.min_size, round(width * factor)))

    def get_config(self):
        config = super().get_config()
        config.update(backbone=self.backbone)
        return config
