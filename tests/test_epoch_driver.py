"""The one epoch driver (``applications.core.epochs``): every tuning trial and every ``train``
gets the epoch's data order, the time budget, memory release and averaging, and a resumed
or continued run sees the orders an uninterrupted one does. Tiny anomaly-detector models on
a series written here."""

import argparse
import math

import keras
import keras_tuner
import pytest
import tensorflow as tf

from applications.anomaly_detector.commands import DetectorCommands
from applications.anomaly_detector.config import DetectorConfig
from applications.core import epochs
from data.epoch_order import EpochOrder, epoch_permutation
from tuning.hypermodel import ApplicationHyperModel
from tuning.spaces import search_space

SPACE = ["encoder.units=4", "decoder_units=4", "batch_size=16"]


class RecordingCommands(DetectorCommands):
    """The anomaly detector, noting every training batch its datasets yield (as row bytes)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def read_training_data(self, args, config, metadata=None, order=None):
        meta, train_ds, dev_ds = super().read_training_data(args, config, metadata, order)

        def note(x):
            self.seen.append(tuple(row.tobytes() for row in x))
            return x

        def watched(x, y):
            return tf.ensure_shape(tf.numpy_function(note, [x], x.dtype), x.shape), y

        return meta, train_ds.map(watched), dev_ds

    def epochs_seen(self, batches):
        """The noted batches cut into epochs of ``batches`` each."""
        assert len(self.seen) % batches == 0, (len(self.seen), batches)
        return [self.seen[i:i + batches] for i in range(0, len(self.seen), batches)]


def rows(epoch):
    return sorted(row for batch in epoch for row in batch)


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "series.csv"
    path.write_text("timestamp,value\n" + "".join(
        f"{i},{math.sin(i / 8) + 0.1 * math.sin(i * 1.7):.4f}\n" for i in range(300)))
    return path


def trial(series, **config):
    """``(app, hypermodel, hp, model, batches per epoch)`` for one tiny trial."""
    app = RecordingCommands()
    args = argparse.Namespace(train=str(series), dev=str(series), timestamp_column=None,
                              value_columns=None)
    base = DetectorConfig(window=16, **config)
    hypermodel = ApplicationHyperModel(app, args, base, search_space(app.name, SPACE), "false")
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    train_ds, _, _ = hypermodel.datasets(hypermodel.config_for(hp))
    app.seen.clear()
    return app, hypermodel, hp, model, int(train_ds.cardinality())


class CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.begun = []

    def on_epoch_begin(self, epoch, logs=None):
        self.begun.append(epoch)


def test_two_epochs_of_a_trial_see_different_orders_and_a_continued_trial_repeats_them(series):
    app, hypermodel, hp, model, batches = trial(series)
    hypermodel.fit(hp, model, epochs=3)
    first, second, third = app.epochs_seen(batches)
    # A new order every epoch, of the same windows.
    assert first != second and second != third and first != third
    assert rows(first) == rows(second) == rows(third)
    # Hyperband continues a trial from a later epoch: it sees that epoch's order.
    app, hypermodel, hp, model, batches = trial(series)
    hypermodel.fit(hp, model, epochs=3, initial_epoch=2)
    assert app.epochs_seen(batches) == [third]


def test_a_trial_stops_at_its_time_budget(series):
    _, hypermodel, hp, model, _ = trial(series, time_budget_minutes=1e-4, patience=50)
    counter = CountEpochs()
    hypermodel.fit(hp, model, epochs=20, callbacks=[counter])
    assert 1 <= len(counter.begun) < 20


@pytest.mark.integration
def test_train_resumed_at_an_epoch_repeats_the_uninterrupted_order(series, tmp_path):
    seen = {}
    for name, stops in (("whole", [3]), ("resumed", [1, 3])):
        app = RecordingCommands()
        args = argparse.Namespace(train=str(series), dev=str(series), timestamp_column=None,
                                  value_columns=None)
        config = DetectorConfig(window=16, batch_size=16,
                                encoder={**DetectorConfig().encoder, "nodes": [4]},
                                decoder_units=4, patience=10)
        for stop in stops:  # as a new process each time: new order, datasets and model
            keras.utils.set_random_seed(config.seed)
            order = EpochOrder()
            meta, train_ds, dev_ds = app.read_training_data(args, config, order=order)
            batches = int(train_ds.cardinality())
            model = app.model_class(config.to_dict(), meta)
            model.train(train_ds, dev_ds, str(tmp_path / name), stop, verbose=0, order=order)
            assert model.training_state.epoch.numpy() == stop
        seen[name] = app.seen
    whole, resumed = seen["whole"], seen["resumed"]
    # Each start reads one batch to build the model, then trains: epochs 0-2, or 0 | 1-2.
    sample, first = whole[:1], whole[1:1 + batches]
    assert len(whole) == 1 + 3 * batches
    assert resumed == sample + first + sample + whole[1 + batches:]
    assert whole[1 + batches:1 + 2 * batches] != first


def test_each_run_has_its_own_order():
    one, other = EpochOrder(), EpochOrder()
    ds = epoch_permutation(8, seed=2, order=one)
    before = list(ds.as_numpy_iterator())
    other.set(5)  # another run's epoch changes nothing here
    assert list(ds.as_numpy_iterator()) == before
    one.set(1)
    after = list(ds.as_numpy_iterator())
    assert after != before and sorted(after) == sorted(before)
    # Without an order every pass has epoch 0's order.
    assert list(epoch_permutation(8, seed=2).as_numpy_iterator()) == before


def test_a_trial_gets_what_train_gets_but_checkpoints(series):
    _, _, _, model, _ = trial(series, ema_momentum=0.9, time_budget_minutes=1.0)
    order = EpochOrder()
    kinds = [type(c) for c in epochs.epoch_callbacks(model, order, has_dev=True)]
    assert kinds == [epochs.FollowEpoch, keras.callbacks.SwapEMAWeights,
                     keras.callbacks.EarlyStopping, epochs.ReleaseFreeMemory, epochs.TimeBudget]
    epochs.FollowEpoch(order).on_epoch_begin(4)
    assert order.epoch == 4
