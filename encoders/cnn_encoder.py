"""Convolutional encoder: 2-D stacks over images, or 1-D parallel widths over sequences."""

import keras

from encoders.backbones import BACKBONES, BackboneInput, build_backbone, normalise_weights
from encoders.pooling import masked_pool
from encoders.registry import register
from encoders.tracking import CheckpointableLists
from encoders.weights import kernel_penalty, resolve_initializer

PRESETS = {
    # LeCun et al. 1998, with the first convolution padded so 28x28 inputs keep their size.
    "lenet5": dict(mode="2d", filters=[6, 16], kernel_size=5, padding=["same", "valid"],
                   pooling="avg", activation="tanh", summary="flatten", dense=[120, 84]),
    "small": dict(mode="2d", filters=[32, 64], kernel_size=3, pooling="max", batch_norm=True,
                  summary="flatten"),
    "vgg": dict(mode="2d", filters=[32, 64, 128], kernel_size=3, convs_per_block=2,
                pooling="max", batch_norm=True, summary="global_avg"),
    "text": dict(mode="1d", filters=[100], kernel_sizes=[3, 4, 5]),
    # keras.applications backbones (encoders/backbones.py); add weights="imagenet" or a file.
    **{name: dict(mode="2d", backbone=name, summary="global_avg") for name in BACKBONES},
}


_DEFAULTS = dict(mode="2d", filters=[32, 64], kernel_size=3, kernel_sizes=[3], padding="same",
                 strides=1, convs_per_block=1, pooling="max", batch_norm=False, dropout=0.0,
                 activation="relu", summary="flatten", dense=[], initializer="auto", l1=0.0,
                 l2=0.0, backbone=None, weights=None, alpha=1.0, residual=False,
                 layer_norm=False)


@keras.saving.register_keras_serializable(package="encore")
@register("cnn")
class CNN_Encoder(CheckpointableLists, keras.Model):
    """Convolutional encoder for images (``mode="2d"``) or token sequences (``mode="1d"``).

    Args:
        preset: ``"lenet5"``, ``"small"``, ``"vgg"``, ``"text"``, or a ``keras.applications``
            backbone: ``"mobilenet_v2"``, ``"resnet50"``, ``"efficientnet_b0"``; explicit
            arguments override it.
        mode: ``"2d"`` over ``[B, H, W, C]`` images or ``"1d"`` over ``[B, T, D]`` sequences.
        filters: one entry per block (2-D) or per stacked layer (1-D).
        kernel_size: 2-D kernel size. ``kernel_sizes``: 1-D parallel widths, concatenated.
        padding: ``"same"``/``"valid"``, or one per block. strides: 2-D convolution strides.
        convs_per_block: 2-D convolutions before each pooling.
        pooling: ``"max"``, ``"avg"`` or ``None`` after each 2-D block.
        batch_norm: batch normalisation after each convolution.
        dropout: dropout after each block (and on the pooled vector).
        summary: 2-D summary: ``"flatten"``, ``"global_avg"`` or ``"global_max"``.
        dense: sizes of dense layers applied to the 2-D summary (LeNet-5's 120 and 84).
        initializer: kernel initialiser of the convolution and dense layers: ``auto``
            (Keras' Glorot uniform), ``glorot``, ``he``, ``lecun`` or a Keras name.
        l1, l2: penalties on those kernels (0 = none).
        backbone: a ``keras.applications`` model (see :mod:`encoders.backbones`) in place
            of the convolution blocks; it takes pixels in [0, 1] and applies its own
            preprocessing (grey to three channels, scaled up to its minimum size).
        weights: the backbone's weights: ``"imagenet"``, a weights file, or None (random).
        alpha: MobileNetV2's width multiplier.
        residual: 1-D: each layer whose input and output widths match adds its input to its
            output (``x + conv(x)``), so deep stacks train as easily as shallow ones.
        layer_norm: 1-D: layer normalisation after each layer (after the residual sum).

    Returns:
        2-D: ``{"sequence": feature map [B, h, w, c], "pooled": [B, D]}``.
        1-D: ``{"sequence": [B, T, D], "pooled": max over real positions [B, D], "mask": [B, T]}``.

    Example:
        >>> import numpy as np
        >>> enc = CNN_Encoder(preset="lenet5")
        >>> tuple(enc(np.zeros((2, 28, 28, 1), "float32"))["pooled"].shape)
        (2, 84)
    """

    def __init__(self, preset=None, name=None, **options):
        keras_kwargs = {k: options.pop(k) for k in ("trainable", "dtype") if k in options}
        unknown = sorted(set(options) - set(_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown CNN_Encoder argument(s): {', '.join(unknown)}")
        super().__init__(name=name, **keras_kwargs)
        self.supports_masking = True
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
        args = {**_DEFAULTS, **PRESETS.get(preset, {}), **options}
        if args["mode"] not in ("1d", "2d"):
            raise ValueError(f"mode must be '1d' or '2d', not {args['mode']!r}")
        self.preset = preset
        self.mode = args["mode"]
        self.filters = [int(f) for f in args["filters"]]
        self.kernel_size = args["kernel_size"]
        self.kernel_sizes = [int(k) for k in args["kernel_sizes"]]
        pads = args["padding"]
        self.padding = [pads] * len(self.filters) if isinstance(pads, str) else list(pads)
        self.strides = args["strides"]
        self.convs_per_block = int(args["convs_per_block"])
        self.pooling = args["pooling"]
        self.batch_norm = bool(args["batch_norm"])
        self.dropout = float(args["dropout"])
        self.activation = args["activation"]
        self.summary = args["summary"]
        self.dense = [int(d) for d in args["dense"]]
        self.initializer = str(args["initializer"]).strip().lower()
        self.l1, self.l2 = float(args["l1"]), float(args["l2"])
        self.backbone = args["backbone"]
        self.weights_source = normalise_weights(args["weights"])
        self.alpha = float(args["alpha"])
        self.residual = bool(args["residual"])
        self.layer_norm = bool(args["layer_norm"])
        self.kernel_options = dict(
            kernel_initializer=resolve_initializer(self.initializer, auto="glorot_uniform"),
            kernel_regularizer=kernel_penalty(self.l1, self.l2))
        if self.backbone is not None:
            if self.mode != "2d":
                raise ValueError("a backbone needs mode='2d'")
            self.backbone_input = BackboneInput(self.backbone, name="backbone_input")
            self.backbone_model = build_backbone(self.backbone, self.weights_source, self.alpha)
            self.blocks = []
        else:
            self.blocks = [self._block(i, f) for i, f in enumerate(self.filters)]
        self.norms = ([keras.layers.LayerNormalization() for _ in self.blocks]
                      if self.mode == "1d" and self.layer_norm else [])
        self.drop = keras.layers.Dropout(self.dropout)
        self.dense_layers = [keras.layers.Dense(d, activation=self.activation,
                                                **self.kernel_options) for d in self.dense]
        self.summary_layer = {
            "flatten": keras.layers.Flatten(),
            "global_avg": keras.layers.GlobalAveragePooling2D(),
            "global_max": keras.layers.GlobalMaxPooling2D(),
        }[self.summary] if self.mode == "2d" else None

    def check_input_size(self, height, width):
        """The 2-D feature map's ``(h, w)`` for ``height x width`` images (None with a
        backbone, which scales small images up itself).

        Raises:
            ValueError: the images are too small: a convolution or pooling of some block
                would leave no pixel.
        """
        if self.mode != "2d" or self.backbone is not None:
            return None
        kernel, strides = _pair(self.kernel_size), _pair(self.strides)
        sides = [int(height), int(width)]
        for index in range(len(self.filters)):
            for j in range(self.convs_per_block):
                step = strides if j == 0 else (1, 1)
                if self.padding[index] == "valid":
                    sides = [(n - k) // s + 1 if n >= k else 0
                             for n, k, s in zip(sides, kernel, step)]
                else:
                    sides = [-(-n // s) for n, s in zip(sides, step)]
            if self.pooling in ("max", "avg"):
                sides = [n // 2 for n in sides]
            if min(sides) < 1:
                raise ValueError(f"{height}x{width} images are too small for the CNN "
                                 f"encoder: its block {index + 1} of {len(self.filters)} "
                                 "leaves no pixel (use larger images or fewer blocks)")
        return tuple(sides)

    def _block(self, index, filters):
        layers = []
        if self.mode == "1d":
            return [keras.layers.Conv1D(filters, width, padding="same", activation=self.activation,
                                        **self.kernel_options)
                    for width in self.kernel_sizes]
        for j in range(self.convs_per_block):
            layers.append(keras.layers.Conv2D(
                filters, self.kernel_size, strides=self.strides if j == 0 else 1,
                padding=self.padding[index], use_bias=not self.batch_norm,
                **self.kernel_options))
            if self.batch_norm:
                layers.append(keras.layers.BatchNormalization())
            layers.append(keras.layers.Activation(self.activation))
        if self.pooling == "max":
            layers.append(keras.layers.MaxPooling2D(2))
        elif self.pooling == "avg":
            layers.append(keras.layers.AveragePooling2D(2))
        return layers

    def call(self, inputs, mask=None, training=None):
        if self.mode == "1d":
            return self._call_1d(inputs, mask, training)
        x = inputs
        if self.backbone is not None:
            x = self.drop(self.backbone_model(self.backbone_input(x), training=training),
                          training=training)
        for block in self.blocks:
            for layer in block:
                x = layer(x, training=training)
            x = self.drop(x, training=training)
        pooled = self.summary_layer(x)
        for layer in self.dense_layers:
            pooled = self.drop(layer(pooled), training=training)
        return {"sequence": x, "pooled": pooled}

    def _call_1d(self, inputs, mask, training):
        ops = keras.ops
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        keep = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        x = inputs
        for i, block in enumerate(self.blocks):
            # Zeroing padding first makes real positions see the same zeros 'same' padding adds,
            # so the amount of padding never changes the result.
            x = x * keep
            y = ops.concatenate([conv(x) for conv in block], axis=-1)
            if self.residual and y.shape[-1] == x.shape[-1]:
                y = y + x
            if self.norms:
                y = self.norms[i](y)
            x = self.drop(y, training=training)
        return {"sequence": x * keep, "pooled": masked_pool(x, mask), "mask": mask}

    def get_config(self):
        config = super().get_config()
        # The preset is resolved into explicit values, so the config alone rebuilds the encoder.
        config.update(preset=None, mode=self.mode, filters=self.filters,
                      kernel_size=self.kernel_size, kernel_sizes=self.kernel_sizes,
                      padding=self.padding, strides=self.strides,
                      convs_per_block=self.convs_per_block, pooling=self.pooling,
                      batch_norm=self.batch_norm, dropout=self.dropout,
                      activation=self.activation, summary=self.summary, dense=self.dense,
                      initializer=self.initializer, l1=self.l1, l2=self.l2,
                      backbone=self.backbone, weights=self.weights_source, alpha=self.alpha,
                      residual=self.residual, layer_norm=self.layer_norm)
        return config


def _pair(value):
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)
