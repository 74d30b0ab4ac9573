"""The tabular application end to end through its command line, on tables written here,
and the MLP encoder and optimizer knobs it brought."""

import csv
import gzip
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from applications.core.optimizers import optimizer_options
from applications.core.config import TrainConfig, UsageError, load_config
from applications.tabular.columns import build_metadata, encode_inputs, encode_targets
from applications.tabular.commands import TabularCommands
from applications.tabular.config import TabularConfig
from applications.tabular.model import TabularModel
from applications.tabular.sample_data import sample_paths
from applications.tabular.scoring import classification_scores, roc_auc
from applications.tabular.table import read_table
from encoders.mlp_encoder import MLP_Encoder
from tests.helpers import REPO, assert_input_error, cli, error_lines, run_encoder_test

APP = TabularCommands()
TINY = ["--set", "encoder.nodes=[24]", "--set", "learning_rate=0.01", "--batch-size", "64"]
SHELL_NAMES = "sex,length,weight,colour,rings"


def write_shells(path, count, seed):
    """A headerless abalone-like table: rings (a number) and sex (3 classes) to predict."""
    rng = np.random.default_rng(seed)
    sex = rng.integers(0, 3, count)
    length = rng.uniform(0.1, 0.4, count) + 0.25 * sex
    weight = length ** 3 * 4 + rng.normal(0, 0.02, count)
    rings = np.round(3 + 15 * length + rng.normal(0, 0.5, count))
    lines = [f"{'MFI'[s]}, {l:.3f}, {'?' if i % 17 == 0 else f'{w:.3f}'}, "
             f"{['red', 'grey', 'blue'][i % 3]}, {int(r)}"
             for i, (s, l, w, r) in enumerate(zip(sex, length, weight, rings))]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def two_targets(tmp_path_factory):
    """The embedded sample (spend: a number, churn: yes/no), trained briefly."""
    out = tmp_path_factory.mktemp("run") / "sample"
    code, _, err = cli(APP, "train", "--out", out, "--epochs", 4, "--seed", 1, *TINY)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def one_target(tmp_path_factory):
    """A headerless table (``--names``), one 3-class target."""
    folder = tmp_path_factory.mktemp("shells")
    train = write_shells(folder / "shells.csv", 400, seed=3)
    out = folder / "model"
    code, _, err = cli(APP, "train", "--train", train, "--names", SHELL_NAMES, "--target", "sex",
                       "--ignore", "rings", "--out", out, "--epochs", 8, "--seed", 1, *TINY)
    assert code == 0, err
    return out, train


def test_mlp_encoder_contract_and_options():
    flat = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    run_encoder_test(MLP_Encoder, dict(nodes=[8, 4], activation="leaky relu", l2=1e-4,
                                       dropout=0.2, batch_norm=True), flat,
                     {"sequence": (3, 1, 4), "pooled": (3, 4), "mask": (3, 1)})
    sequences = np.random.default_rng(1).normal(size=(2, 4, 5)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    run_encoder_test(MLP_Encoder, dict(nodes=[6], activation="selu"), sequences,
                     {"sequence": (2, 4, 6), "pooled": (2, 6)}, mask=mask)
    assert MLP_Encoder([4], initializer="he").dense_layers[0].kernel_initializer.__class__ \
        .__name__ == "HeNormal"
    encoder = MLP_Encoder([4], l1=0.1)
    encoder(flat)
    assert len(encoder.losses) == 1 and float(encoder.losses[0]) > 0
    for bad in (dict(nodes=[]), dict(activation="swishy"), dict(initializer="zeros"),
                dict(dropout=1.0)):
        with pytest.raises(ValueError):
            MLP_Encoder(**{"nodes": [4], **bad})


def test_optimizer_knobs_reach_the_optimizer(tmp_path):
    assert optimizer_options(TrainConfig().to_dict()) == {"learning_rate": 1e-3,
                                                          "global_clipnorm": 5.0}
    path = tmp_path / "t.csv"
    path.write_text("x,y\n1,2\n2,3\n3,5\n")
    meta = build_metadata(read_table(path), TabularConfig(targets=["y"],
                                                          tasks={"y": "regression"}))
    cases = [
        (["optimizer=sgd", "momentum=0.9", "nesterov=true"], {"momentum": 0.9, "nesterov": True}),
        (["optimizer=rmsprop", "rho=0.8", "momentum=0.5"], {"rho": 0.8, "momentum": 0.5}),
        (["optimizer=adagrad", "initial_accumulator=0.5"], {"initial_accumulator_value": 0.5}),
        (["optimizer=adamw", "beta_1=0.8", "beta_2=0.99", "weight_decay=0.01"],
         {"beta_1": 0.8, "beta_2": 0.99, "weight_decay": 0.01}),
        # Muon: the betas and weight decay also reach its AdamW half.
        (["optimizer=muon", "beta_2=0.99", "weight_decay=0.1", "momentum=0.9"],
         {"adam_beta_2": 0.99, "weight_decay": 0.1, "adam_weight_decay": 0.1,
          "momentum": 0.9}),
    ]
    for overrides, expected in cases:
        config = load_config(TabularConfig, overrides=overrides)
        optimizer = TabularModel(config.to_dict(), meta).make_optimizer()
        for name, value in expected.items():
            got = getattr(optimizer, name)
            assert (got is value if isinstance(value, bool) else got == pytest.approx(value)), \
                (overrides, name, got)
    for bad in (["momentum=0.9"], ["optimizer=sgd", "rho=0.9"], ["optimizer=sgd",
                                                                   "momentum=1.5"],
                ["learning_rate=0"], ["learning_rate=-1.0"], ["epochs=true"], ["seed=-1"]):
        with pytest.raises(UsageError):
            load_config(TabularConfig, overrides=bad)
    # A whole number given for a float option becomes a float (Keras refuses an int rate).
    config = load_config(TabularConfig, overrides=["learning_rate=1", "momentum=0"])
    assert type(config.learning_rate) is float and type(config.momentum) is float
    assert TabularModel(config.to_dict(), meta).make_optimizer().learning_rate == 1.0


def test_columns_detected_missing_recorded_and_overridable(tmp_path):
    text = ("age, city, zip, score, grade\n34, Oslo, 0101, 2.5, A\n?, Lima, 0202, NA, B\n"
            "51, , 0303, 7.0, A\n28, Oslo, 0404, 1.0, C\n-nan, NULL, #N/A, 3.0, B\n")
    plain = tmp_path / "t.csv"
    plain.write_text(text)
    packed = tmp_path / "t.tsv.gz"
    packed.write_bytes(gzip.compress(text.replace(", ", "\t").encode()))
    for path in (plain, packed):
        meta = build_metadata(read_table(path), TabularConfig(targets=["score", "grade"]))
        kinds = {f["name"]: f["kind"] for f in meta["features"]}
        assert kinds == {"age": "numeric", "city": "categorical", "zip": "numeric"}
        missing = {f["name"]: f["missing"] for f in meta["features"]}
        assert missing == {"age": 2, "city": 2, "zip": 1}  # pandas' spellings of missing
        tasks = {t["name"]: (t["task"], t["loss"], t["missing"]) for t in meta["targets"]}
        assert tasks == {"score": ("regression", "huber", 1),
                         "grade": ("classification", "sce", 0)}
    config = TabularConfig(targets=["grade"], categorical=["zip"], ignore=["score"],
                           tasks={"grade": "classification"}, min_category_count=1)
    meta = build_metadata(read_table(plain), config)
    assert [(f["name"], f["kind"]) for f in meta["features"]] == [
        ("age", "numeric"), ("city", "categorical"), ("zip", "categorical")]
    inputs = encode_inputs(read_table(plain), meta)
    assert np.isnan(inputs["numeric"][1, 0]) and inputs["categorical"][2, 0] == 0  # missing
    assert np.isnan(inputs["numeric"][4, 0]) and inputs["categorical"][4, 0] == 0
    assert encode_targets(read_table(plain), meta)[:, 0].tolist() == [0, 1, 0, 2, 1]
    named = tmp_path / "named.csv"
    named.write_text("1,x,3\n2,y,4\n")
    table = read_table(named, names=["a", "b", "c"])
    assert table.columns == ["a", "b", "c"] and not table.header and len(table) == 2
    with pytest.raises(UsageError):
        build_metadata(read_table(plain), TabularConfig(targets=["nope"]))


def test_scores_by_hand():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    scores = classification_scores([0, 1, 1], np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]]))
    assert scores["accuracy"] == pytest.approx(2 / 3) and scores["auc"] == 1.0
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)


@pytest.mark.integration
def test_two_targets_train_evaluate_and_predict(two_targets, tmp_path):
    metrics = json.loads((two_targets / "metrics.json").read_text())
    assert metrics["monitor"] == "val_loss" and metrics["epochs_completed"] == 4
    code, out, err = cli(APP, "evaluate", "--model", two_targets, "--json")
    assert code == 0, err
    scores = json.loads(out)
    assert set(scores) == {"spend", "churn"}
    assert set(scores["spend"]) == {"rmse", "mae", "r2"}
    assert set(scores["churn"]) == {"accuracy", "macro_f1", "auc"}
    assert scores["spend"]["r2"] > 0.5 and scores["churn"]["auc"] > 0.6, scores

    rows = sample_paths()["dev"]
    text = open(rows).read().splitlines()
    # An unseen city and missing values still get predictions.
    text[1] = "?,25000,Paris,,3,10.0,no"
    new = tmp_path / "new.csv"
    new.write_text("\n".join(text) + "\n")
    code, out, err = cli(APP, "predict", "--model", two_targets, "--input", new,
                         "--probabilities")
    assert code == 0, err
    table = list(csv.reader(io.StringIO(out)))
    assert table[0][-4:] == ["spend_prediction", "churn_prediction", "churn_probability_no",
                             "churn_probability_yes"]
    assert len(table) == len(text) and table[1][:7] == text[1].split(",")
    assert all(r[-3] in ("yes", "no") for r in table[1:])
    np.testing.assert_allclose([float(r[-2]) + float(r[-1]) for r in table[1:]], 1.0, atol=1e-5)

    # The SavedModel serves the same predictions from raw column tensors.
    import tensorflow as tf

    export_dir = tmp_path / "export"
    code, _, err = cli(APP, "export", "--model", two_targets, "--out", export_dir)
    assert code == 0, err
    loaded = tf.saved_model.load(str(export_dir))
    columns = list(zip(*[line.split(",") for line in text[1:6]]))
    served = loaded.signatures["serve"](
        age=tf.constant([float("nan") if v == "?" else float(v) for v in columns[0]]),
        income=tf.constant([float(v) for v in columns[1]]), city=tf.constant(columns[2]),
        plan=tf.constant(columns[3]), visits=tf.constant([float(v) for v in columns[4]]))
    np.testing.assert_allclose(served["spend_prediction"].numpy(),
                               [float(r[-4]) for r in table[1:6]], rtol=1e-5)
    assert [p.decode() for p in served["churn_prediction"].numpy()] == [
        r[-3] for r in table[1:6]]

    # The Python API, on the application and on the SavedModel.
    import applications

    model = TabularModel.load_model(two_targets)
    results = model.predict(str(new))
    assert len(results) == len(text) - 1 and results[0]["churn"]["label"] == table[1][-3]
    exported = applications.load(export_dir).predict(str(new))
    assert [r["churn"]["label"] for r in exported] == [r["churn"]["label"] for r in results]
    np.testing.assert_allclose([r["spend"] for r in exported], [r["spend"] for r in results],
                               rtol=1e-6)
    one = model.predict_rows({"age": 40, "income": 30000, "city": "Oslo", "plan": "pro",
                              "visits": None})
    assert set(one) == {"spend", "churn"} and isinstance(one["spend"], float)


@pytest.mark.integration
def test_one_target_headerless_evaluate_json(one_target):
    out_dir, train = one_target
    code, out, err = cli(APP, "evaluate", "--model", out_dir, "--data", train, "--json")
    assert code == 0, err
    scores = json.loads(out)
    assert set(scores) == {"accuracy", "macro_f1", "auc"} and scores["accuracy"] > 0.4, scores
    code, out, err = cli(APP, "evaluate", "--model", out_dir, "--data", train, "--held-out",
                         "--json")
    assert code == 0, err
    # Rows without the target column (inputs only) are predicted too.
    inputs_only = train.parent / "inputs.csv"
    inputs_only.write_text("0.5, 0.4, red\n0.2, ?, blue\n")
    code, out, err = cli(APP, "predict", "--model", out_dir, "--input", inputs_only)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["length", "weight", "colour", "sex_prediction"] and len(rows) == 3
    assert {row[-1] for row in rows[1:]} <= {"M", "F", "I"}


@pytest.mark.integration
def test_bad_inputs_exit_2_with_one_line(one_target, tmp_path):
    out_dir, train = one_target
    bad = tmp_path / "bad.csv"
    bad.write_text("M, 0.5, 0.4, red, 9\nF, 0.5, heavy, red, 9\n")
    assert_input_error(APP, ["evaluate", "--model", out_dir, "--data", bad], bad, 2)
    assert_input_error(APP, ["predict", "--model", out_dir, "--input", bad], bad, 2)
    bad.write_text("M, 0.5, 0.4, red, 9\nF, 0.5\n")
    assert_input_error(APP, ["predict", "--model", out_dir, "--input", bad], bad, 2)
    bad.write_text("M, 0.5, 0.4, red, 9\nX, 0.5, 0.4, red, 9\n")
    assert_input_error(APP, ["evaluate", "--model", out_dir, "--data", bad], bad, 2)
    bad.write_text("length, weight, colour, sex_prediction\n0.5, 0.4, red, M\n")
    line = assert_input_error(APP, ["predict", "--model", out_dir, "--input", bad], bad)
    assert "already has a column named sex_prediction" in line
    code, _, err = cli(APP, "train", "--train", train, "--names", SHELL_NAMES, "--target",
                       "age", "--out", tmp_path / "never")
    assert code == 2 and len(error_lines(err)) == 1 and "no column named age" in err
    assert not (tmp_path / "never").exists()
    code, _, err = cli(APP, "train", "--train", train, "--names", SHELL_NAMES, "--target",
                       "rings", "--set", "losses.rings=bce", "--out", tmp_path / "never")
    assert code == 2 and "losses.rings" in err
    code, _, err = cli(APP, "train", "--train", train, "--names", SHELL_NAMES, "--target",
                       "rings", "--set", "loss_weights.rings=abc", "--out", tmp_path / "never")
    assert code == 2 and "loss_weights.rings must be a number" in err
    # A quoted field that runs into the next line, a number float32 cannot hold.
    bad.write_text('y,x,note\n1,0.5,"first line\nsecond, part, end"\n0,0.7,plain\n')
    assert_input_error(APP, ["train", "--train", bad, "--out", tmp_path / "never"], bad, 2)
    bad.write_text("y,x\n" + "".join(f"{i % 2},{i}.5\n" for i in range(20)) + "1,1e39\n")
    assert_input_error(APP, ["train", "--train", bad, "--out", tmp_path / "never"], bad, 22)
    assert not (tmp_path / "never").exists()


def test_numbers_are_plain_ascii_numbers():
    from applications.tabular.table import parse_number, split_line

    assert parse_number("18_24") is None and parse_number("\u0661\u0662") is None
    assert parse_number("1e3") == 1000.0 and np.isnan(parse_number("?"))
    assert split_line('a, "b,c" ,d', ",") == ["a", "b,c", "d"]
    assert split_line('a,b"c', ",") == ["a", 'b"c']


@pytest.mark.integration
def test_held_out_rows_rare_classes_tab_output_and_export_keys(tmp_path):
    import tensorflow as tf

    # A class only one row has, and column names TensorFlow would rename alike.
    rows = [f"{i % 7}.5\t{(i * 3) % 5}\t{'rare' if i == 5 else 'ab'[i % 2]}\t5\" {i}"
            for i in range(40)]
    train = tmp_path / "t.tsv"
    train.write_text("a-b\ta_b\tkind\tnote\n" + "\n".join(rows) + "\n")
    for seed in (1, 2):  # whichever rows the seed holds out, the table trains
        out = tmp_path / f"m{seed}"
        code, _, err = cli(APP, "train", "--train", train, "--target", "kind", "--ignore",
                           "note", "--out", out, "--epochs", 1, "--seed", seed, *TINY)
        assert code == 0, err
    meta = TabularModel.load_model(tmp_path / "m1").metadata
    assert meta["targets"][0]["classes"] == ["a", "b", "rare"]
    assert meta["held_out"] == {"fraction": 0.1, "seed": 1, "rows": 40}
    code, out, err = cli(APP, "evaluate", "--model", tmp_path / "m1", "--data", train,
                         "--held-out", "--json")
    assert code == 0, err
    short = tmp_path / "short.tsv"
    short.write_text("\n".join(train.read_text().splitlines()[:30]) + "\n")
    assert_input_error(APP, ["evaluate", "--model", tmp_path / "m1", "--data", short,
                             "--held-out"], short, None)
    code, _, err = cli(APP, "train", "--train", train, "--dev", train, "--target", "kind",
                       "--ignore", "note", "--out", tmp_path / "dev", "--epochs", 1, *TINY)
    assert code == 0, err
    code, _, err = cli(APP, "evaluate", "--model", tmp_path / "dev", "--data", train,
                       "--held-out")
    assert code == 2 and "held no rows out" in err
    # Tab-separated output keeps each field as it was read (no CSV quoting).
    code, out, err = cli(APP, "predict", "--model", tmp_path / "m1", "--input", train)
    assert code == 0, err
    assert out.splitlines()[1].split("\t")[:4] == rows[0].split("\t")
    code, _, err = cli(APP, "export", "--model", tmp_path / "m1", "--out", tmp_path / "export")
    assert code == 0, err
    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serve"]
    assert sorted(serve.structured_input_signature[1]) == ["a_b", "a_b_2"]
    # A rate that makes every loss NaN: no model, and one line that says so.
    code, _, err = cli(APP, "train", "--train", train, "--target", "kind", "--ignore", "note",
                       "--out", tmp_path / "nan", "--epochs", 2, "--set", "optimizer=sgd",
                       "--set", "learning_rate=1e30", "--set", "clipnorm=0", *TINY[:2])
    assert code == 2 and "no epoch scored a finite val_loss" in err, err
    assert not (tmp_path / "nan" / "model.keras").exists()


def test_load_all_data_and_batches_agree(tmp_path):
    from applications.tabular.pipeline import load_all_batches, load_all_data

    path = write_shells(tmp_path / "shells.csv", 50, seed=5)
    config = TabularConfig(names=SHELL_NAMES.split(","), targets=["rings", "sex"])
    meta, x, y = load_all_data(path, config)
    assert x["numeric"].shape == (50, 2) and x["categorical"].shape == (50, 1)
    assert y.shape == (50, 2) and [t["task"] for t in meta["targets"]] == [
        "regression", "classification"]
    batches = list(load_all_batches(path, meta, TabularConfig(batch_size=16)))
    assert [len(b[1]) for b in batches] == [16, 16, 16, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    np.testing.assert_array_equal(np.concatenate([b[0]["numeric"] for b in batches]),
                                  x["numeric"])


@pytest.mark.integration
def test_predict_into_a_closed_pipe_ends_quietly(one_target):
    """``predict ... | head`` as a shell runs it: the reader is gone before the first row."""
    out_dir, train = one_target
    process = subprocess.Popen(
        [sys.executable, "-m", "applications.tabular", "predict", "--model", str(out_dir),
         "--input", str(train), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "error" not in err, err
