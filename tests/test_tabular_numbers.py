"""How the tabular model encodes numbers (bins, periodic embeddings) and its ensemble."""

import keras
import numpy as np
import pytest

from applications.core.config import UsageError
from applications.tabular.columns import build_metadata, encode_inputs, numeric_stats
from applications.tabular.config import TabularConfig
from applications.tabular.model import TabularModel, _target_losses
from applications.tabular.table import read_table


def test_bins_of_a_mostly_zero_column_reach_its_rarer_values():
    rng = np.random.default_rng(0)
    gains = np.where(rng.random(1000) < 0.9, 0.0, rng.uniform(100, 9000, 1000))
    stats = numeric_stats(gains, log_skewed=True, bins=8)
    # The value quantiles alone give two edges (0 and those of the top 10 %); the distinct
    # values' quantiles add edges across the non-zero range.
    assert len(stats["edges"]) > 8 and stats["edges"][0] == 0.0
    assert sum(e > 100 for e in stats["edges"]) >= 7
    assert stats["distinct"] == np.unique(gains).size
    smooth = numeric_stats(rng.normal(size=1000), log_skewed=True, bins=8)
    assert len(smooth["edges"]) == 9  # no ties: the value quantiles only


def test_ensemble_members_and_discrete_periods(tmp_path):
    rng = np.random.default_rng(1)
    rows = 300
    lines = ["hours,price,label"] + [
        f"{int(rng.integers(1, 4))},{rng.normal():.4f},{'ab'[i % 2]}" for i in range(rows)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    config = TabularConfig(targets=["label"], members=3, encoding_dropout=0.0, encoder={
        "name": "mlp", "nodes": [4], "dropout": 0.0, "batch_norm": False})
    table = read_table(path)
    meta = build_metadata(table, config)
    model = TabularModel(config.to_dict(), meta)
    # hours (3 values for 300 rows) is discrete and gets a periodic embedding; price not.
    assert model.periodic_columns.tolist() == [0]
    assert model.periodic.get_config()["sigma"] == 30.0
    x = encode_inputs(table, meta)
    members = keras.ops.convert_to_numpy(model(x, training=True)["label"])
    assert members.shape == (rows, 3, 1)  # each member's logit, for its own loss
    mean = keras.ops.convert_to_numpy(model(x, training=False)["label"])
    np.testing.assert_allclose(mean[:, 0], members.mean(axis=1)[:, 0], rtol=1e-5, atol=1e-6)
    y = np.array([[i % 2] for i in range(rows)], np.float32)
    loss = float(model.compute_loss(x, y, model(x, training=True)))
    alone = [float(model.compute_loss(x, y, {"label": members[:, m]})) for m in range(3)]
    assert abs(loss - np.mean(alone)) < 1e-5
    off = TabularModel({**config.to_dict(), "members": 1, "periodic": {"frequencies": 0}},
                       meta)
    assert off.periodic is None and off(x)["label"].shape == (rows, 1)
    # price, continuous, gets coarser periods of its own (continuous_sigma 1 by default).
    assert model.continuous_columns.tolist() == [1]
    assert model.continuous_periodic.get_config()["sigma"] == 1.0
    plain = TabularModel({**config.to_dict(), "members": 1, "periodic": {
        **config.periodic, "continuous_sigma": 0.0}}, meta)
    assert plain.continuous_periodic is None and plain.periodic is not None
    assert plain(x)["label"].shape == (rows, 1)


def _counts_table(tmp_path, rows=200):
    """A table whose ``count`` target holds whole numbers 0-20 (and ``size`` drives it)."""
    rng = np.random.default_rng(2)
    size = rng.uniform(0, 10, rows)
    count = np.clip(np.round(2 * size + rng.normal(0, 1, rows)), 0, 20).astype(int)
    count[:2] = (0, 20)
    lines = ["size,weight,count"] + [f"{s:.3f},{rng.normal():.3f},{c}"
                                     for s, c in zip(size, count)]
    path = tmp_path / "counts.csv"
    path.write_text("\n".join(lines) + "\n")
    return read_table(path)


def test_the_distribution_loss_for_whole_numbers_predicts_their_median(tmp_path):
    table = _counts_table(tmp_path)
    config = TabularConfig(targets=["count"], members=1, losses={"count": "distribution"},
                           encoder={"name": "mlp", "nodes": [8], "dropout": 0.0,
                                    "batch_norm": False})
    meta = build_metadata(table, config)
    (spec,) = meta["targets"]
    assert (spec["task"], spec["loss"], spec["low"], spec["high"]) == (
        "regression", "distribution", 0.0, 20.0)
    assert build_metadata(table, TabularConfig(targets=["count"]))["targets"][0]["loss"] == (
        "huber")  # the default
    with pytest.raises(UsageError, match="distribution needs a target of whole numbers"):
        build_metadata(table, TabularConfig(targets=["size"], losses={"size": "distribution"}))
    with pytest.raises(UsageError, match="distribution_sigma must be above 0"):
        build_metadata(table, TabularConfig(targets=["count"], distribution_sigma=0.0,
                                            losses={"count": "distribution"}))

    model = TabularModel(config.to_dict(), meta)
    x = encode_inputs(table, meta)
    logits = keras.ops.convert_to_numpy(model(x)["count"])
    assert logits.shape == (len(table), 21)  # one logit for each of 0, 1, ..., 20
    # The loss: cross-entropy against a Gaussian of 0.2 standard deviations around the value.
    value = np.array([3.0, 17.0], np.float32)
    standard = (value - spec["mean"]) / spec["std"]
    grid = np.arange(21.0)
    sigma = 0.2 * spec["std"]
    soft = np.exp(-(grid - value[:, None]) ** 2 / (2 * sigma ** 2))
    soft /= soft.sum(1, keepdims=True)
    shifted = logits[:2] - logits[:2].max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    expected = -(soft * log_p).sum(1)
    got = keras.ops.convert_to_numpy(_target_losses(spec, standard, logits[:2]))
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    # Served predictions are the median whole number of each row's distribution.
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    median = np.argmax(np.cumsum(p, 1) >= 0.5, 1)
    rows = [dict(zip(table.columns, [table.values[c][i] for c in table.columns]))
            for i in range(len(table))]
    served = [r["count"] for r in model.predict_rows(rows)]
    assert served == median.astype(float).tolist()



def test_encoding_dropout_zeroes_a_rows_bins_and_periods_together_in_training_only(tmp_path):
    table = _counts_table(tmp_path, rows=400)
    config = TabularConfig(targets=["count"], members=1, encoding_dropout=0.5, encoder={
        "name": "mlp", "nodes": [8], "dropout": 0.0, "batch_norm": False})
    meta = build_metadata(table, config)
    model = TabularModel(config.to_dict(), meta)
    x = encode_inputs(table, meta)
    model(x)  # built before the encoder's input is watched
    seen = {}
    encoder_call = model.encoder.call

    def spy(features, training=False, **kwargs):
        seen[training] = keras.ops.convert_to_numpy(features)
        return encoder_call(features, training=training, **kwargs)

    model.encoder.call = spy
    model(x, training=True)
    model(x, training=False)
    # Two numbers (size, weight): their standardised values, then each one's continuous
    # periodic embedding (16 outputs) and 16 bins: 2 + 32 + 32 columns.
    full, dropped = seen[False], seen[True]
    assert full.shape == dropped.shape == (400, 66)
    np.testing.assert_allclose(dropped[:, :2], full[:, :2], rtol=1e-6)
    rich = np.abs(dropped[:, 2:]).sum(axis=1)
    zeroed = rich == 0
    assert 0.4 < zeroed.mean() < 0.6  # about half the rows, each losing the whole block
    np.testing.assert_allclose(dropped[~zeroed, 2:], full[~zeroed, 2:], rtol=1e-5, atol=1e-6)
    assert (np.abs(full[:, 2:]).sum(axis=1) > 0).all()  # prediction reads every encoding
    off = TabularModel({**config.to_dict(), "encoding_dropout": 0.0}, meta)
    assert off.encoding_dropout_seed is None
