"""The tabular model: column features -> an encoder (an MLP by default) -> one head a target."""

import keras
import numpy as np

from applications.core.base import Application
from applications.tabular.columns import features_of
from encoders import build_encoder
from encoders.numeric_embeddings import PeriodicEmbedding


def embedding_size(categories, configured):
    """``configured`` when set, else ``min(16, round(1.6 * n ** 0.56))`` for ``n`` ids."""
    return int(configured) if configured else min(16, max(2, round(1.6 * categories ** 0.56)))


@keras.saving.register_keras_serializable(package="encore")
class TabularModel(Application):
    """Predicts one or more target columns of a table (the notes' multiple outputs).

    Inputs are ``{"numeric": [B, n] raw numbers (NaN = missing), "categorical": [B, c]
    category ids}`` (see :mod:`applications.tabular.columns`). Numbers are put on a log
    scale where training found them skewed, standardised with the training statistics
    (stored in the metadata, so inside ``model.keras``) and a missing number becomes 0 plus
    a flag. While training, ``encoding_dropout`` of the rows lose their bins and continuous
    periodic embeddings (all zeros, one draw a row). Categories get an embedding (or a
    one-hot vector) each, with ids for missing and for the out-of-vocabulary bucket. The
    concatenated features go through the encoder and each target has its own dense head:
    ``K`` logits for ``K`` classes (one logit for two classes under ``bce``), or for a
    regression one number in standardised units (a logit for each whole number from
    ``low`` to ``high`` under the ``distribution`` loss).

    The loss is the weighted sum of each target's loss (the notes' table: MSE, MAE or Huber
    for numbers, or cross-entropy over whole numbers for ``distribution``; binary or sparse
    categorical cross-entropy for classes) over the rows where that target is present, plus
    the encoder's L1/L2 penalties.

    Args:
        config: ``TabularConfig.to_dict()``.
        metadata: :func:`~applications.tabular.columns.build_metadata` of the training table.

    Example:
        >>> from applications.tabular.config import TabularConfig
        >>> meta = {"columns": ["x", "y"], "header": True, "train_rows": 2,
        ...         "features": [{"name": "x", "kind": "numeric", "mean": 0.0, "std": 1.0,
        ...                       "log": False, "missing": 0}],
        ...         "targets": [{"name": "y", "task": "regression", "mean": 0.0, "std": 1.0,
        ...                      "loss": "mse", "weight": 1.0, "missing": 0}]}
        >>> model = TabularModel(TabularConfig().to_dict(), meta)
        >>> out = model({"numeric": np.zeros((3, 1), "float32"),
        ...              "categorical": np.zeros((3, 0), "int32")})
        >>> tuple(out["y"].shape)
        (3, 1)
    """

    monitor = ("val_loss", "min")

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        numeric = features_of(metadata, "numeric")
        self.categorical_features = features_of(metadata, "categorical")
        self.mean = np.array([f["mean"] for f in numeric], np.float32)
        self.std = np.array([f["std"] for f in numeric], np.float32)
        self.log_scale = np.array([bool(f["log"]) for f in numeric], bool)
        # A missing-value flag only for the columns that had missing values in training.
        self.flagged = np.array([f["missing"] > 0 for f in numeric], bool)
        self.lower, self.width = _bins(numeric)
        self.targets = [dict(t) for t in metadata["targets"]]
        encoding = config["categorical_encoding"]
        if encoding not in ("embedding", "onehot"):
            raise ValueError(f"categorical_encoding must be embedding or onehot, not "
                             f"{encoding!r}")
        self.embeddings = []
        if encoding == "embedding":
            for i, feature in enumerate(self.categorical_features):
                ids = len(feature["values"]) + 2
                self.embeddings.append(keras.layers.Embedding(
                    ids, embedding_size(ids, config["embedding_dim"]), name=f"embedding_{i}"))
        periodic = config.get("periodic") or {}
        # Only discrete columns (few distinct values for the rows, such as ages or hours)
        # get periodic embeddings: fine periods tell their values apart like categories.
        rows = max(1, int(metadata.get("train_rows", 1)))
        self.periodic_columns = np.array(
            [i for i, f in enumerate(numeric)
             if 0 < f.get("distinct", 0) <= periodic.get("discrete_share", 0.0) * rows],
            np.int32)
        self.periodic = None
        if self.periodic_columns.size and periodic.get("frequencies", 0) > 0:
            self.periodic = PeriodicEmbedding(periodic["frequencies"], periodic["dim"],
                                              periodic["sigma"], name="periodic")
        # The other (continuous) columns: coarse periods, when continuous_sigma is set.
        self.continuous_columns = np.setdiff1d(np.arange(len(numeric)),
                                               self.periodic_columns).astype(np.int32)
        self.continuous_periodic = None
        if (self.continuous_columns.size and periodic.get("frequencies", 0) > 0
                and periodic.get("continuous_sigma", 0.0) > 0):
            self.continuous_periodic = PeriodicEmbedding(
                periodic["frequencies"], periodic["dim"], periodic["continuous_sigma"],
                name="periodic_continuous")
        self.encoding_dropout_seed = None
        if config.get("encoding_dropout", 0.0) > 0:
            self.encoding_dropout_seed = keras.random.SeedGenerator(config["seed"])
        self.encoder = build_encoder(config["encoder"], layer_name="encoder")
        self.heads = [keras.layers.Dense(_head_width(t), name=f"head_{i}")
                      for i, t in enumerate(self.targets)]
        # Further ensemble members: the same features, their own encoder and heads.
        self.members = max(1, int(config.get("members", 1)))
        self.member_encoders = [build_encoder(config["encoder"], layer_name=f"encoder_{m}")
                                for m in range(1, self.members)]
        self.member_heads = [[keras.layers.Dense(_head_width(t), name=f"head_{m}_{i}")
                              for i, t in enumerate(self.targets)]
                             for m in range(1, self.members)]

    def call(self, inputs, training=False):
        ops = keras.ops
        parts = []
        numbers = ops.cast(inputs["numeric"], "float32")
        if self.mean.size:
            missing = ops.isnan(numbers)
            scaled = ops.where(self.log_scale, ops.log1p(ops.maximum(numbers, 0.0)), numbers)
            standard = ops.where(missing, 0.0, (scaled - self.mean) / self.std)
            standard = ops.clip(standard, -10.0, 10.0)
            parts.append(standard)
            if self.periodic is not None:
                parts.append(self.periodic(ops.take(standard, self.periodic_columns, axis=1)))
            rich = []  # the encodings encoding_dropout drops together
            if self.continuous_periodic is not None:
                rich.append(self.continuous_periodic(
                    ops.take(standard, self.continuous_columns, axis=1)))
            if self.lower.size:  # piecewise-linear: 0 below a bin, 1 above, linear inside
                inside = (ops.expand_dims(numbers, -1) - self.lower) / self.width
                encoded = ops.where(ops.expand_dims(missing, -1), 0.0, ops.clip(inside, 0.0, 1.0))
                rich.append(ops.reshape(encoded, (-1, self.lower.size)))
            if rich and training and self.encoding_dropout_seed is not None:
                kept = keras.random.uniform((ops.shape(numbers)[0], 1),
                                            seed=self.encoding_dropout_seed)
                kept = ops.cast(kept >= self.config["encoding_dropout"], "float32")
                rich = [part * kept for part in rich]
            parts.extend(rich)
            if self.flagged.any():
                flags = ops.cast(missing, "float32")
                parts.append(ops.take(flags, np.flatnonzero(self.flagged), axis=1))
        ids = ops.cast(inputs["categorical"], "int32")
        for i, feature in enumerate(self.categorical_features):
            if self.embeddings:
                parts.append(self.embeddings[i](ids[:, i]))
            else:
                parts.append(ops.one_hot(ids[:, i], len(feature["values"]) + 2))
        features = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        hidden = self.encoder(features, training=training)["pooled"]
        outputs = {t["name"]: head(hidden) for t, head in zip(self.targets, self.heads)}
        if self.members == 1:
            return outputs
        every = {name: [out] for name, out in outputs.items()}
        for encoder, heads in zip(self.member_encoders, self.member_heads):
            hidden = encoder(features, training=training)["pooled"]
            for target, head in zip(self.targets, heads):
                every[target["name"]].append(head(hidden))
        if training:  # each member learns on its own: the loss takes [B, members, width]
            return {name: ops.stack(outs, axis=1) for name, outs in every.items()}
        return {name: ops.mean(ops.stack(outs, axis=1), axis=1)
                for name, outs in every.items()}

    def targets_from_one_hot(self, y):
        """The notes' batches of this application carry the target matrix itself
        (:func:`~applications.tabular.pipeline.load_all_batches`): no conversion."""
        return y, None

    def make_loss(self):
        return None  # compute_loss below sums the targets' own losses

    def make_metrics(self):
        return None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Sum over targets of ``weight * mean loss over rows where the target is present``
        (``y`` is ``[B, targets]``, NaN where missing), plus regularisation penalties."""
        ops = keras.ops
        total = 0.0
        for i, target in enumerate(self.targets):
            column = ops.cast(y[:, i], "float32")
            present = ops.logical_not(ops.isnan(column))
            value = ops.where(present, column, 0.0)
            output = ops.cast(y_pred[target["name"]], "float32")
            if len(output.shape) == 3:  # training an ensemble: the members' mean loss
                losses = ops.mean(ops.stack([_target_losses(target, value, output[:, m])
                                             for m in range(output.shape[1])], 1), 1)
            else:
                losses = _target_losses(target, value, output)
            weight = ops.cast(present, "float32")
            mean = ops.sum(losses * weight) / ops.maximum(ops.sum(weight), 1.0)
            total = total + target["weight"] * mean
        if self.losses:
            total = total + ops.sum(ops.stack([ops.cast(v, "float32") for v in self.losses]))
        return total

    def predict_raw(self, paths, probabilities=True):
        """Predictions for every row of one CSV/TSV file (or a list of files).

        Returns:
            For a path, a list with one dict per row: ``{target: {"label": class,
            "probabilities": {class: p}}}`` for a classification, ``{target: number}``
            (original units) for a regression; a list of such lists for a list of paths.

        Example:
            >>> model = TabularModel.load_model("runs/abalone")  # doctest: +SKIP
            >>> model.predict("abalone_new.csv")[0]  # doctest: +SKIP
            {'rings': 9.4, 'sex': {'label': 'M', 'probabilities': {'F': 0.3, ...}}}
        """
        from applications.core.api import model_server, one_or_many
        from applications.tabular.serving import describe, predict_file

        serve = model_server(self).serve
        return one_or_many(paths, lambda items: [
            predict_file(serve, describe(self), p, probabilities) for p in items])

    def predict_rows(self, rows, probabilities=True):
        """Predictions for rows given as Python values: one ``{column: value}`` dict or a
        list of them (numbers or number strings for numeric columns, strings for categories;
        None, ``""``, ``"?"`` or ``"NA"`` for a missing value). Returns one result (as
        :meth:`predict_raw`) per row, or the one result for a single dict."""
        from applications.core.api import model_server
        from applications.tabular.serving import describe, predict_dicts

        return predict_dicts(model_server(self).serve, describe(self), rows, probabilities)

    def serving_module(self):
        from applications.tabular.serving import TabularServer

        return TabularServer(self)


def _bins(numeric):
    """``(lower edges, widths)``, both ``[n, bins]``, of the numeric columns' quantile bins;
    a column with fewer bins is padded with bins it never reaches (encoded 0). Empty arrays
    when no column has bins."""
    count = max([len(f.get("edges", [])) - 1 for f in numeric] + [0])
    lower = np.full((len(numeric), count), np.float32(3e38), np.float32)
    width = np.ones((len(numeric), count), np.float32)
    for i, feature in enumerate(numeric):
        edges = np.asarray(feature.get("edges", []), np.float64)
        if len(edges) > 1:
            lower[i, :len(edges) - 1] = edges[:-1]
            width[i, :len(edges) - 1] = np.maximum(np.diff(edges), 1e-12)
    return lower, width


def _head_width(target):
    if target.get("loss") == "distribution":
        return int(target["high"] - target["low"]) + 1
    if target["task"] == "regression" or target["loss"] == "bce":
        return 1
    return len(target["classes"])


def _target_losses(target, value, output):
    """Per-row loss of one target (``value``: class id or standardised number)."""
    ops = keras.ops
    loss = target["loss"]
    if loss == "sce":
        return keras.losses.sparse_categorical_crossentropy(
            ops.cast(value, "int32"), output, from_logits=True)
    if loss == "bce":
        return keras.losses.binary_crossentropy(value[:, None], output, from_logits=True)
    if loss == "distribution":  # a Gaussian over the whole numbers around the true value
        grid = target["low"] + np.arange(_head_width(target), dtype=np.float32)
        actual = value * target["std"] + target["mean"]
        sigma = target["sigma"] * target["std"]
        soft = ops.softmax(-ops.square(grid - actual[:, None]) / (2.0 * sigma * sigma), -1)
        return keras.losses.categorical_crossentropy(soft, output, from_logits=True)
    error = output[:, 0] - value
    if loss == "mse":
        return ops.square(error)
    if loss == "mae":
        return ops.abs(error)
    absolute = ops.abs(error)  # Huber with delta 1 standard deviation
    return ops.where(absolute <= 1.0, 0.5 * ops.square(error), absolute - 0.5)

