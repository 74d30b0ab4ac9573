"""The anomaly detector's calendar seasons, on weekly series generated here."""

import datetime
import json

import numpy as np
import pytest

from applications.anomaly_detector.commands import DetectorCommands
from applications.anomaly_detector.sample_data import write_labelled_series, write_series
from applications.anomaly_detector.season import (explained_share, fit_season, phase_bins,
                                                  profile, season_offsets)
from applications.anomaly_detector.pipeline import sliding_windows
from data.errors import InputError
from data.time_series import read_time_series
from tests.helpers import assert_input_error, cli, exported_scores

APP = DetectorCommands()
WINDOW = 16
TINY = ["--epochs", 8, "--seed", 1, "--batch-size", 32, "--set", f"window={WINDOW}",
        "--set", "stride=2", "--set", "encoder.nodes=[16]", "--set", "decoder_units=16",
        "--set", "threshold_margin=1.5", "--set", "learning_rate=0.005"]
MONDAY = datetime.datetime(2015, 3, 2)
HOLIDAY = 9  # day of the test series: a Wednesday shaped like a Sunday


def stamp(day, half_hours=0):
    return (MONDAY + datetime.timedelta(days=day, minutes=30 * half_hours)).strftime(
        "%Y-%m-%d %H:%M:%S")


def weekly_series(days, seed, holiday=None):
    """Half-hourly demand: two rush hours on weekdays, one broad midday bump at weekends."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * 48)
    hour, day = (t % 48) / 2, t // 48
    weekday = 10 * np.exp(-((hour - 8.5) / 1.5) ** 2) + 8 * np.exp(-((hour - 18) / 2) ** 2)
    weekend = 7 * np.exp(-((hour - 14) / 3.5) ** 2)
    rest = (day % 7 >= 5) | (day == holiday)
    values = 20 + np.where(rest, weekend, weekday) + rng.normal(0, 0.5, len(t))
    return [stamp(0, int(i)) for i in t], values


@pytest.fixture(scope="module")
def weeks(tmp_path_factory):
    paths = write_labelled_series(tmp_path_factory.mktemp("weeks"), weekly_series(35, seed=1),
                                  weekly_series(21, seed=2, holiday=HOLIDAY),
                                  [[stamp(HOLIDAY), stamp(HOLIDAY + 1)]])
    return paths["train"], paths["test"], paths["labels"]


def test_profile_and_explained_share_by_hand():
    times = np.arange(8) * 10.0  # period 40, step 10: four phases, two cycles
    values = np.array([[1.0], [2.0], [3.0], [4.0], [3.0], [2.0], [5.0], [4.0]])
    assert phase_bins(times, 40.0, 10.0, 4).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert profile(times, values, 40.0, 10.0)[:, 0].tolist() == [2.0, 2.0, 4.0, 4.0]
    # A phase never seen takes the overall mean (here 2.0 for phases 2 and 3).
    assert profile(times[:2], np.array([[1.0], [3.0]]), 40.0, 10.0)[:, 0].tolist() == [
        1.0, 3.0, 2.0, 2.0]
    # First half [1,2,3,4] predicts the second half [3,2,5,4] with errors [2,0,2,0]
    # around a spread of [0.5,-0.5,2.5,1.5] from the first half's mean 2.5: 1 - 8/9.
    assert explained_share(times, values, 40.0, 10.0) == pytest.approx(1 - 8 / 9)


def test_fit_season_picks_the_weekly_cycle_and_refuses_what_it_cannot_fit(weeks, tmp_path):
    train, _, _ = weeks
    series = read_time_series(train)
    season = fit_season(series, "auto")
    assert season["season"] == "week" and season["season_step"] == 1800.0
    assert len(season["season_profile"]) == 336
    offsets = season_offsets(series.times, {"columns": ["value"], **season})
    assert np.std(series.values - offsets) < 0.3 * np.std(series.values)
    assert fit_season(series, "day")["season"] == "day"
    assert fit_season(series, "none") == {}

    noise = tmp_path / "noise.csv"
    write_series(noise, [stamp(0, i) for i in range(48 * 35)],
                 np.random.default_rng(0).normal(0, 1, 48 * 35))
    assert fit_season(read_time_series(noise), "auto") == {}  # no cycle explains noise
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("t,value\n" + "".join(f"{i},{i % 7}\n" for i in range(100)))
    assert fit_season(read_time_series(numbers), "auto") == {}
    with pytest.raises(InputError, match="needs dates"):
        fit_season(read_time_series(numbers), "day")
    with pytest.raises(InputError, match="needs at least two weeks in the training part; "
                                         "it covers 10.0 days"):
        fit_season(read_time_series(train).head(48 * 10 + 1), "week")


@pytest.mark.integration
def test_weekly_season_finds_a_holiday_that_the_plain_model_misses(weeks, tmp_path):
    train, test, labels = weeks
    found = {}
    for setting in ("auto", "none"):
        out = tmp_path / setting
        code, _, err = cli(APP, "train", "--train", train, "--out", out, *TINY,
                           "--set", f"season={setting}")
        assert code == 0, err
        code, text, err = cli(APP, "evaluate", "--model", out, "--data", test, "--labels",
                              labels, "--json")
        assert code == 0, err
        found[setting] = json.loads(text)
    assert found["auto"]["events_found"] == 1 and found["auto"]["false_positive_events"] == 0
    assert found["auto"]["point_precision"] > 0.8 and found["auto"]["season"] == "week"
    assert found["none"]["events_found"] == 0  # a Sunday shape is normal without the week
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("timestamp,value\n" + "".join(f"{i},20.0\n" for i in range(50)))
    message = assert_input_error(APP, ["detect", "--model", tmp_path / "auto", "--data",
                                       numbers], numbers)
    assert "trained with season=week and needs dates" in message

    # The export takes each value's time beside the window and serves the CLI's scores.
    from applications.core.base import load_model

    model = load_model(tmp_path / "auto")
    series = read_time_series(test)
    windows = sliding_windows(series.values, WINDOW)[0]
    times = sliding_windows(series.times[:, None], WINDOW)[0][..., 0]
    pick = [0, 150, HOLIDAY * 48 + 4, 700]
    import tensorflow as tf

    expected = model.serving_module().serve(tf.constant(windows[pick]),
                                            tf.constant(times[pick]))["scores"].numpy()
    assert expected.argmax() == 2
    served = exported_scores(APP, tmp_path / "auto", tmp_path / "export",
                             windows=windows[pick], times=times[pick])
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


def test_season_usage_and_input_errors(weeks, tmp_path):
    train, _, _ = weeks
    code, _, err = cli(APP, "train", "--train", train, "--out", tmp_path / "m",
                       "--set", "season=month")
    assert code == 2 and "season must be one of none, auto, day, week" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "m").exists()
    short = tmp_path / "short.csv"
    write_series(short, *weekly_series(10, seed=3))
    message = assert_input_error(APP, ["train", "--train", short, "--out", tmp_path / "m",
                                       "--set", "season=week"], short)
    assert "needs at least two weeks" in message and not (tmp_path / "m").exists()
