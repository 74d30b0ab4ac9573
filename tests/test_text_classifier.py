"""The text classifier end to end through its command line, on small tables written here."""

import gzip
import json

import numpy as np
import pytest

from applications.core.config import UsageError
from applications.text_classifier.commands import ClassifierCommands
from applications.text_classifier.ensemble import build_ensemble
from applications.text_classifier.sample_data import (generate_reviews, generate_toxic_comments,
                                                      write_csv)
from applications.text_classifier.scoring import classification_scores, roc_auc
from data.errors import InputError
from data.text_table import read_text_table
from tests.helpers import (assert_input_error, check_adversarial_loss, check_bad_input_keeps_model,
                           check_ensemble_verb_refusals, cli, cli_subprocess, error_lines,
                           load_saved_model_without_package)

APP = ClassifierCommands()
TINY = ["--set", "embedding_dim=16",
        "--set", 'encoder={"name": "cnn", "preset": "text", "filters": [16]}',
        "--set", "learning_rate=0.01", "--batch-size", "16", "--set", "ema_momentum=0"]
TINY_RNN = ["--set", "embedding_dim=16", "--set",
            'encoder={"name": "rnn", "cell": "gru", "nodes": [12]}',
            "--set", "learning_rate=0.02", "--batch-size", "16"]
TOXIC_HEADER = ["comment_text", "toxic", "obscene", "insult"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reviews")
    train, dev = folder / "train.csv", folder / "dev.csv"
    write_csv(generate_reviews(240, seed=11), ["text", "label"], train)
    write_csv(generate_reviews(60, seed=12), ["text", "label"], dev)
    return train, dev


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    train, dev = corpus
    out = tmp_path_factory.mktemp("run") / "classifier"
    code, _, err = cli(APP, "train", "--train", train, "--dev", dev, "--out", out,
                       "--epochs", 3, "--seed", 1, *TINY)
    assert code == 0, err
    return out


def _read_predictions(text):
    rows = [line.split("\t") for line in text.strip().splitlines()]
    return rows[0], rows[1:]


@pytest.mark.integration
def test_train_writes_application_directory(trained):
    for name in ("model.keras", "config.json", "metrics.json"):
        assert (trained / name).is_file(), name
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["monitor"] == "val_accuracy" and metrics["epochs_completed"] == 3
    assert json.loads((trained / "config.json").read_text())["encoder"]["filters"] == [16]


@pytest.mark.integration
def test_evaluate_json_and_predict_agree(trained, corpus):
    _, dev = corpus
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", dev, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "binary" and result["examples"] == 60
    assert result["accuracy"] > 0.8 and 0.0 < result["macro_f1"] <= 1.0, result

    code, out, err = cli(APP, "predict", "--model", trained, "--input", dev)
    assert code == 0, err
    header, rows = _read_predictions(out)
    assert header == ["predicted", "negative", "positive"]
    gold = [label for _, label in generate_reviews(60, seed=12)]
    hits = sum(row[0] == label for row, label in zip(rows, gold))
    assert hits / len(gold) == pytest.approx(result["accuracy"])


@pytest.mark.integration
def test_predict_and_export_agree(trained, tmp_path):
    texts = ["A truly wonderful film , from start to finish .", "The plot was dull and boring",
             "Ünïcode wörds <br /> don't break it!"]
    # A blank line gets an empty row, so each row stands on its input line.
    code, out, err = cli(APP, "predict", "--model", trained,
                         stdin="\n".join([texts[0], "", texts[1], "   ", texts[2]]) + "\n")
    assert code == 0, err
    header, rows = _read_predictions(out)
    assert [r[0] for r in rows] == ["positive", "", "negative", "", rows[4][0]]
    assert rows[1] == rows[3] == [""] * len(header)
    rows = [rows[0], rows[2], rows[4]]
    # Nothing at all to classify is one line naming standard input as its reader does.
    code, empty, err = cli(APP, "predict", "--model", trained, stdin="")
    assert code == 2 and empty == "" and error_lines(err) == [
        "error: <stdin>: no texts to classify"], err
    probabilities = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)

    export_dir = tmp_path / "export"
    code, _, err = cli(APP, "export", "--model", trained, "--out", export_dir)
    assert code == 0, err
    exported = load_saved_model_without_package(export_dir, (
        f"out = model.signatures['serve'](texts=tf.constant({texts!r}))\n"
        "print(json.dumps({'p': out['probabilities'].numpy().tolist(),\n"
        "  'names': [n.decode() for n in out['label_names'].numpy()[0]],\n"
        "  'predicted': [p.decode() for p in out['predicted'].numpy()]}))"))
    assert exported["names"] == header[1:]
    assert exported["predicted"] == [r[0] for r in rows]
    np.testing.assert_allclose(exported["p"], probabilities, atol=2e-6)


@pytest.mark.integration
def test_mc_dropout_reports_mean_and_spread(trained):
    code, out, err = cli(APP, "predict", "--model", trained, "--mc-samples", 8,
                         stdin="the film is quite dull overall .\nwhat a charming story\n")
    assert code == 0, err
    header, rows = _read_predictions(out)
    assert header == ["predicted", "negative", "positive", "std(negative)", "std(positive)"]
    values = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(values[:, :2].sum(axis=1), 1.0, atol=1e-5)
    assert (values[:, 2:] >= 0).all() and values[:, 2:].max() > 0, "dropout was not on"


@pytest.fixture(scope="module")
def members(trained, corpus, tmp_path_factory):
    """``trained`` and a second classifier that differs from it only by its seed."""
    train, dev = corpus
    out = tmp_path_factory.mktemp("member") / "seed2"
    code, _, err = cli(APP, "train", "--train", train, "--dev", dev, "--out", out,
                       "--epochs", 3, "--seed", 2, *TINY)
    assert code == 0, err
    return [trained, out]


@pytest.mark.integration
def test_ensemble_predicts_with_the_members_mean_logit(members, corpus, tmp_path):
    from applications.core.base import load_model

    _, dev = corpus
    dirs = members
    out = tmp_path / "both"
    code, _, err = cli(APP, "ensemble", "--models", *dirs, "--out", out)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["ensemble_size"] == 2
    assert len(json.loads((out / "ensemble.json").read_text())["members"]) == 2

    ensemble, singles = load_model(out), [load_model(d) for d in dirs]
    ids = np.random.default_rng(0).integers(1, 40, size=(5, 9)).astype("int32")
    logits = [np.asarray(m(ids)) for m in singles]
    assert np.abs(logits[0] - logits[1]).max() > 1e-3  # the members do differ
    np.testing.assert_allclose(np.asarray(ensemble(ids)), (logits[0] + logits[1]) / 2,
                               atol=1e-5)

    # The shared verbs work on it unchanged.
    code, text, err = cli(APP, "evaluate", "--model", out, "--data", dev, "--json")
    assert code == 0, err
    assert json.loads(text)["examples"] == 60
    code, text, err = cli(APP, "predict", "--model", out, stdin="a wonderful film\n")
    assert code == 0 and len(text.strip().splitlines()) == 2, err


@pytest.mark.integration
def test_ensemble_refuses_bad_members(members, tmp_path):
    from applications.core.base import load_model
    from applications.text_classifier.model import TextClassifier

    dirs = members
    check_ensemble_verb_refusals(APP, dirs, tmp_path)

    first = load_model(dirs[0])
    words = first.metadata["words"]
    other_vocab = dict(first.metadata, words=dict(words, items=words["items"][:-1]))
    with pytest.raises(UsageError, match="different vocabulary"):
        build_ensemble([first, TextClassifier(first.config, other_vocab)])
    wider = TextClassifier(dict(first.config, embedding_dim=8), first.metadata)
    with pytest.raises(UsageError, match="embedding_dim differs"):
        build_ensemble([first, wider])
    pair = build_ensemble([first, load_model(dirs[1])])
    with pytest.raises(UsageError, match="already an ensemble"):
        build_ensemble([pair, first])


def test_adversarial_loss_moves_word_vectors_uphill_by_epsilon():
    import tensorflow as tf

    from applications.text_classifier.config import ClassifierConfig
    from applications.text_classifier.model import TextClassifier
    from applications.text_classifier.pipeline import TextMetadata
    from data import Vocabulary

    meta = TextMetadata(Vocabulary([f"w{i}" for i in range(30)]), ["neg", "pos"], "binary",
                        "text", ["label"], 50)
    config = ClassifierConfig(embedding_dim=8, dropout=0.0, embedding_dropout=0.0,
                              encoder={"name": "rnn", "cell": "gru", "nodes": [6]})
    model = TextClassifier(config.to_dict(), meta.get_config())
    model.compile(loss=model.make_loss())
    ids = np.random.default_rng(3).integers(1, 30, size=(4, 7))
    ids[1, 5:] = ids[2, 3:] = 0
    x, y = tf.constant(ids, tf.int32), tf.constant([[0.0], [1.0], [1.0], [0.0]])
    check_adversarial_loss(model, x, y)


@pytest.mark.integration
def test_adversarial_training_from_the_command_line(corpus, tmp_path):
    train, dev = corpus
    out = tmp_path / "adversarial"
    code, _, err = cli(APP, "train", "--train", train, "--dev", dev, "--out", out,
                       "--epochs", 3, "--seed", 1, "--set", "adversarial_epsilon=0.5", *TINY)
    assert code == 0, err
    code, text, err = cli(APP, "evaluate", "--model", out, "--data", dev, "--json")
    assert code == 0, err
    assert json.loads(text)["accuracy"] > 0.7
    code, _, err = cli(APP, "train", "--train", train, "--out", tmp_path / "bad",
                       "--set", "adversarial_epsilon=-1")
    assert code == 2 and "adversarial_epsilon must be 0 or more" in err
    assert not (tmp_path / "bad" / "model.keras").exists()


def test_roc_auc_matches_hand_computed_values():
    # Positives score 0.35 and 0.8, negatives 0.1 and 0.4: 3 of 4 pairs ordered -> 0.75.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # A tie between a positive and a negative counts one half: (1 + 1 + 0.5 + 1) / 4.
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1]) == pytest.approx(0.875)
    assert roc_auc([1, 1], [0.2, 0.3]) is None
    truth = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    probs = np.array([[0.9, 0.2], [0.6, 0.1], [0.4, 0.7], [0.3, 0.8]])
    scores = classification_scores("multilabel", probs, truth, ["a", "b"])
    # Column a: positives 0.9, 0.4 vs negatives 0.6, 0.3 -> 3/4; column b separates -> 1.
    assert scores["auc"] == {"a": pytest.approx(0.75), "b": pytest.approx(1.0)}
    assert scores["mean_auc"] == pytest.approx(0.875)
    assert scores["accuracy"] == pytest.approx(6 / 8) and scores["exact_match"] == 0.5
    # F1: a has tp 1, fp 1, fn 1 -> 0.5; b has tp 2 -> 1.
    assert scores["macro_f1"] == pytest.approx(0.75)


@pytest.mark.integration
def test_multilabel_rnn_on_gzipped_toxic_comments(tmp_path):
    train, dev = tmp_path / "train.csv", tmp_path / "dev.csv"
    write_csv(generate_toxic_comments(240, seed=3), TOXIC_HEADER, train)
    write_csv(generate_toxic_comments(80, seed=4), TOXIC_HEADER, dev)
    packed = tmp_path / "train.csv.gz"
    packed.write_bytes(gzip.compress(train.read_bytes()))
    out = tmp_path / "toxic"
    code, _, err = cli(APP, "train", "--train", packed, "--dev", dev, "--out", out,
                       "--epochs", 4, "--seed", 3, *TINY_RNN)
    assert code == 0, err
    code, text, err = cli(APP, "evaluate", "--model", out, "--data", dev, "--json")
    assert code == 0, err
    result = json.loads(text)
    assert result["task"] == "multilabel" and set(result["auc"]) == set(TOXIC_HEADER[1:])

    # The reported AUC equals the pairwise definition computed from predict's probabilities.
    code, text, err = cli(APP, "predict", "--model", out, "--input", dev)
    assert code == 0, err
    header, rows = _read_predictions(text)
    assert header[1:] == TOXIC_HEADER[1:]
    probs = np.array([[float(v) for v in row[1:]] for row in rows])
    truth = np.array([row[1:] for row in generate_toxic_comments(80, seed=4)])
    for k, name in enumerate(TOXIC_HEADER[1:]):
        pos, neg = probs[truth[:, k] == 1, k], probs[truth[:, k] == 0, k]
        pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        assert result["auc"][name] == pytest.approx(pairs.mean(), abs=1e-4)
    assert result["mean_auc"] > 0.6, result


@pytest.mark.integration
def test_multiclass_tsv_with_named_columns_and_held_out_dev(tmp_path):
    rng = np.random.default_rng(0)
    topics = {"sport": "goal match team score", "food": "soup bread taste dinner",
              "tech": "laptop code phone screen"}
    lines = ["id\tbody\ttopic"]
    for i in range(150):
        topic = list(topics)[i % 3]
        words = rng.choice(topics[topic].split(), 3).tolist() + ["the", "a", "\"quoted\""]
        lines.append(f"{i}\t{' '.join(rng.permutation(words))}\t{topic}")
    path = tmp_path / "topics.tsv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "topics"
    code, _, err = cli(APP, "train", "--train", path, "--out", out, "--text-column", "body",
                       "--label-columns", "topic", "--set", "dev_split=0.2", "--epochs", 3,
                       *TINY)
    assert code == 0, err
    assert "no --dev: 30 of 150 texts in topics.tsv held out as dev (dev_split=0.2" in err, err
    code, text, err = cli(APP, "evaluate", "--model", out, "--data", path, "--held-out",
                          "--json")
    assert code == 0, err
    result = json.loads(text)
    assert result["task"] == "multiclass" and result["examples"] == 30
    assert result["accuracy"] > 0.7, result
    for extra, message in ((["--label-columns", "body"], "both the text and a label"),
                           (["--set", "max_length=0"], "max_length must be 1 or more"),
                           (["--set", "max_length=true"], "must be int, not True")):
        code, _, err = cli(APP, "train", "--train", path, "--out", tmp_path / "never",
                           "--text-column", "body", "--label-columns", "topic", *extra)
        assert code == 2 and message in err, err
    assert not (tmp_path / "never").exists()



def test_a_label_only_held_out_rows_have_is_still_a_label(tmp_path):
    rare = int(np.random.default_rng(0).permutation(40)[0])  # held out by seed 0
    path = tmp_path / "labels.tsv"
    path.write_text("text\tlabel\n" + "".join(
        f"word{i} other\t{'rare' if i == rare else ('even', 'odd')[i % 2]}\n"
        for i in range(40)))
    out = tmp_path / "run"
    code, _, err = cli(APP, "train", "--train", path, "--out", out, "--epochs", 1, *TINY)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["dev_split"] > 0
    code, text, err = cli(APP, "evaluate", "--model", out, "--data", path, "--json")
    assert code == 0, err
    assert json.loads(text)["task"] == "multiclass"


def test_a_file_too_small_to_hold_anything_out_trains_without_dev(tmp_path):
    path = tmp_path / "four.csv"  # dev_split 0.1 of 4 rows rounds to none
    path.write_text("text,label\ngood day,pos\nbad day,neg\nnice one,pos\nawful one,neg\n")
    out = tmp_path / "run"
    code, _, err = cli(APP, "train", "--train", path, "--out", out, "--epochs", 1, *TINY)
    assert code == 0, err
    assert (out / "model.keras").is_file()
    code, _, err = cli(APP, "evaluate", "--model", out, "--data", path, "--held-out")
    assert code == 2 and error_lines(err) == [
        f"error: {path}: --held-out: a share of 0.1 holds out no example of 4"], err


def test_an_id_column_named_as_the_label_is_refused(tmp_path):
    path = tmp_path / "comments.csv"
    path.write_text("id,comment_text,toxic\n" + "".join(
        f"c{i},word{i} other,{i % 2}\n" for i in range(12)))
    out = tmp_path / "run"
    line = assert_input_error(APP, ["train", "--train", path, "--label-columns", "id",
                                    "--out", out, *TINY], path)
    assert "has a different value on each of its 12 rows" in line
    assert not out.exists()
    code, _, err = cli(APP, "train", "--train", path, "--label-columns", "toxic", "--out", out,
                       "--epochs", 1, *TINY)
    assert code == 0, err


@pytest.mark.integration
def test_held_out_refused_after_a_dev_file(trained, corpus):
    # Trained with --dev: nothing of --train was held out, so there is nothing to score.
    assert json.loads((trained / "config.json").read_text())["dev_split"] == 0.0
    code, _, err = cli(APP, "evaluate", "--model", trained, "--data", corpus[0], "--held-out")
    assert code == 2 and "held nothing out" in err, err


def test_text_table_reader_lines_and_detection(tmp_path):
    path = tmp_path / "jigsaw.csv"
    path.write_text('id,comment_text,toxic,insult\n1,"two\nlines, quoted",0,1\n2,plain,1,0\n')
    table = read_text_table(path)
    assert table.text_column == "comment_text" and table.label_columns == ["toxic", "insult"]
    assert table.texts == ["two\nlines, quoted", "plain"] and table.lines == [2, 4]
    imdb = tmp_path / "imdb.csv"
    imdb.write_text("id,rating,label,text\n0,3,0,bad\n")
    assert read_text_table(imdb).label_columns == ["label"]
    with pytest.raises(InputError, match="no column named 'nope'"):
        read_text_table(path, label_columns=["nope"])


BAD_TABLES = [
    ("ragged.csv", "text,label\nfine film,positive\ntoo,many,fields\n", 3),
    ("missing_column.csv", "review_text,label\nfine,positive\n", 1),
    ("empty_text.csv", "text,label\nfine,positive\n  ,negative\n", 3),
    ("latin1.csv", b"text,label\nfine,positive\ncaf\xe9,negative\n", 3),
    ("no_rows.csv", "text,label\n", None),
    ("empty.csv", "", None),
]


@pytest.mark.integration
@pytest.mark.parametrize("name,content,line", BAD_TABLES)
def test_bad_input_is_one_line_and_leaves_model(trained, tmp_path, name, content, line):
    check_bad_input_keeps_model(APP, trained, tmp_path / name, content, line, TINY)


@pytest.mark.integration
def test_unseen_label_counts_as_an_error_and_missing_model(trained, corpus, tmp_path):
    _, dev = corpus
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", dev, "--json")
    assert code == 0, err
    known = json.loads(out)
    assert known["unseen_labels"] == 0
    path = tmp_path / "dev.csv"
    path.write_text(dev.read_text().rstrip("\n") + "\na fine film,mixed\na dull film,mixed\n")
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", path, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["unseen_labels"] == 2 and result["examples"] == known["examples"] + 2
    assert round(result["accuracy"] * result["examples"]) == \
        round(known["accuracy"] * known["examples"])
    assert error_lines(err) == [f"warning: {path}: 2 texts carry a label never seen in "
                                "training (mixed); counted as errors"], err
    # A training file still refuses a label outside the run's label set.
    bad = tmp_path / "train.csv"
    bad.write_text("text,label\na fine film,positive\na dull film,mixed\n")
    message = assert_input_error(APP, ["train", "--train", bad, "--out", trained, *TINY], bad, 3)
    assert message.startswith(f"error: {bad}:3:2: label 'mixed' was never seen")
    assert_input_error(APP, ["predict", "--model", tmp_path / "nomodel"], tmp_path / "nomodel")
    code, _, err = cli(APP, "train", "--out", tmp_path / "x", "--set", "encoder.name=no_such")
    assert code == 2 and len(error_lines(err)) == 1 and error_lines(err)[0].startswith("error: ")
    assert "unknown encoder 'no_such'" in err


@pytest.mark.integration
def test_default_data_through_a_subprocess(tmp_path):
    out = tmp_path / "classifier"
    result = cli_subprocess("text_classifier", "train", "--out", out, "--epochs", 1, *TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    result = cli_subprocess("text_classifier", "evaluate", "--model", out, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(json.loads(result.stdout)) >= {"accuracy", "macro_f1", "examples"}
