"""Learning-rate decay over a time budget or over the epochs, alone and in a real run."""

import json

import keras
import numpy as np
import pytest

from applications.config import TrainConfig, UsageError
from applications.pos_tagger.commands import TaggerCommands
from applications.pos_tagger.sample_corpus import generate_sentences, write_two_column
from applications.schedules import LearningRateDecay, TimeBudget, decayed_rate, schedule_callbacks
from tests.helpers import cli


def test_decayed_rate_shapes():
    assert [decayed_rate("linear", 2.0, f) for f in (0.0, 0.5, 1.0, 1.5)] == [2.0, 1.0, 0.0, 0.0]
    cosine = [decayed_rate("cosine", 2.0, f) for f in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert cosine == pytest.approx([2.0, 1.7071, 1.0, 0.2929, 0.0], abs=1e-4)
    with pytest.raises(ValueError, match="lr_decay"):
        decayed_rate("step", 1.0, 0.5)
    with pytest.raises(UsageError, match="lr_decay must be one of none, linear, cosine"):
        TrainConfig.from_dict({"lr_decay": "exponential"})


def attached(callback, steps=None):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1.0), loss="mse")
    callback.set_model(model)
    callback.set_params({"steps": steps, "epochs": 4})
    return lambda: float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_time_budget_decay_follows_the_clock():
    now = [50.0]
    callback = LearningRateDecay("linear", 0.1, seconds=200, epochs=99, clock=lambda: now[0])
    rate = attached(callback)
    callback.on_train_begin()
    seen = []
    for elapsed in (0, 50, 150, 250):  # the last is past the budget: the rate stays at zero
        now[0] = 50.0 + elapsed
        callback.on_train_batch_begin(0)
        seen.append(rate())
    assert seen == pytest.approx([0.1, 0.075, 0.025, 0.0])


def test_epoch_decay_counts_batches_when_keras_does_not_know_them():
    callback = LearningRateDecay("linear", 1.0, epochs=4)
    rate = attached(callback, steps=None)
    callback.on_train_begin()
    first, second = [], []
    for epoch, record in ((0, first), (1, second)):
        callback.on_epoch_begin(epoch)
        for batch in range(5):
            callback.on_train_batch_begin(batch)
            record.append(rate())
            callback.on_train_batch_end(batch)
        logs = {}
        callback.on_epoch_end(epoch, logs)
        assert logs["learning_rate"] == pytest.approx(record[-1])
    # The first epoch's length is unknown until it ends, so it decays by whole epochs only;
    # from the second on, by batches too (5 a epoch, 4 epochs: 1/20 of the way each).
    assert first == pytest.approx([1.0] * 5)
    assert second == pytest.approx([0.75, 0.70, 0.65, 0.60, 0.55])


def test_schedule_callbacks_by_option():
    assert schedule_callbacks(TrainConfig().to_dict()) == []
    budget, decay = schedule_callbacks(
        TrainConfig(time_budget_minutes=2, lr_decay="cosine").to_dict())
    assert isinstance(budget, TimeBudget) and budget.seconds == 120
    assert decay.kind == "cosine" and decay.seconds == 120
    _, shared = schedule_callbacks(TrainConfig(time_budget_minutes=2, lr_decay="linear")
                                   .to_dict(), decay_by_time=False)
    assert shared.seconds is None and shared.epochs == 10


def test_training_run_decays_and_records_the_rate(tmp_path):
    train, dev = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    write_two_column(generate_sentences(120, seed=5), train)
    write_two_column(generate_sentences(30, seed=6), dev)
    out = tmp_path / "run"
    code, _, err = cli(TaggerCommands(), "train", "--train", train, "--dev", dev, "--out", out,
                       "--epochs", 3, "--batch-size", 16, "--set", "lr_decay=linear",
                       "--set", "learning_rate=0.01", "--set", "word_dim=8",
                       "--set", "char_dim=4", "--set", "encoder.nodes=[8]",
                       "--set", "char_encoder.nodes=[8]", "--set", "patience=5")
    assert code == 0, err
    rates = json.loads((out / "metrics.json").read_text())["history"]["learning_rate"]
    # The rate logged at an epoch's end is the one its last batch used: below where the
    # epoch started, and in the third of three epochs below a third of the start.
    assert len(rates) == 3 and np.all(np.diff(rates) < 0)
    assert 0 < rates[-1] < 0.01 / 3 and rates[0] < 0.01
