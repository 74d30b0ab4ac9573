"""The video classifier: ``CNN_Encoder`` on every frame, ``RNN_Encoder`` across frames."""

import keras

from applications.core.base import Application
from applications.core.optimizers import make_scheduled_optimizer
from applications.video_classifier.layers import (CoordinatePooling, LabelledAccuracy,
                                                  augment_clips)
from encoders import build_encoder

ops = keras.ops


@keras.saving.register_keras_serializable(package="encore")
class VideoClassifier(Application):
    """Labels every frame of a clip (many-to-many) and/or the clip (many-to-one).

    Inputs are ``{"frames": uint8 [B, T, H, W, C], "lengths": int [B]}``: clips padded to
    ``T`` frames and how many of them are real. Frames are reshaped to ``[B*T, H, W, C]``
    for the ``CNN_Encoder``; its per-frame features go back to ``[B, T, F]`` for the
    ``RNN_Encoder``, which masks frames past each clip's length. Outputs are logits
    ``{"frame": [B, T, K_frame]}`` and/or ``{"clip": [B, K_clip]}``, for the heads the
    training labels asked for (``metadata["frame_labels"]``, ``metadata["clip_labels"]``).
    Frame targets of -1 (unlabelled or padding) count in neither loss nor accuracy.

    Args:
        config: ``VideoClassifierConfig.to_dict()``.
        metadata: ``{"height", "width", "channels", "frame_labels", "clip_labels",
            "train_examples"}``.

    Example:
        >>> import numpy as np
        >>> from applications.video_classifier.config import VideoClassifierConfig
        >>> meta = {"height": 16, "width": 16, "channels": 1, "frame_labels": ["a", "b"],
        ...         "clip_labels": [], "train_examples": 4}
        >>> model = VideoClassifier(VideoClassifierConfig().to_dict(), meta)
        >>> out = model({"frames": np.zeros((2, 5, 16, 16, 1), "uint8"),
        ...              "lengths": np.array([5, 3])})
        >>> tuple(out["frame"].shape)
        (2, 5, 2)
    """

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        if not metadata["frame_labels"] and not metadata["clip_labels"]:
            raise ValueError("the training data has neither frame nor clip labels")
        factor = int(config["downsample"])
        if factor < 1:
            raise ValueError(f"downsample must be 1 or more, not {factor}")
        self.downsample = keras.layers.AveragePooling2D(factor) if factor > 1 else None
        self.encoder = build_encoder(config["encoder"], layer_name="encoder")
        if min(metadata["height"], metadata["width"]) < factor:
            raise ValueError(f"frames of {metadata['height']}x{metadata['width']} are smaller "
                             f"than downsample={factor}")
        if hasattr(self.encoder, "check_input_size"):  # frames after the downsampling
            self.encoder.check_input_size(metadata["height"] // factor,
                                          metadata["width"] // factor)
        self.coordinates = CoordinatePooling() if config["coordinate_pooling"] else None
        self.rnn = None if config["frame_only"] else build_encoder(config["rnn"],
                                                                   layer_name="rnn")
        self.dropout = keras.layers.Dropout(config["dropout"])
        self.seed = keras.random.SeedGenerator(config["seed"])
        self.frame_head = (keras.layers.Dense(len(metadata["frame_labels"]), name="frame_scores")
                           if metadata["frame_labels"] else None)
        self.clip_hidden = [keras.layers.Dense(size, activation="relu", name=f"clip_hidden_{i}")
                            for i, size in enumerate(config.get("clip_hidden", []))]
        self.clip_head = (keras.layers.Dense(len(metadata["clip_labels"]), name="clip_scores")
                          if metadata["clip_labels"] else None)

    def call(self, inputs, training=False):
        frames = ops.cast(inputs["frames"], "float32") / 255.0
        shape = ops.shape(frames)
        batch, t = shape[0], shape[1]
        mask = ops.arange(t)[None, :] < ops.cast(inputs["lengths"], "int32")[:, None]
        config = self.config
        if training and (config["augment_translation"] or config["augment_brightness"]):
            frames = augment_clips(frames, config["augment_translation"],
                                   config["augment_brightness"], self.seed)
        features = ops.reshape(self.frame_features(frames, training), (batch, t, -1))
        weights = ops.expand_dims(ops.cast(mask, features.dtype), -1)
        # What the frames hold on average, beside what the RNN concluded: the clip head's input.
        mean = ops.sum(features * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        if self.rnn is None:
            sequence, summary = features, mean
        else:
            inputs_over_time = features
            if config["frame_differences"]:
                previous = ops.concatenate([features[:, :1], features[:, :-1]], axis=1)
                inputs_over_time = ops.concatenate([features, features - previous], axis=-1)
            encoded = self.rnn(inputs_over_time, mask=mask, training=training)
            sequence = encoded["sequence"]
            summary = ops.concatenate([encoded["pooled"], mean], axis=-1)
        outputs = {}
        if self.frame_head is not None:
            outputs["frame"] = self.frame_head(self.dropout(sequence, training=training))
        if self.clip_head is not None:
            for layer in self.clip_hidden:
                summary = layer(self.dropout(summary, training=training))
            outputs["clip"] = self.clip_head(self.dropout(summary, training=training))
        return outputs

    def frame_features(self, frames, training=False):
        """``[B*T, F]`` features of every frame of ``[B, T, H, W, C]`` clips in [0, 1]."""
        meta = self.metadata
        x = ops.reshape(frames, (-1, meta["height"], meta["width"], meta["channels"]))
        if self.downsample is not None:
            x = self.downsample(x)
        encoded = self.encoder(x, training=training)
        parts = [encoded["pooled"]]
        if self.coordinates is not None:
            parts.append(self.coordinates(encoded["sequence"]))
        return ops.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]

    def make_loss(self):
        losses = {}
        if self.frame_head is not None:
            losses["frame"] = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=-1)
        if self.clip_head is not None:
            losses["clip"] = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return losses

    def make_loss_weights(self):
        weights = {"frame": 1.0, "clip": float(self.config["clip_loss_weight"])}
        return {k: weights[k] for k in self.make_loss()}

    def make_metrics(self):
        metrics = {}
        if self.frame_head is not None:
            metrics["frame"] = [LabelledAccuracy("accuracy")]
        if self.clip_head is not None:
            metrics["clip"] = [LabelledAccuracy("accuracy")]
        return metrics

    def make_optimizer(self):
        return make_scheduled_optimizer(self, self.config["learning_rate"])

    def serving_module(self):
        from applications.video_classifier.serving import VideoClassifierServer

        return VideoClassifierServer(self)

    def predict_raw(self, inputs, **options):
        """Labels for clip files or folders, as :meth:`classify_paths` gives them."""
        from applications.core.api import model_server
        from applications.video_classifier.pipeline import read_options
        from applications.video_classifier.serving import classify_paths

        return classify_paths(model_server(self).classify_clips,
                              read_options(self.config, self.metadata), inputs)
