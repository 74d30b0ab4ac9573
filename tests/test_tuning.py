"""Hyperparameter search end to end: tables, export of the best trial, seeds, resume after
kill -9, torn state files, and a chief with two workers. Trials are tiny anomaly-detector
searches on a series written here (a few seconds each)."""

import argparse
import importlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import keras_tuner
import pytest

from applications.anomaly_detector.commands import DetectorCommands
from applications.anomaly_detector.config import DetectorConfig
from applications.core.base import load_model
from applications.core.config import UsageError
from applications.core.distributed import free_local_ports
from applications.core.registry import application_names
from applications.core.space import Choice, Range
from applications.main import find_commands
from tests.helpers import REPO, assert_input_error, cli
from tuning.__main__ import run
from tuning.hypermodel import ApplicationHyperModel, choose_jit_compile
from tuning.spaces import apply_values, search_space

APP = DetectorCommands()
# Weight averaging on: the best-epoch checkpoints must hold the averages a trial scored.
TINY = ["--epochs", 2, "--set", "window=16", "--set", "ema_momentum=0.5",
        "--space", "encoder.units=4,8", "--space", "decoder_units=4",
        "--space", "batch_size=32"]


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "series.csv"
    path.write_text("timestamp,value\n" + "".join(
        f"{i},{math.sin(i / 8) + 0.1 * math.sin(i * 1.7):.4f}\n" for i in range(400)))
    return path


def tune_args(series, folder, *extra):
    return ["tune", "--train", series, "--dev", series, "--dir", folder, *TINY, *extra]


@pytest.fixture(scope="module")
def search(series, tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    code, out, err = cli(APP, *tune_args(series, root / "dir", "--max-trials", 2, "--seed", 5,
                                         "--export-best", root / "best"))
    assert code == 0, err
    return root / "dir", root / "best", out, err


def results(folder):
    return json.loads((folder / "results.json").read_text())


@pytest.mark.integration
def test_progress_lines_table_and_saved_results(search):
    folder, _, out, err = search
    progress = [l for l in err.splitlines() if "COMPLETED" in l]
    assert [l.split()[1] for l in progress] == ["1/2", "2/2"]
    assert all("val_loss=" in l and "encoder.units=" in l and " s " in l for l in progress)
    table = out.splitlines()
    assert table[0].split()[:5] == ["trial", "status", "val_loss", "seconds", "rss_mb"]
    saved = results(folder)
    trials = saved["trials"]
    assert saved["objective"] == "val_loss" and len(trials) == 2
    assert {t["status"] for t in trials} == {"COMPLETED"}
    assert all(t["seconds"] > 0 and t["rss_mb"] > 0 for t in trials)
    assert all(t["hyperparameters"]["encoder.units"] in (4, 8) for t in trials)
    best = min(trials, key=lambda t: t["objective"])
    assert saved["best_trial"] == best["trial"]
    csv_lines = (folder / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].startswith("trial,status,objective,seconds")


@pytest.mark.integration
def test_export_best_is_a_normal_application(search, series, tmp_path):
    folder, best_dir, _, _ = search
    saved = results(folder)
    best = next(t for t in saved["trials"] if t["trial"] == saved["best_trial"])
    config = json.loads((best_dir / "config.json").read_text())
    assert config["encoder"]["nodes"] == [best["hyperparameters"]["encoder.units"]]
    assert config["learning_rate"] == pytest.approx(best["hyperparameters"]["learning_rate"])
    model = load_model(best_dir)
    assert "threshold" in model.metadata  # the application's after_training hook ran
    # The reloaded weights are the trial's best epoch: same dev loss as the search saw.
    args = argparse.Namespace(train=str(series), dev=str(series), timestamp_column=None,
                              value_columns=None)
    _, _, dev = APP.read_training_data(args, DetectorConfig.from_dict(config), model.metadata)
    model.compile_for_training(False)
    assert model.evaluate(dev, verbose=0) == pytest.approx(best["objective"], rel=1e-5)
    code, out, err = cli(APP, "predict", "--model", best_dir, "--input", series)
    assert code == 0 and out.splitlines()[0] == "timestamp,score,anomaly", err
    assert (best_dir / "saved_model" / "saved_model.pb").is_file()


@pytest.mark.integration
def test_same_seed_same_trials(search, series, tmp_path):
    first = results(search[0])["trials"]
    code, _, err = cli(APP, *tune_args(series, tmp_path / "again", "--max-trials", 2,
                                       "--seed", 5))
    assert code == 0, err
    again = results(tmp_path / "again")["trials"]
    assert [t["hyperparameters"] for t in again] == [t["hyperparameters"] for t in first]
    assert [t["objective"] for t in again] == [t["objective"] for t in first]


@pytest.mark.integration
@pytest.mark.slow  # four trials: about 15 s on an idle 2-core machine
def test_hyperband_continues_promoted_trials_and_other_seed_differs(search, series, tmp_path):
    # Hyperband over at most 3 epochs: three 1-epoch trials, then the best one goes on.
    folder = tmp_path / "hyperband"
    code, _, err = cli(APP, *tune_args(series, folder, "--tuner", "hyperband", "--epochs", 3,
                                       "--max-trials", 4, "--seed", 6))
    assert code == 0, err
    trials = results(folder)["trials"]
    assert {t["status"] for t in trials} == {"COMPLETED"} and len(trials) == 4
    child = trials[3]["hyperparameters"]
    parent = min(trials[:3], key=lambda t: t["objective"])
    assert child["tuner/trial_id"] == parent["trial"] and child["tuner/initial_epoch"] == 1
    assert trials[3]["objective"] <= parent["objective"]  # it went on from the parent
    first = results(search[0])["trials"][0]["hyperparameters"]
    assert {k: v for k, v in trials[0]["hyperparameters"].items()
            if not k.startswith("tuner/")} != first  # another seed, other values


@pytest.mark.integration
def test_rerun_continues_to_max_trials_and_refuses_other_options(search, series, tmp_path):
    folder = tmp_path / "dir"
    shutil.copytree(search[0], folder)
    trial_file = folder / "search" / "trial_0" / "trial.json"
    before = trial_file.read_bytes()
    code, _, err = cli(APP, *tune_args(series, folder, "--max-trials", 2, "--seed", 5))
    assert code == 0 and "started" not in err, err  # nothing left to run
    code, _, err = cli(APP, *tune_args(series, folder, "--max-trials", 3, "--seed", 5))
    assert code == 0, err
    assert [l.split()[1] for l in err.splitlines() if "COMPLETED" in l] == ["3/3"]
    assert len(results(folder)["trials"]) == 3 and trial_file.read_bytes() == before
    code, _, err = cli(APP, *tune_args(series, folder, "--max-trials", 3, "--seed", 9))
    assert code == 2 and "different seed" in err and len(err.strip().splitlines()) == 1


@pytest.mark.integration
@pytest.mark.parametrize("name", ["search/oracle.json", "search/trial_1/trial.json",
                                  "search/tuner0.json", "tune.json"])
def test_torn_state_file_is_one_line_error(search, series, tmp_path, name):
    folder = tmp_path / "dir"
    shutil.copytree(search[0], folder)
    path = folder / name
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    before = (folder / "results.json").read_bytes()
    assert_input_error(APP, tune_args(series, folder, "--max-trials", 2, "--seed", 5), path)
    assert (folder / "results.json").read_bytes() == before


@pytest.mark.integration
def test_a_trial_keras_tuner_cannot_read_is_named(search, series, tmp_path):
    folder = tmp_path / "dir"
    shutil.copytree(search[0], folder)
    path = folder / "search" / "trial_1" / "trial.json"
    state = json.loads(path.read_text())
    del state["status"]  # valid JSON, but not a trial
    path.write_text(json.dumps(state))
    before = (folder / "results.json").read_bytes()
    assert_input_error(APP, tune_args(series, folder, "--max-trials", 2, "--seed", 5), path)
    assert (folder / "results.json").read_bytes() == before


def test_bad_flags_exit_2(series, tmp_path):
    (tmp_path / "file").write_text("a file")
    foreign = tmp_path / "foreign"
    (foreign / "saved_model").mkdir(parents=True)
    (foreign / "saved_model" / "mine.txt").write_text("not an export")
    for extra, message in ((["--space", "nosuch=1"], "no hyperparameter 'nosuch'"),
                           (["--space", "encoder.units="], "at least one value"),
                           (["--max-trials", 0], "at least 1"),
                           (["--space", "batch_size=32,0"], "batch_size must be 1 or more"),
                           (["--space", "encoder.units=4,abc"], "--space encoder.units"),
                           (["--space", "encoder.units=[4]"], "not lists"),
                           (["--seed", -1], "seed must be"),
                           (["--epochs", 0], "epochs must be 1 or more"),
                           (["--export-best", tmp_path / "file" / "x"], "is a file"),
                           (["--export-best", foreign], "not a SavedModel this package")):
        code, _, err = cli(APP, *tune_args(series, tmp_path / "d", *extra))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "d").exists() and os.listdir(foreign) == ["saved_model"]
    code, _, err = cli(APP, *tune_args(series, tmp_path / "file" / "d"))
    assert code == 2 and "is a file" in err, err
    assert run(["no_such_app", "--dir", tmp_path]) == 2
    if not all(map(_importable, ("scipy", "sklearn"))):
        code, _, err = cli(APP, *tune_args(series, tmp_path / "d", "--tuner", "bayesian"))
        assert code == 2 and "scikit-learn" in err


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


SEVEN = {"pos_tagger", "text_classifier", "language_model", "anomaly_detector",
         "image_classifier", "autoencoder", "translator"}


def test_every_application_declares_a_space_beside_its_config():
    names = application_names()
    assert SEVEN <= set(names) and "core" not in names, names
    for name in names:
        space = search_space(name)
        assert "batch_size" in space, name
        assert all(isinstance(d, (Choice, Range)) for d in space.values()), name
        assert space == importlib.import_module(f"applications.{name}.config").SEARCH_SPACE
    with pytest.raises(UsageError, match="add SEARCH_SPACE to applications/no_such/config.py"):
        search_space("no_such")


def test_every_application_has_a_space_that_builds_its_model(monkeypatch):
    for name in ("pos_tagger", "text_classifier", "language_model", "anomaly_detector"):
        app = find_commands(name)
        flags = {"train": None, "dev": None, "text_column": None, "label_columns": None,
                 "timestamp_column": None, "value_columns": None}
        space = search_space(name, ["encoder.units=8"])
        hypermodel = ApplicationHyperModel(app, argparse.Namespace(**flags), app.config_class(),
                                           space, "false")
        hp = keras_tuner.HyperParameters()
        model = hypermodel.build(hp)
        assert type(model) is app.model_class and model.built
        if "encoder.units" in hp.values:  # not for the text classifier's default CNN
            key = "filters" if model.config["encoder"]["name"] == "cnn" else "nodes"
            default = app.config_class().encoder.get(key) or [1]
            layers = hp.values.get("encoder.layers", len(default))
            assert model.config["encoder"][key] == [8] * layers, name
        assert model.config["learning_rate"] == hp.values["learning_rate"]
        # XLA policy: never on this CPU; on a GPU, not for models with recurrent layers.
        assert choose_jit_compile("auto", model) is False
        assert choose_jit_compile("true", model) is True
        monkeypatch.setattr("tuning.hypermodel.resolve_jit_compile",
                            lambda setting: setting == "auto")
        assert choose_jit_compile("auto", model) is (name == "pos_tagger"), name
        monkeypatch.undo()


def test_apply_values_expands_shorthands():
    from applications.text_classifier.config import ClassifierConfig

    base = ClassifierConfig()
    rnn = apply_values(base, {"encoder.name": "rnn", "encoder.cell": "gru", "encoder.units": 32,
                              "encoder.layers": 2, "dropout": 0.2})
    assert rnn.encoder == {"name": "rnn", "cell": "gru", "nodes": [32, 32],
                           "bidirectional": True, "pooling": "max"}
    assert rnn.dropout == 0.2
    cnn = apply_values(base, {"encoder.name": "cnn", "encoder.preset": "text",
                              "encoder.filters": 50})
    assert cnn.encoder == {"name": "cnn", "preset": "text", "filters": [50]}
    assert base.encoder == ClassifierConfig().encoder  # the base is not changed


def test_a_trial_switching_to_the_transformer_gets_its_recipe():
    from applications.language_model.config import LanguageModelConfig

    recipe = LanguageModelConfig.ENCODER_RECIPES["transformer"]
    base = LanguageModelConfig(patience=5)  # set for the whole search: kept
    trial = apply_values(base, {"encoder.name": "transformer", "encoder.heads": 2,
                                "batch_size": 8})
    assert trial.encoder == {"name": "transformer", "heads": 2, "dropout": 0.0}
    assert (trial.batch_size, trial.patience) == (8, 5)
    assert (trial.window, trial.steps_per_epoch) == (recipe["window"], recipe["steps_per_epoch"])
    gru = apply_values(base, {"encoder.name": "rnn", "encoder.cell": "gru"})
    assert (gru.window, gru.batch_size) == (base.window, base.batch_size)


def test_a_dotted_encoder_name_replaces_the_other_encoders_keys():
    from applications.core.config import load_config
    from applications.language_model.config import LanguageModelConfig

    config = load_config(LanguageModelConfig, None, ["encoder.layers=3",
                                                     "encoder.name=transformer"])
    assert config.encoder == {"name": "transformer", "layers": 3, "dropout": 0.0}
    assert config.window == LanguageModelConfig.ENCODER_RECIPES["transformer"]["window"]
    sgd = load_config(LanguageModelConfig, None, ['encoder={"name": "transformer"}',
                                                  "optimizer=sgd", "momentum=0.9"])
    assert (sgd.optimizer, sgd.beta_2, sgd.weight_decay) == ("sgd", 0.0, 0.1)
    same = load_config(LanguageModelConfig, None, ["encoder.name=rnn"])
    assert same.encoder == LanguageModelConfig().encoder


def _popen(args, log, env=None):
    return subprocess.Popen([sys.executable, "-m", "tuning", "anomaly_detector",
                             *map(str, args)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"), env={**os.environ, **(env or {})})


def _wait_for(path, text, process, deadline):
    while text not in path.read_text():
        assert process.poll() is None, path.read_text()[-2000:]
        assert time.monotonic() < deadline, f"no {text!r} in {path}"
        time.sleep(0.2)


@pytest.mark.integration
def test_search_killed_with_sigkill_resumes(search, series, tmp_path):
    # The fixture's search (2 trials done) is raised to 3 and killed inside trial 3.
    folder, log = tmp_path / "dir", tmp_path / "first.log"
    shutil.copytree(search[0], folder)
    args = tune_args(series, folder, "--max-trials", 3, "--seed", 5)[1:]
    first = _popen(args, log)
    _wait_for(log, "trial 3/3 started", first, time.monotonic() + 240)
    first.send_signal(signal.SIGKILL)
    first.wait()
    oracle = json.loads((folder / "search" / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {"tuner0": "2"}  # killed inside trial 3
    done = [(folder / "search" / f"trial_{i}" / "trial.json").read_bytes() for i in (0, 1)]
    code, _, err = cli(APP, "tune", *args)
    assert code == 0, err
    started = [l.split()[1] for l in err.splitlines() if l.endswith("started (tuner0)")]
    assert started == ["3/3"]  # the completed trials are not run again
    trials = results(folder)["trials"]
    assert [t["trial"] for t in trials] == ["0", "1", "2"]
    assert {t["status"] for t in trials} == {"COMPLETED"}
    assert [(folder / "search" / f"trial_{i}" / "trial.json").read_bytes()
            for i in (0, 1)] == done


@pytest.mark.integration
@pytest.mark.slow  # three TensorFlow processes: about a minute on 2 cores
def test_chief_and_two_workers_survive_a_killed_worker(series, tmp_path):
    port, = free_local_ports(1)
    folder = tmp_path / "dir"
    args = tune_args(series, folder, "--max-trials", 4, "--seed", 3, "--worker-timeout", 6)[1:]
    env = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port)}
    logs = {name: tmp_path / f"{name}.log" for name in ("chief", "tuner0", "tuner1")}
    procs = {name: _popen(args, logs[name], {**env, "KERASTUNER_TUNER_ID": name})
             for name in logs}
    try:
        _wait_for(logs["tuner1"], "started", procs["tuner1"], time.monotonic() + 240)
        procs["tuner1"].send_signal(signal.SIGKILL)
        assert procs["chief"].wait(timeout=300) == 0, logs["chief"].read_text()[-2000:]
        assert procs["tuner0"].wait(timeout=60) == 0, logs["tuner0"].read_text()[-2000:]
    finally:
        for process in procs.values():
            if process.poll() is None:
                process.kill()
    assert "worker tuner1 silent" in logs["chief"].read_text()
    trials = results(folder)["trials"]
    assert [t["trial"] for t in trials] == ["0", "1", "2", "3"]
    assert {t["status"] for t in trials} == {"COMPLETED"}
    ended = [l.split()[1] for name in logs for l in logs[name].read_text().splitlines()
             if "COMPLETED" in l]
    assert sorted(ended) == ["1/4", "2/4", "3/4", "4/4"]  # each trial completed once
