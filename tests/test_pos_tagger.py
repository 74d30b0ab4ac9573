"""The tagger end to end through its command line, on small corpora written here."""

import json

import numpy as np
import pytest

from applications.core.base import load_model
from data.errors import InputError
from applications.pos_tagger.commands import TaggerCommands
from applications.pos_tagger.sample_data import generate_sentences, write_two_column
from tests.helpers import (assert_input_error, check_adversarial_loss, check_bad_input_keeps_model,
                           cli, cli_subprocess, error_lines, load_saved_model_without_package)

APP = TaggerCommands()
TINY = ["--set", "word_dim=16", "--set", "char_dim=8", "--set", "encoder.filters=[24]",
        "--set", "char_encoder.filters=[16]", "--set", "learning_rate=0.01", "--batch-size", "16",
        "--set", "ema_momentum=0"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    train, dev = folder / "train.tsv", folder / "dev.tsv"
    write_two_column(generate_sentences(300, seed=11), train)
    write_two_column(generate_sentences(60, seed=12), dev)
    return train, dev


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    train, dev = corpus
    out = tmp_path_factory.mktemp("run") / "tagger"
    code, _, err = cli(APP, "train", "--train", train, "--dev", dev, "--out", out,
                       "--epochs", 3, "--seed", 1, *TINY)
    assert code == 0, err
    return out


@pytest.mark.integration
def test_train_writes_application_directory(trained):
    for name in ("model.keras", "config.json", "metrics.json"):
        assert (trained / name).is_file(), name
    assert any((trained / "logs" / "train").iterdir()), "no TensorBoard events"
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 3 and len(metrics["history"]["val_accuracy"]) == 3
    assert json.loads((trained / "config.json").read_text())["encoder"]["filters"] == [24]


@pytest.mark.integration
def test_evaluate_json_and_predict_agree(trained, corpus):
    _, dev = corpus
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", dev, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {"accuracy", "oov_accuracy", "tokens"}
    assert result["tokens"] == sum(1 for l in dev.read_text().splitlines() if l.strip())
    assert result["accuracy"] > 0.8, result

    # predict on the same gold tokens must reproduce evaluate's accuracy exactly.
    gold = [l.split("\t") for l in dev.read_text().splitlines() if l.strip()]
    conllu = dev.with_suffix(".conllu")
    rows, n = [], 0
    for line in dev.read_text().splitlines():
        if line.strip():
            n += 1
            token, tag = line.split("\t")
            rows.append(f"{n}\t{token}\t_\t{tag}\t_\t_\t0\t_\t_\t_")
        else:
            rows.append("")
            n = 0
    conllu.write_text("\n".join(rows) + "\n")
    code, out, err = cli(APP, "predict", "--model", trained, "--input", conllu)
    assert code == 0, err
    predicted = [l.split("\t") for l in out.splitlines() if l.strip()]
    assert [p[0] for p in predicted] == [g[0] for g in gold]
    hits = sum(p[1] == g[1] for p, g in zip(predicted, gold))
    assert hits / len(gold) == pytest.approx(result["accuracy"])


@pytest.mark.integration
def test_predict_raw_text_and_export_match(trained, tmp_path):
    sentences = ["The old man saw a dog in London.", "She can't find two books !"]
    code, out, err = cli(APP, "predict", "--model", trained, stdin="\n".join(sentences) + "\n")
    assert code == 0, err
    blocks = [b for b in out.strip().split("\n\n")]
    tagged = [[line.split("\t") for line in block.splitlines()] for block in blocks]
    assert [t[0] for t in tagged[0]] == ["The", "old", "man", "saw", "a", "dog", "in", "London", "."]
    assert [t[0] for t in tagged[1]][:4] == ["She", "ca", "n't", "find"]

    export_dir = tmp_path / "export"
    code, _, err = cli(APP, "export", "--model", trained, "--out", export_dir)
    assert code == 0, err
    exported = load_saved_model_without_package(export_dir, (
        f"out = model.signatures['serve'](sentences=tf.constant({sentences!r}))\n"
        "n = out['lengths'].numpy().tolist()\n"
        "print(json.dumps([[t.decode() for t in row[:k]] for row, k in "
        "zip(out['tags'].numpy(), n)]))"))
    assert exported == [[t[1] for t in sent] for sent in tagged]
    # A batch of blank sentences tags to nothing, through the model and the SavedModel.
    import applications

    for path in (trained, export_dir):
        assert applications.load(path).predict(["", " "]) == [[], []]


@pytest.mark.integration
def test_saved_model_cli_runs_the_export(trained, tmp_path):
    import shutil
    import subprocess

    export_dir = tmp_path / "export"
    assert cli(APP, "export", "--model", trained, "--out", export_dir)[0] == 0
    tool = shutil.which("saved_model_cli")
    if tool is None:
        pytest.skip("saved_model_cli not on PATH")
    result = subprocess.run(
        [tool, "run", "--dir", str(export_dir), "--tag_set", "serve", "--signature_def",
         "serve", "--input_exprs", 'sentences=["The dog slept ."]'],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Result for output key tags" in result.stdout


@pytest.mark.integration
def test_rerun_resumes_from_checkpoint(corpus, tmp_path):
    train, dev = corpus
    out = tmp_path / "tagger"
    args = ["train", "--train", train, "--dev", dev, "--out", out, "--seed", 2, *TINY]
    assert cli(APP, *args, "--epochs", 1)[0] == 0
    assert cli(APP, *args, "--epochs", 2)[0] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # The second run trained only epoch 2: it continued, it did not start over.
    assert metrics["epochs_completed"] == 2
    assert len(metrics["history"]["loss"]) == 1


@pytest.mark.integration
def test_default_corpus_and_cli_subprocess(tmp_path):
    out = tmp_path / "tagger"
    result = cli_subprocess("pos_tagger", "train", "--out", out, "--epochs", 1, *TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    result = cli_subprocess("pos_tagger", "evaluate", "--model", out, "--json")
    assert result.returncode == 0 and set(json.loads(result.stdout)) >= {"accuracy", "tokens"}
    bad = cli_subprocess("pos_tagger", "evaluate", "--model", out, "--data", tmp_path / "no.tsv")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == f"error: {tmp_path / 'no.tsv'}: no such file"


BAD_INPUTS = [
    ("wrong_columns.conllu", "1\tThe\tthe\tDET\n", 1),
    ("bad_id.conllu", "1\tA\ta\tDET\tDT\t_\t0\troot\t_\t_\nB\tb\tb\tX\tX\t_\t0\t_\t_\t_\n", 2),
    ("empty.conllu", "", None),
    ("comments.conllu", "# just\n# comments\n", None),
    ("latin1.conllu", b"1\tcaf\xe9\tcafe\tNOUN\tNN\t_\t0\troot\t_\t_\n", 1),
    ("two_col.tsv", "The\tDET\ndog\n", 2),
]


@pytest.mark.integration
@pytest.mark.parametrize("name,content,line", BAD_INPUTS)
def test_bad_training_input_is_one_line_and_leaves_model(trained, tmp_path, name, content, line):
    check_bad_input_keeps_model(APP, trained, tmp_path / name, content, line, TINY)


@pytest.mark.integration
def test_unseen_tag_counts_as_an_error_and_missing_file(trained, corpus, tmp_path):
    _, dev = corpus
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", dev, "--json")
    assert code == 0, err
    known = json.loads(out)
    assert known["unseen_labels"] == 0
    # The dev file plus one sentence whose three tags the model never saw.
    path = tmp_path / "dev.tsv"
    path.write_text(dev.read_text().rstrip("\n") + "\n\nThe\tNEWTAG\ndog\tNEWTAG\n"
                    "barks\tOTHER\n")
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", path, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["unseen_labels"] == 3 and result["tokens"] == known["tokens"] + 3
    # The same tokens right as before; the three new ones all count as wrong.
    assert round(result["accuracy"] * result["tokens"]) == \
        round(known["accuracy"] * known["tokens"])
    assert error_lines(err) == [f"warning: {path}: 3 tokens carry a tag never seen in "
                                "training (NEWTAG, OTHER); counted as errors"], err
    missing = tmp_path / "missing.conllu"
    assert_input_error(APP, ["evaluate", "--model", trained, "--data", missing], missing)
    assert_input_error(APP, ["predict", "--model", tmp_path / "nomodel"], tmp_path / "nomodel")


@pytest.mark.integration
def test_usage_errors_exit_2(trained):
    code, _, err = cli(APP, "train", "--out", trained, "--set", "encoder.cell=transformer")
    assert code == 2 and len(error_lines(err)) == 1 and error_lines(err)[0].startswith("error: ")
    code, _, err = cli(APP, "train", "--out", trained, "--set", "no_such_option=1")
    assert code == 2 and "unknown option" in err
    code, _, err = cli(APP, "train", "--out", trained, *TINY, "--set", "encoder.filters=[8]")
    assert code == 2 and "different encoder" in err
    code, _, err = cli(APP, "frobnicate")
    assert code == 2 and err.startswith("error: ")
    code, _, err = cli(APP, "train", "--out", trained, "--set", "ema_momentum=1.0")
    assert code == 2 and "ema_momentum must be in [0, 1)" in err
    code, _, err = cli(APP, "train", "--out", trained, "--set", "patience=0")
    assert code == 2 and "patience must be 1 or more" in err
    for flags in (["--batch-size", "0"], ["--set", "batch_size=-2"]):
        code, _, err = cli(APP, "train", "--out", trained, *flags)
        assert code == 2 and "batch_size must be 1 or more" in err and "Traceback" not in err
    code, _, err = cli(APP, "train", "--out", trained, "--set", "beta_2=1.0")
    assert code == 2 and "beta_2 must be in [0, 1)" in err
    code, _, err = cli(APP, "train", "--out", trained, "--set", "optimizer=sgd",
                       "--set", "beta_2=0.9")
    assert code == 2 and "beta_2 needs an Adam-family optimizer" in err


@pytest.mark.integration
def test_beta_2_reaches_adam_and_runs_older_than_an_option_resume(corpus, tmp_path):
    from applications.core.train_run import APP_STATE

    train, dev = corpus
    out = tmp_path / "tagger"
    args = ["train", "--train", train, "--dev", dev, "--out", out, "--seed", 4, *TINY]
    assert cli(APP, *args, "--epochs", 1, "--set", "beta_2=0.9")[0] == 0
    assert float(load_model(out).make_optimizer().beta_2) == 0.9
    # Resuming with another beta_2 is refused as a changed option ...
    code, _, err = cli(APP, *args, "--epochs", 2, "--set", "beta_2=0.95")
    assert code == 2 and "different beta_2" in err, err
    # ... but a run saved before an option existed has no such key; resuming it takes the
    # option's default and does not count it as a changed option. (The key is removed from
    # this run's saved state to make it such a run.)
    state = out / "checkpoints" / APP_STATE
    saved = json.loads(state.read_text())
    del saved["config"]["beta_2"]
    state.write_text(json.dumps(saved))
    code, _, err = cli(APP, *args, "--epochs", 2)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 2


@pytest.mark.integration
def test_weight_averaging_saves_the_weights_dev_scored(corpus, tmp_path):
    train, dev = corpus
    weights = {}
    for momentum in (0.0, 0.9):
        out = tmp_path / f"ema{momentum}"
        # After TINY, whose ema_momentum=0 the later --set overrides.
        assert cli(APP, "train", "--train", train, "--dev", dev, "--out", out, "--epochs", 2,
                   "--seed", 3, *TINY, "--set", f"ema_momentum={momentum}",
                   "--set", "patience=5")[0] == 0
        best = json.loads((out / "metrics.json").read_text())["best"]
        code, text, _ = cli(APP, "evaluate", "--model", out, "--data", dev, "--json")
        # The saved model is the one the dev score was measured on: averaged or raw.
        assert code == 0 and json.loads(text)["accuracy"] == pytest.approx(best, abs=1e-6)
        weights[momentum] = load_model(out).get_weights()
    # Same seed, so the same raw trajectory: only the averaging makes the weights differ.
    assert any(not np.allclose(a, b) for a, b in zip(weights[0.0], weights[0.9]))


@pytest.mark.parametrize("char_encoder", [
    {"name": "rnn", "cell": "lstm", "nodes": [8], "bidirectional": True},
    {"name": "cnn", "mode": "1d", "filters": [8], "kernel_sizes": [3]}])
def test_char_vectors_equal_encoding_every_word(char_encoder):
    """Encoding each distinct spelling once (grouped by length) changes no word's vector."""
    import keras

    from applications.pos_tagger.config import TaggerConfig
    from applications.pos_tagger.model import PosTagger
    from data import TaggedSentence, TaggingMetadata

    meta = TaggingMetadata.from_sentences([TaggedSentence(["abcdefghijklmnop"], ["X"], [1])])
    config = TaggerConfig(char_dim=4, char_encoder=char_encoder).to_dict()
    model = PosTagger(config, meta.get_config())
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 17, size=(3, 9))  # 0 = a padding word; 16 = the longest
    lengths[0, :4] = [3, 3, 16, 1]
    chars = np.zeros((3, 9, 16), "int32")
    for (b, t), n in np.ndenumerate(lengths):
        chars[b, t, :n] = rng.integers(2, 5, size=n)  # few letters: repeated spellings
    chars[1, 2] = chars[0, 0]
    fast = model.char_vectors(keras.ops.convert_to_tensor(chars))
    flat = chars.reshape(-1, 16)
    plain = model.char_encoder(model.char_embedding(flat), mask=flat > 0)["pooled"]
    np.testing.assert_allclose(np.asarray(fast).reshape(27, -1), np.asarray(plain), atol=1e-5)


@pytest.mark.integration
def test_adversarial_loss_moves_word_and_char_vectors_uphill(corpus, tmp_path):
    import tensorflow as tf

    from applications.pos_tagger.config import TaggerConfig
    from applications.pos_tagger.model import PosTagger
    from data import TaggedSentence, TaggingMetadata

    meta = TaggingMetadata.from_sentences([TaggedSentence(["ab", "ba", "c"], ["X", "Y", "Z"],
                                                          [1, 2, 3])])
    config = TaggerConfig(word_dim=6, char_dim=4, embedding_dropout=0.0, word_dropout=0.0,
                          char_encoder={"name": "rnn", "cell": "gru", "nodes": [5]},
                          encoder={"name": "rnn", "cell": "gru", "nodes": [7]})
    model = PosTagger(config.to_dict(), meta.get_config())
    model.compile(loss=model.make_loss())
    rng = np.random.default_rng(4)
    words = rng.integers(1, 5, size=(3, 6)).astype("int32")
    words[1, 4:] = words[2, 2:] = 0
    chars = (rng.integers(1, 5, size=(3, 6, 3)) * (words[..., None] > 0)).astype("int32")
    x = {"words": tf.constant(words), "chars": tf.constant(chars)}
    y = tf.constant(rng.integers(0, model.num_tags, size=(3, 6)))

    check_adversarial_loss(model, x, y)

    # And it trains from the command line.
    train, dev = corpus
    out = tmp_path / "adversarial"
    code, _, err = cli(APP, "train", "--train", train, "--dev", dev, "--out", out, "--epochs", 2,
                       "--set", "adversarial_epsilon=0.5", *TINY)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 2


def test_without_dev_a_seeded_tenth_of_the_sentences_is_held_out(tmp_path, capsys):
    from applications.pos_tagger.config import TaggerConfig
    from applications.pos_tagger.pipeline import training_datasets
    from data.sequence_batches import TaggingMetadata

    path = tmp_path / "train.tsv"
    write_two_column(generate_sentences(50, seed=3), path)
    sizes = []
    for _ in range(2):
        meta, train, dev = training_datasets(TaggerConfig(), path)
        sizes.append((sum(int(b[0]["words"].shape[0]) for b in train),
                      sum(int(b[0]["words"].shape[0]) for b in dev)))
    assert sizes == [(45, 5), (45, 5)]
    assert "no --dev: 5 of 50 sentences in train.tsv held out as dev (dev_split=0.1, seed 0)" \
        in capsys.readouterr().err
    config = TaggerConfig()
    config.dev_split = 0.0
    _, train, dev = training_datasets(config, path)
    assert dev is None and sum(int(b[0]["words"].shape[0]) for b in train) == 50
    assert len(TaggingMetadata.from_config(meta).tags) > 2
    # A tag only a held-out sentence has is still a tag (the seed-0 split holds out 4 of 10).
    rare = tmp_path / "rare.tsv"
    sentences = [[("The", "DET"), (f"word{i}", "SYM" if i == 4 else "NOUN")] for i in range(10)]
    rare.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sentences) + "\n")
    meta, _, dev = training_datasets(TaggerConfig(), rare)
    assert "SYM" in TaggingMetadata.from_config(meta).tags.items and dev is not None
    config.dev_split = 0.99
    with pytest.raises(InputError, match="holds out all 10 examples"):
        training_datasets(config, rare)
