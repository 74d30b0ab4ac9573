"""The tabular application's options; every field can be set from a JSON file or ``--set``."""

import dataclasses

from applications.core.config import TrainConfig
from applications.core.space import LEARNING_RATE, Choice, Range

TASKS = ("classification", "regression")
REGRESSION_LOSSES = ("mse", "mae", "huber", "distribution")
CLASSIFICATION_LOSSES = ("bce", "sce")


@dataclasses.dataclass
class TabularConfig(TrainConfig):
    """Columns of a CSV/TSV table -> normalised numbers and category embeddings -> MLP ->
    one head per target.

    Attributes:
        targets: the columns to predict (``--target``); empty = the last column.
        names: the column names of a file without a header line (``--names``).
        numeric: columns read as numbers whatever detection says (``--numeric``).
        categorical: columns read as categories whatever detection says (``--categorical``).
        ignore: columns left out of the inputs (``--ignore``), such as row ids.
        tasks: ``{target: "classification" | "regression"}`` overriding detection (a
            non-numeric target, or one of at most ``max_classes_detected`` whole numbers,
            is a classification).
        losses: ``{target: loss}``; regression ``huber`` (default; quadratic within one
            standard deviation of the target, linear beyond), ``mse`` or ``mae`` (on the
            standardised target), or ``distribution`` for a target of whole numbers (counts,
            ages): a softmax over each whole number from the training minimum to the
            maximum, trained by cross-entropy against a Gaussian of ``distribution_sigma``
            standard deviations around the true value, predicting the distribution's median
            (a whole number, the estimate that minimises absolute error); classification
            ``bce`` (default for two classes, one sigmoid output) or ``sce`` (default for
            more, a softmax).
        loss_weights: ``{target: weight}`` of each target's loss in the total (default 1).
        max_classes_detected: a numeric target of whole numbers with at most this many
            distinct values is detected as a classification.
        distribution_sigma: the width of the ``distribution`` loss's target, in standard
            deviations of the target column.
        encoder: the MLP over the concatenated column features; any registered encoder
            taking ``[B, D]`` vectors (its ``pooled`` output feeds the heads).
        categorical_encoding: ``embedding`` (a learnt vector per category) or ``onehot``.
        embedding_dim: size of each category embedding (0 = ``min(16, 1.6 * n ** 0.56)``
            for n categories).
        min_category_count: categories seen fewer times in training share the
            out-of-vocabulary bucket, which unseen categories use at prediction time.
        log_skewed: read a numeric column as ``log(1 + x)`` before standardising when its
            training values are all 0 or more and strongly right-skewed (counts, money).
        numeric_bins: besides its standardised value, each number is also encoded
            piecewise-linearly over this many quantile bins of its training values (a
            component per bin: 0 below it, 1 above it, the position inside it; Gorishniy et
            al. 2022, "On Embeddings for Numerical Features in Tabular Deep Learning"); 0 =
            the standardised value only.
        periodic: the periodic embedding of each discrete number (at most
            ``discrete_share`` times the training rows distinct values, such as ages or
            hours; PLR, Gorishniy et al. 2022,
            :class:`encoders.numeric_embeddings.PeriodicEmbedding`), beside its
            standardised value and bins: ``frequencies`` learnt frequencies per number,
            initialised from ``N(0, sigma)`` (fine periods that tell the values apart),
            whose sines and cosines go through a linear layer of ``dim`` outputs per number
            and a ReLU. ``frequencies`` 0 = none; ``discrete_share`` 1 = every number.
            The other (continuous) numbers get a periodic embedding of their own, its
            frequencies initialised from ``N(0, continuous_sigma)`` (coarser periods; 0 =
            none).
        encoding_dropout: while training, each row's bins and continuous periodic
            embeddings are all set to zero with this probability (one draw a row), so the
            network also learns to predict from the standardised numbers alone and leans
            less on the finer encodings, which can overfit; 0 = off. Prediction always
            reads every encoding.
        members: an ensemble inside one model: this many encoders (each with its own
            heads) read the same column features; each learns from its own loss and the
            prediction is the mean of their outputs (logits for classes).
        dev_split: without ``--dev``, this seeded fraction of ``--train`` is held out for
            early stopping and choosing the best epoch.
        ema_momentum: the weights' moving average that dev scores and the saved model use
            (see :class:`~applications.core.config.TrainConfig`); 0.99 by default here, as
            small tables give noisy epoch-to-epoch scores.
    """

    targets: list = dataclasses.field(default_factory=list)
    names: list = dataclasses.field(default_factory=list)
    numeric: list = dataclasses.field(default_factory=list)
    categorical: list = dataclasses.field(default_factory=list)
    ignore: list = dataclasses.field(default_factory=list)
    tasks: dict = dataclasses.field(default_factory=dict)
    losses: dict = dataclasses.field(default_factory=dict)
    loss_weights: dict = dataclasses.field(default_factory=dict)
    max_classes_detected: int = 10
    distribution_sigma: float = 0.2
    encoder: dict = dataclasses.field(default_factory=lambda: {
        "name": "mlp", "nodes": [256, 128], "activation": "relu", "initializer": "auto",
        "dropout": 0.2, "batch_norm": True, "l1": 0.0, "l2": 0.0})
    categorical_encoding: str = "embedding"
    embedding_dim: int = 0
    min_category_count: int = 3
    log_skewed: bool = True
    numeric_bins: int = 16
    periodic: dict = dataclasses.field(default_factory=lambda: {
        "frequencies": 16, "dim": 16, "sigma": 30.0, "discrete_share": 0.01,
        "continuous_sigma": 1.0})
    encoding_dropout: float = 0.5
    members: int = 4
    dev_split: float = 0.1
    batch_size: int = 128
    learning_rate: float = 1e-3
    epochs: int = 60
    patience: int = 8
    ema_momentum: float = 0.99


# What `tune` varies (see applications/core/space.py); `--space NAME=V1,V2` narrows it.
SEARCH_SPACE = {
    "encoder.units": Choice((64, 128, 256, 512)),
    "encoder.layers": Choice((1, 2, 3)),
    "encoder.activation": Choice(("relu", "gelu", "selu", "tanh")),
    "encoder.dropout": Range(0.0, 0.5, step=0.1),
    "encoder.batch_norm": Choice((True, False)),
    "encoder.l2": Choice((0.0, 1e-5, 1e-4)),
    "categorical_encoding": Choice(("embedding", "onehot")),
    "numeric_bins": Choice((0, 8, 16, 32)),
    "periodic.sigma": Choice((3.0, 30.0)),
    "periodic.continuous_sigma": Choice((0.0, 0.3, 1.0, 3.0)),
    "encoding_dropout": Choice((0.0, 0.25, 0.5)),
    "members": Choice((1, 4)),
    "learning_rate": LEARNING_RATE,
    "optimizer": Choice(("adam", "adamw", "rmsprop", "sgd")),
    "batch_size": Choice((64, 128, 256, 512)),
}
