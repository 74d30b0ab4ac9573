"""The anomaly detector's log scale for skewed columns, on a two-column series made here."""

import numpy as np
import pytest

from applications.anomaly_detector.commands import DetectorCommands
from applications.anomaly_detector.transform import apply_log, choose_log_columns, skewness
from applications.anomaly_detector.pipeline import sliding_windows
from data.errors import InputError
from data.time_series import read_time_series
from tests.helpers import assert_input_error, cli, exported_scores

APP = DetectorCommands()
WINDOW = 16


def write_two_columns(path, points=600, seed=0, low=0.0):
    """``t,requests,temperature``: bursty counts (mostly 0-2, now and then 20-60) and a
    sine; numeric timestamps, so no season is fitted."""
    rng = np.random.default_rng(seed)
    requests = rng.poisson(1.0, points).astype(float)
    bursts = rng.random(points) < 0.03
    requests[bursts] += rng.uniform(20, 60, bursts.sum())
    requests[0] = low
    temperature = 20 + 5 * np.sin(np.arange(points) / 10) + rng.normal(0, 0.3, points)
    path.write_text("t,requests,temperature\n" + "".join(
        f"{i},{r:g},{c:.4f}\n" for i, (r, c) in enumerate(zip(requests, temperature))))
    return path


def test_log_columns_by_hand(tmp_path):
    assert skewness(np.array([0.0, 0.0, 0.0, 3.0])) == pytest.approx(2 / np.sqrt(3))
    assert skewness(np.ones(5)) == 0.0
    series = read_time_series(write_two_columns(tmp_path / "a.csv"))
    assert skewness(series.values[:, 0].astype(np.float64)) > 2
    assert abs(skewness(series.values[:, 1].astype(np.float64))) < 1
    assert choose_log_columns(series, "auto") == [True, False]
    assert choose_log_columns(series, "none") == [False, False]
    assert choose_log_columns(series, "log") == [True, True]
    values = np.array([[0.0, -1.0], [3.0, 5.0], [-2.0, 7.0]], np.float32)
    np.testing.assert_allclose(apply_log(values, [True, False]),
                               [[0.0, -1.0], [np.log(4.0), 5.0], [0.0, 7.0]], rtol=1e-6)
    assert apply_log(values, [False, False]) is values
    negative = read_time_series(write_two_columns(tmp_path / "b.csv", low=-3.0))
    assert choose_log_columns(negative, "auto") == [False, False]  # not all 0 or more
    with pytest.raises(InputError, match="column 'requests' goes down to -3"):
        choose_log_columns(negative, "log")


@pytest.mark.integration
def test_log_scale_is_saved_and_served_inside_the_export(tmp_path):
    train = write_two_columns(tmp_path / "train.csv", seed=1)
    out = tmp_path / "detector"
    code, _, err = cli(APP, "train", "--train", train, "--out", out, "--epochs", 3,
                       "--seed", 1, "--batch-size", 32, "--set", f"window={WINDOW}",
                       "--set", "encoder.nodes=[16]", "--set", "decoder_units=16")
    assert code == 0, err
    from applications.core.base import load_model

    model = load_model(out)
    assert model.metadata["log_columns"] == [True, False]
    assert "season" not in model.metadata

    windows = sliding_windows(read_time_series(train).values, WINDOW)[0][[0, 100, 400]]
    windows[2, 3, 0] = -5.0  # below 0 on the log scale: read as 0
    import tensorflow as tf

    server = model.serving_module()
    expected = server.serve(tf.constant(windows))["scores"].numpy()
    zeroed = windows.copy()
    zeroed[2, 3, 0] = 0.0
    np.testing.assert_allclose(server.serve(tf.constant(zeroed))["scores"].numpy(), expected,
                               rtol=1e-6)
    served = exported_scores(APP, out, tmp_path / "export", windows=windows)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


def test_transform_usage_and_input_errors(tmp_path):
    negative = write_two_columns(tmp_path / "negative.csv", low=-3.0)
    code, _, err = cli(APP, "train", "--train", negative, "--out", tmp_path / "m",
                       "--set", "transform=sqrt")
    assert code == 2 and "transform must be one of none, auto, log" in err
    assert len(err.strip().splitlines()) == 1
    message = assert_input_error(APP, ["train", "--train", negative, "--out", tmp_path / "m",
                                       "--set", "transform=log"], negative)
    assert "goes down to -3" in message and not (tmp_path / "m").exists()
