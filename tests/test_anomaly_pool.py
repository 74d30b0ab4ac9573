"""Pooled (coarse) anomaly detectors, alone and beside a point-level one (``--with-model``)."""

import json

import numpy as np
import pytest

from applications.anomaly_detector.commands import DetectorCommands
from applications.anomaly_detector.sample_data import write_labelled_series, write_series
from applications.anomaly_detector.pipeline import pooled_windows, sliding_windows
from data.time_series import read_time_series
from tests.helpers import assert_input_error, cli, error_lines, exported_scores

APP = DetectorCommands()
TINY = ["--epochs", 8, "--seed", 1, "--batch-size", 32, "--set", "stride=2",
        "--set", "encoder.nodes=[16]", "--set", "decoder_units=16",
        "--set", "threshold_margin=1.5", "--set", "learning_rate=0.005"]
FINE = ["--set", "window=16"]
COARSE = ["--set", "pool=8", "--set", "window=8"]  # 8 means of 8 points: 64 points a window
RISE = (600, 200, 14.0)  # first point, length, height: less than 1.5 noise deviations


def slow_wave(points, seed, rise=None):
    """A cycle of 200 points (amplitude 10) under noise of deviation 10; optionally a rise."""
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    values = 20 + 10 * np.sin(2 * np.pi * t / 200) + rng.normal(0, 10, points)
    if rise:
        values[rise[0]:rise[0] + rise[1]] += rise[2]
    return [str(i) for i in t], values


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """``(fine model, coarse model, test series, labels)`` trained on the same series."""
    folder = tmp_path_factory.mktemp("pool")
    paths = write_labelled_series(folder, slow_wave(1500, seed=1),
                                  slow_wave(1000, seed=2, rise=RISE),
                                  [[str(RISE[0]), str(RISE[0] + RISE[1] - 1)]])
    train, test, labels = paths["train"], paths["test"], paths["labels"]
    models = []
    for name, options in (("fine", FINE), ("coarse", COARSE)):
        code, _, err = cli(APP, "train", "--train", train, "--out", folder / name, *TINY,
                           *options)
        assert code == 0, err
        models.append(folder / name)
    return (*models, test, labels)


def test_pooled_windows_by_hand():
    values = np.arange(10.0)[:, None]
    windows, starts = pooled_windows(values, 2, 3, stride=2)  # 6 points a window
    assert starts.tolist() == [0, 2, 4]
    assert windows[..., 0].tolist() == [[1.0, 4.0], [3.0, 6.0], [5.0, 8.0]]
    for got, expected in zip(pooled_windows(values, 4, 1, 3), sliding_windows(values, 4, 3)):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.integration
def test_coarse_model_finds_a_rise_the_point_model_misses(pair):
    fine, coarse, test, labels = pair
    base = ["evaluate", "--model", fine, "--data", test, "--labels", labels, "--json"]
    results = []
    for extra in ([], ["--with-model", coarse]):
        code, out, err = cli(APP, *base, *extra)
        assert code == 0, err
        results.append(json.loads(out))
    alone, both = results
    assert (alone["events_found"], alone["false_positive_events"]) == (0, 0)
    assert (both["events_found"], both["false_positive_events"]) == (1, 0)
    assert both["threshold"] == 1.0 and both["flagged_points"] > 50


@pytest.mark.integration
def test_with_model_flags_what_either_flags(pair):
    fine, coarse, test, _ = pair
    columns = {}
    for name, argv in (("fine", [fine]), ("coarse", [coarse]),
                       ("both", [fine, "--with-model", coarse])):
        code, out, err = cli(APP, "predict", "--model", *argv, "--input", test,
                             "--threshold", 0.15 if name == "coarse" else 1.0)
        assert code == 0, err
        rows = [line.split(",") for line in out.strip().splitlines()[1:]]
        columns[name] = (np.array([float(r[1]) for r in rows]), np.array([r[2] == "1"
                                                                          for r in rows]))
    (fine_scores, fine_flags), (coarse_scores, _) = columns["fine"], columns["coarse"]
    both_scores, both_flags = columns["both"]
    # --threshold sets the first model's threshold; the coarse one keeps its saved one.
    from applications.core.base import load_model

    saved = load_model(coarse).metadata["threshold"]
    np.testing.assert_allclose(both_scores, np.maximum(fine_scores / 1.0, coarse_scores / saved),
                               rtol=1e-4)
    np.testing.assert_array_equal(both_flags, fine_flags | (coarse_scores > saved))
    assert fine_flags.any() and not fine_flags.all() and (both_flags & ~fine_flags).any()


@pytest.mark.integration
def test_pooled_export_serves_block_means(pair, tmp_path):
    import tensorflow as tf

    from applications.core.base import load_model

    _, coarse, test, _ = pair
    model = load_model(coarse)
    meta = model.metadata
    values = read_time_series(test).values.astype(np.float32)
    raw, _ = sliding_windows(values, 64, stride=100)
    # The model's own reading of the same stretches: block means of normalised values.
    normalised = (values - np.float32(meta["mean"])) / np.float32(meta["std"])
    means, _ = pooled_windows(normalised, 8, 8, stride=100)
    expected = np.mean((means - model(tf.constant(means)).numpy()) ** 2, axis=(1, 2))
    served = np.array(exported_scores(APP, coarse, tmp_path / "export", windows=raw))
    assert raw.shape == (11, 64, 1)  # starting at 0, 100, ..., 900 and 936
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-6)
    # The window at 600 is the rise's first 64 points; the one at 700 meets it in a trough.
    assert served.argmax() == 6 and served[6] > 4 * np.delete(served, 6).max()


@pytest.mark.integration
def test_pool_errors(pair, tmp_path):
    fine, coarse, test, labels = pair
    code, _, err = cli(APP, "train", "--out", tmp_path / "x", "--set", "pool=0")
    assert code == 2 and "pool must be at least 1" in err and len(error_lines(err)) == 1
    short = tmp_path / "short.csv"
    write_series(short, *slow_wave(40, seed=3))  # one fine window, not one coarse one
    assert "fewer than one window of 64" in assert_input_error(
        APP, ["evaluate", "--model", fine, "--with-model", coarse, "--data", short,
              "--labels", labels], short)
    other = tmp_path / "load.csv"
    other.write_text("timestamp,load\n" + "".join(f"{i},{i % 7}\n" for i in range(80)))
    code, _, err = cli(APP, "train", "--train", other, "--out", tmp_path / "load",
                       "--epochs", 1, *FINE)
    assert code == 0, err
    code, _, err = cli(APP, "evaluate", "--model", fine, "--with-model", tmp_path / "load",
                       "--data", test, "--labels", labels)
    assert code == 2 and len(error_lines(err)) == 1
    assert "load: not an anomaly detector of the columns value" in err
    code, _, err = cli(APP, "evaluate", "--model", fine, "--with-model", coarse, "--data", test,
                       "--labels", labels, "--threshold", -1)
    assert code == 2 and "must be positive" in err and len(error_lines(err)) == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.integration
def test_pooled_seasonal_export_takes_the_season_off_each_point(tmp_path):
    import tensorflow as tf

    from applications.anomaly_detector.sample_data import sample_paths
    from applications.anomaly_detector.pipeline import model_values
    from applications.core.base import load_model

    out = tmp_path / "daily"  # the embedded series: 5-minute steps, a daily cycle
    code, _, err = cli(APP, "train", "--out", out, "--epochs", 1, "--set", "pool=4",
                       "--set", "window=8")
    assert code == 0, err
    model = load_model(out)
    meta = model.metadata
    assert (meta["season"], model.span) == ("day", 32)
    series = read_time_series(sample_paths()["test"])
    pick = [0, 500, 2900, 3900]  # the third starts inside the injected jump
    raw = sliding_windows(series.values.astype(np.float32), 32)[0][pick]
    times = sliding_windows(np.asarray(series.times, np.float64)[:, None], 32)[0][pick, :, 0]
    # The season comes off each point, then the points are normalised and averaged.
    normalised = (model_values(series, meta) - meta["mean"]) / meta["std"]
    means = pooled_windows(normalised.astype(np.float32), 8, 4)[0][pick]
    expected = np.mean((means - model(tf.constant(means)).numpy()) ** 2, axis=(1, 2))
    served = exported_scores(APP, out, tmp_path / "export", windows=raw, times=times)
    np.testing.assert_allclose(served, expected, rtol=1e-4)
    assert np.argmax(served) == 2
