"""The anomaly detector end to end through its command line, on series generated here."""

import json

import numpy as np
import pytest

from applications.anomaly_detector.commands import DetectorCommands
from applications.anomaly_detector.model import AnomalyDetector
from applications.anomaly_detector.sample_data import generate_series, jump_labels, write_series
from applications.anomaly_detector.scoring import detection_scores, read_label_windows
from applications.anomaly_detector.pipeline import (choose_threshold, flagged_runs,
                                                   point_scores, sliding_windows)
from data.errors import InputError
from data.time_series import parse_timestamp, read_time_series
from tests.helpers import assert_input_error, cli, exported_scores

APP = DetectorCommands()
WINDOW = 16
TINY = ["--set", f"window={WINDOW}", "--set", "stride=2", "--set", "encoder.nodes=[16]",
        "--set", "decoder_units=16", "--set", "threshold=max", "--set", "threshold_margin=1.5",
        "--set", "learning_rate=0.005", "--batch-size", "32"]
JUMP = (560, 20, 8.0)  # first point, length, height


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    train, test, labels = folder / "train.csv", folder / "test.csv", folder / "labels.json"
    write_series(train, *generate_series(points=800, period=40, noise=0.5, seed=1))
    write_series(test, *generate_series(points=800, period=40, noise=0.5, seed=2, jump=JUMP))
    labels.write_text(json.dumps({"artificialWithAnomaly/test.csv": [jump_labels(*JUMP[:2], 10)],
                                  "other/train_like.csv": []}))
    return train, test, labels


@pytest.fixture(scope="module")
def trained(series, tmp_path_factory):
    train, _, _ = series
    out = tmp_path_factory.mktemp("run") / "detector"
    code, _, err = cli(APP, "train", "--train", train, "--out", out, "--epochs", 8,
                       "--seed", 1, *TINY)
    assert code == 0, err
    assert "no --dev: the last 80 of 800 training points of train.csv held out as dev" in err
    return out


def test_windows_and_point_scores_by_hand():
    values = np.arange(10, dtype=np.float32)[:, None]
    windows, starts = sliding_windows(values, 4, stride=3)
    assert starts.tolist() == [0, 3, 6]
    assert windows[:, :, 0].tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    # Point 3 is covered by windows 0 and 1, point 6 by 1 and 2.
    scores = point_scores(np.array([1.0, 3.0, 5.0]), starts, 4, 10)
    assert scores.tolist() == [1, 1, 1, 2, 3, 3, 4, 5, 5, 5]
    assert sliding_windows(values, 4, stride=4)[1].tolist() == [0, 4, 6]  # last one kept
    assert choose_threshold(np.array([1.0, 2.0, 4.0]), "max", 1.5) == 6.0
    assert choose_threshold(np.arange(101.0), "quantile:0.9") == pytest.approx(90.0)
    assert flagged_runs(np.array([1, 1, 0, 1, 0, 0, 1], bool)) == [(0, 1), (3, 3), (6, 6)]
    assert flagged_runs(np.array([1, 1, 0, 1, 0, 0, 1], bool), merge_gap=1) == [(0, 3), (6, 6)]


def test_detection_scores_by_hand():
    # Points at t = 0..9; label windows [2, 4] and [8, 8].
    flags = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 0], bool)
    result = detection_scores(flags, np.arange(10.0), [(2.0, 4.0), (8.0, 8.0)])
    # Window [2, 4] holds flagged points 3 and 4, window [8, 8] none: recall 1/2.
    assert result["event_recall"] == 0.5
    # Flagged runs: {0}, {3, 4}, {6}; {0} and {6} lie outside both windows.
    assert result["false_positive_events"] == 2 and result["flagged_runs"] == 3
    # Flagged points 0, 3, 4, 6; inside a window: 3 and 4. Labelled points: 2, 3, 4, 8.
    assert result["point_precision"] == 0.5
    assert result["point_recall"] == 0.5
    # Scoring from point 5 on: window [2, 4] is unscored, [8, 8] missed; the run {0} is
    # ignored, {6} stays false.
    late = detection_scores(flags, np.arange(10.0), [(2.0, 4.0), (8.0, 8.0)], first_scored=5)
    assert (late["events"], late["events_unscored"], late["event_recall"]) == (1, 1, 0.0)
    assert (late["false_positive_events"], late["flagged_points"]) == (1, 1)
    assert late["labelled_points"] == 1 and late["point_recall"] == 0.0
    empty = detection_scores(np.zeros(4, bool), np.arange(4.0), [])
    assert empty["event_recall"] is None and empty["point_precision"] is None
    assert empty["false_positive_events"] == 0


def test_training_and_dev_pipelines_run_without_autotuning(series):
    # data.epoch_order.epoch_pipeline_options: autotuning's thread stalled epoch starts.
    import argparse

    from applications.anomaly_detector.config import DetectorConfig

    train, test, _ = series
    args = argparse.Namespace(train=str(train), dev=str(test), timestamp_column=None,
                              value_columns=None)
    _, train_ds, dev_ds = APP.read_training_data(args, DetectorConfig(window=WINDOW))
    for ds in (train_ds, dev_ds):
        assert ds.options().autotune.enabled is False
        assert next(iter(ds))[0].shape[1:] == (WINDOW, 1)


@pytest.mark.integration
def test_train_writes_threshold_and_statistics(trained):
    from applications.core.base import load_model

    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 8 and metrics["train_points"] == 800
    model = load_model(trained)
    meta = model.metadata
    assert meta["columns"] == ["value"] and meta["timestamp_column"] == "timestamp"
    assert meta["threshold"] == pytest.approx(metrics["threshold"]) and meta["threshold"] > 0
    assert meta["mean"][0] == pytest.approx(20.0, abs=0.5)
    assert meta["std"][0] == pytest.approx(7.1, abs=0.3)
    assert model.encoder.__class__.__name__ == "RNN_Encoder"


@pytest.mark.integration
def test_injected_jump_is_found_without_false_positives(trained, series):
    _, test, labels = series
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", test, "--labels", labels,
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {"event_recall", "false_positive_events", "point_precision",
                           "point_recall", "threshold"}
    assert result["event_recall"] == 1.0 and result["false_positive_events"] == 0, result
    # Windows that reach into the jump score high too, so a few points just outside it count.
    assert result["point_precision"] > 0.6 and result["point_recall"] > 0.5, result

    code, out, err = cli(APP, "detect", "--model", trained, "--data", test, "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    assert len(found["windows"]) == 1 and found["threshold"] == result["threshold"]
    window = found["windows"][0]
    (start, end), = read_label_windows(labels, test)
    assert parse_timestamp(window["start"])[0] <= end
    assert parse_timestamp(window["end"])[0] >= start
    assert window["points"] == len(found["points"]) == result["flagged_points"]


@pytest.mark.integration
def test_evaluate_hand_checkable_thresholds(trained, series):
    _, test, labels = series
    # Label window: points 550..589 (the 20-point jump with 10 points either side).
    base = ["evaluate", "--model", trained, "--data", test, "--labels", labels, "--json"]
    code, out, err = cli(APP, *base, "--threshold", "-1")  # every point flagged
    assert code == 0, err
    result = json.loads(out)
    assert (result.pop("season"), result.pop("log_columns")) == ("none", [])  # 800 points
    assert result == pytest.approx({
        "event_recall": 1.0, "events": 1, "events_found": 1, "events_unscored": 0,
        "false_positive_events": 0,
        "flagged_runs": 1, "point_precision": 40 / 800, "point_recall": 1.0,
        "flagged_points": 800, "labelled_points": 40, "points": 800, "threshold": -1.0})
    code, out, err = cli(APP, *base, "--threshold", "-1", "--probation", "0.75")
    result = json.loads(out)  # points 0..599 are neither flagged nor scored, as in NAB
    assert (result["events"], result["events_unscored"], result["event_recall"]) == (0, 1, None)
    assert result["false_positive_events"] == 1 and result["labelled_points"] == 0
    assert result["point_precision"] == 0.0 and result["flagged_points"] == 200
    code, out, err = cli(APP, *base, "--threshold", "1e9")  # nothing flagged
    result = json.loads(out)
    assert result["event_recall"] == 0.0 and result["point_precision"] is None
    assert result["point_recall"] == 0.0 and result["false_positive_events"] == 0


@pytest.mark.integration
def test_detect_csv_plot_and_predict(trained, series, tmp_path):
    _, test, _ = series
    png = tmp_path / "plot.png"
    code, out, err = cli(APP, "detect", "--model", trained, "--data", test, "--plot", png)
    assert code == 0, err
    rows = out.splitlines()
    assert rows[0] == "kind,start,end,score"
    assert rows[1].startswith("window,") and all(r.startswith("point,") for r in rows[2:])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    code, out, err = cli(APP, "predict", "--model", trained, "--input", test)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "timestamp,score,anomaly" and len(lines) == 801
    assert sum(int(l.rsplit(",", 1)[1]) for l in lines[1:]) == len(rows) - 2


@pytest.mark.integration
def test_export_serves_the_same_scores(trained, series, tmp_path):
    import tensorflow as tf

    from applications.core.base import load_model

    _, test, _ = series
    windows, _ = sliding_windows(read_time_series(test).values, WINDOW)
    windows = windows[[0, 100, 300, JUMP[0] - 4, 700]]  # the fourth one holds the jump
    expected = load_model(trained).serving_module().serve(tf.constant(windows))["scores"].numpy()
    served = exported_scores(APP, trained, tmp_path / "export", windows=windows)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)
    assert expected.argmax() == 3 and expected[3] > 10 * np.median(expected)


BAD_INPUTS = [
    ("word.csv", "timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,high\n", "3:2"),
    ("empty_cell.csv", "timestamp,value\n2014-04-01 00:00:00,\n", "2:2"),
    ("nan.csv", "timestamp,value\n2014-04-01 00:00:00,nan\n", "2:2"),
    ("bad_time.csv", "timestamp,value\nyesterday,1.0\n", "2:1"),
    ("ragged.csv", "timestamp,value\n2014-04-01 00:00:00,1.0,2.0\n", 2),
    ("no_value.csv", "timestamp,other\n2014-04-01 00:00:00,1.0\n", 1),
    ("latin1.csv", b"timestamp,value\n2014-04-01 00:00:00,1\xe9\n", 2),
    ("empty.csv", "", None),
    ("header_only.csv", "timestamp,value\n", None),
    ("short.csv", "timestamp,value\n" + "".join(f"{i},{i}.0\n" for i in range(5)), None),
    ("huge.csv", "timestamp,value\n0,1.0\n1,1e39\n", "3:2"),  # beyond float32
]


@pytest.mark.integration
@pytest.mark.parametrize("name,content,line", BAD_INPUTS)
def test_bad_input_is_one_line_and_leaves_model(trained, tmp_path, name, content, line):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    before = (trained / "model.keras").read_bytes()
    message = assert_input_error(APP, ["train", "--train", path, "--out", trained, *TINY],
                                 path, line)
    assert (trained / "model.keras").read_bytes() == before
    if name in ("word.csv", "bad_time.csv", "empty.csv", "short.csv"):  # loading takes a while
        assert_input_error(APP, ["detect", "--model", trained, "--data", path], path, line)
    if name == "short.csv":
        assert "fewer than one window of 16" in message


def test_duplicated_and_backward_timestamps_warn(tmp_path, capsys):
    path = tmp_path / "order.csv"
    path.write_text("timestamp,value\n1,1.0\n2,2.0\n2,2.5\n1,3.0\n3,4.0\n")
    series = read_time_series(path)
    assert (series.duplicated, series.backwards) == (1, 1)
    assert series.values[:, 0].tolist() == [1.0, 2.0, 2.5, 3.0, 4.0]  # file order kept
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: {path}: 1 duplicated and 1 backward timestamp(s); "
                   "rows are used in file order"]


def test_labels_file_errors(series, tmp_path):
    _, test, labels = series
    assert read_label_windows(labels, test)[0][0] < read_label_windows(labels, test)[0][1]
    with pytest.raises(InputError, match="no entry for 'missing.csv'"):
        read_label_windows(labels, tmp_path / "missing.csv")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"a/test.csv": [["2014-01-02", "2014-01-01"]]}))
    with pytest.raises(InputError, match="bad window"):
        read_label_windows(bad, test)


def test_held_out_tail_needs_a_window_on_each_side(series):
    part = read_time_series(str(series[0])).head(100)
    fit, held = part.split_tail(0.2, 16)
    assert len(fit.values) == 80 and len(held.values) == 20
    np.testing.assert_array_equal(np.concatenate([fit.values, held.values]), part.values)
    assert held.lines == part.lines[80:] and held.timestamps == part.timestamps[80:]
    assert part.split_tail(0.1, 16)[1] is None  # a tail of 10 < 16
    kept, none = part.split_tail(0.9, 16)  # what is left, 10 < 16
    assert kept is part and none is None
    assert part.split_tail(0.0, 16)[1] is None


@pytest.mark.integration
def test_default_series_train_fraction_and_usage_errors(tmp_path):
    out = tmp_path / "detector"
    code, _, err = cli(APP, "train", "--out", out, "--epochs", 1, *TINY,
                       "--set", "train_fraction=0.25")
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["train_points"] == 1008
    code, out_text, err = cli(APP, "evaluate", "--model", out, "--json")
    assert code == 0, err
    assert json.loads(out_text)["events"] == 1 and json.loads(out_text)["points"] == 4032

    code, _, err = cli(APP, "train", "--out", tmp_path / "x", "--set", "threshold=median")
    assert code == 2 and "threshold must be" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(APP, "train", "--out", tmp_path / "x", "--set", "train_fraction=0")
    assert code == 2 and "train_fraction" in err
    for option, message in (("threshold_margin=-1", "threshold_margin must be"),
                            ("dev_split=2", "dev_split must be"),
                            ("learning_rate=-1", "learning_rate must be a positive")):
        code, _, err = cli(APP, "train", "--out", tmp_path / "x", "--set", option)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli(APP, "detect", "--model", out, "--threshold", "nan")
    assert code == 2 and "--threshold must be a finite number" in err
    with pytest.raises(ValueError, match="finite"):
        AnomalyDetector.load_model(out).detect(np.array([1.0, np.nan] * 20))
    code, _, err = cli(APP, "evaluate", "--model", out, "--data", tmp_path / "a.csv")
    assert code == 2 and "--labels" in err
    assert not (tmp_path / "x").exists()
