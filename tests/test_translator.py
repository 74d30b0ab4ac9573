"""The translator end to end through its command line, on tiny copy / reverse tasks."""

import json
import random

import numpy as np
import pytest
import tensorflow as tf

from applications.core.base import load_model
from applications.core.training_state import save_model_atomically
from encoders import search
from applications.translator.commands import TranslatorCommands
from applications.translator.config import TranslatorConfig
from applications.translator.model import SmoothedCrossentropy, Translator
from applications.translator.pipeline import TranslationMetadata
from applications.translator.text import detokenize, tokenize
from data import Vocabulary
from data.errors import InputError
from data.parallel_text import read_parallel_files, read_tab_pairs
from tests.helpers import (assert_input_error, check_bad_input_keeps_model, cli, cli_subprocess,
                           error_lines, load_saved_model_without_package)

APP = TranslatorCommands()
LETTERS = "a b c d e f g h".split()
TINY = ["--batch-size", 32, "--set", "embedding_dim=32", "--set", "encoder.nodes=[32]",
        "--set", "decoder_units=64", "--set", "output_dim=32", "--set", "attention_units=32",
        "--set", "dropout=0", "--set", "learning_rate=0.01", "--set", "min_count=1",
        "--set", "patience=30"]


def letter_pairs(count, seed, reverse):
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        words = [rng.choice(LETTERS) for _ in range(rng.randint(3, 7))]
        pairs.append((" ".join(words), " ".join(reversed(words) if reverse else words)))
    return pairs


def write_tsv(path, pairs):
    path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    return path


@pytest.fixture(scope="module")
def reverse_task(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reverse")
    # The files hold target<TAB>source, so training needs --reverse.
    train = write_tsv(folder / "train.tsv", [(b, a) for a, b in letter_pairs(640, 1, True)])
    dev = write_tsv(folder / "dev.tsv", [(b, a) for a, b in letter_pairs(60, 2, True)])
    return train, dev


@pytest.fixture(scope="module")
def trained(reverse_task, tmp_path_factory):
    """Luong (general score) attention learns to reverse letter strings: 12 x 20 steps."""
    train, dev = reverse_task
    out = tmp_path_factory.mktemp("run") / "luong"
    code, _, err = cli(APP, "train", "--train", train, "--dev", dev, "--reverse", "--out", out,
                       "--epochs", 12, "--seed", 1, "--set", "beam_size=3", *TINY)
    assert code == 0, err
    return out


@pytest.mark.integration
def test_reverse_task_is_learned(trained, reverse_task):
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", reverse_task[1],
                         "--beam", 1, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["sentences"] == 60 and result["beam_size"] == 1
    assert result["exact_match"] >= 0.9 and result["bleu"] > 90, result
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["epochs_completed"] == 12 and metrics["monitor"] == "val_loss"
    assert json.loads((trained / "config.json").read_text())["reverse"] is True


@pytest.mark.integration
def test_bahdanau_learns_to_copy_from_parallel_files(tmp_path):
    files = {}
    for name, pairs in (("train", letter_pairs(480, 3, False)), ("dev", letter_pairs(40, 4, False))):
        for side, column in (("src", 0), ("tgt", 1)):
            files[name, side] = tmp_path / f"{name}.{side}"
            files[name, side].write_text("".join(p[column] + "\n" for p in pairs))
    out = tmp_path / "bahdanau"
    code, _, err = cli(APP, "train", "--train-src", files["train", "src"], "--train-tgt",
                       files["train", "tgt"], "--dev-src", files["dev", "src"], "--dev-tgt",
                       files["dev", "tgt"], "--out", out, "--epochs", 10, "--seed", 2,
                       "--set", "attention=bahdanau", "--set", "beam_size=1", *TINY)
    assert code == 0, err
    code, text, err = cli(APP, "evaluate", "--model", out, "--data-src", files["dev", "src"],
                          "--data-tgt", files["dev", "tgt"], "--json")
    assert code == 0, err
    assert json.loads(text)["exact_match"] >= 0.85, text


def tiny_model(attention, score="general", dropout=0.0, ratio=0.0, units=16, cell="gru",
               tie=True):
    meta = TranslationMetadata(Vocabulary(LETTERS), Vocabulary(["<s>", "</s>", *LETTERS]),
                               True, False)
    config = TranslatorConfig(attention=attention, score=score, embedding_dim=8,
                              decoder_units=units, attention_units=8,
                              output_dim=8 if tie else 12, tie_embeddings=tie,
                              dropout=dropout, scheduled_sampling=ratio,
                              encoder={"name": "rnn", "cell": cell, "nodes": [8]})
    return Translator(config.to_dict(), meta.get_config())


SOURCE = np.array([[2, 3, 4, 5, 0], [6, 7, 0, 0, 0], [3, 0, 0, 0, 0]], np.int32)
TARGET_IN = np.array([[2, 5, 4, 3, 9], [2, 7, 6, 0, 0], [2, 3, 8, 0, 0]], np.int32)


@pytest.mark.parametrize("attention,score,cell,tie", [("luong", "general", "gru", True),
                                                      ("luong", "dot", "lstm", False),
                                                      ("bahdanau", "general", "gru", False)])
def test_teacher_forcing_equals_step_by_step_decoding(attention, score, cell, tie):
    model = tiny_model(attention, score, cell=cell, tie=tie)
    logits = np.asarray(model({"source": SOURCE, "target_in": TARGET_IN}))
    memory = model.encode(SOURCE)
    state, steps = memory["state"], []
    for t in range(TARGET_IN.shape[1]):
        step_logits, state, weights = model.decoder.step(TARGET_IN[:, t], state, memory)
        steps.append(np.asarray(step_logits))
        np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, atol=1e-5)
        assert np.all(np.asarray(weights)[SOURCE == 0] == 0.0)
    np.testing.assert_allclose(np.stack(steps, 1), logits, atol=1e-5)
    sampled = model.decoder.scheduled_sampling(TARGET_IN, memory, 0.0, training=False)
    np.testing.assert_allclose(np.asarray(sampled), logits, atol=1e-5)


def test_scheduled_sampling_runs_inside_the_shared_train_step():
    model = tiny_model("bahdanau", ratio=1.0, dropout=0.2)  # dropout inside the loop too
    model.compile_for_training(jit_compile=False)
    batch = ({"source": SOURCE, "target_in": TARGET_IN}, TARGET_IN,
             (TARGET_IN > 0).astype("float32"))
    model.build_from_batch(batch)  # as Application.train does before fit
    before = [np.array(v) for v in model.get_weights()]
    loss = model.train_on_batch(*batch, return_dict=True)["loss"]
    assert np.isfinite(loss)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    # With every step fed its own guess, the logits no longer follow the reference inputs.
    model = tiny_model("luong", ratio=1.0)
    fed = np.asarray(model({"source": SOURCE, "target_in": TARGET_IN}, training=True))
    forced = np.asarray(model({"source": SOURCE, "target_in": TARGET_IN}, training=False))
    assert not np.allclose(fed[:, 1:], forced[:, 1:])


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])
def test_beam_one_equals_greedy_and_saved_model_reloads(attention, tmp_path):
    model = tiny_model(attention)
    inputs = {"source": SOURCE, "target_in": TARGET_IN}
    expected = np.asarray(model(inputs))
    greedy = search.greedy_decode(model, tf.constant(SOURCE), alpha=0.6)
    beam = search.beam_decode(model, tf.constant(SOURCE), 1, alpha=0.6)
    for a, b in zip(greedy, beam):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    wide = search.beam_decode(model, tf.constant(SOURCE), 4, alpha=0.6)
    assert wide[0].shape[0] == 3 and np.all(np.isfinite(np.asarray(wide[2])))

    save_model_atomically(model, tmp_path / "model.keras")
    restored = load_model(tmp_path)
    np.testing.assert_allclose(np.asarray(restored(inputs)), expected, atol=1e-6)


@pytest.mark.integration
def test_held_out_refused_after_a_dev_file(trained, reverse_task):
    assert json.loads((trained / "config.json").read_text())["dev_split"] == 0.0
    code, _, err = cli(APP, "evaluate", "--model", trained, "--data", reverse_task[0],
                       "--reverse", "--held-out")
    assert code == 2 and "held nothing out" in err, err


@pytest.mark.integration
def test_beam_one_equals_greedy_on_the_trained_model(trained, reverse_task):
    sources = [line.split("\t")[1] for line in reverse_task[1].read_text().splitlines()]
    model = load_model(trained)
    ids = model.serving_module().source_ids(tf.constant(sources))
    greedy, beam = search.greedy_decode(model, ids), search.beam_decode(model, ids, 1)
    np.testing.assert_array_equal(np.asarray(greedy[0]), np.asarray(beam[0]))
    np.testing.assert_allclose(np.asarray(greedy[2]), np.asarray(beam[2]), atol=1e-5)


@pytest.mark.integration
def test_translate_keeps_order_and_lines_and_plots(trained, tmp_path):
    lines = ["a b c d", "", "h g f e d", "b a c"]
    code, out, err = cli(APP, "translate", "--model", trained, "--plot", tmp_path / "plots",
                         "--beam", 1, stdin="\n".join(lines) + "\n")
    assert code == 0, err
    assert out.splitlines() == ["d c b a", "", "d e f g h", "c a b"]
    pngs = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pngs == ["0001.png", "0003.png", "0004.png"]
    assert (tmp_path / "plots" / "0003.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A file where the plot folder would go: one line before any work, the file kept.
    (tmp_path / "taken").write_text("precious")
    code, out, err = cli(APP, "translate", "--model", trained, "--plot", tmp_path / "taken",
                         stdin="a b\n")
    assert code == 2 and out == "" and error_lines(err) == [
        f"error: {tmp_path / 'taken'}: --plot must name a folder; this is a file (nothing was "
        "changed)"], err
    assert (tmp_path / "taken").read_text() == "precious"


@pytest.mark.integration
@pytest.mark.parametrize("verb", ["predict", "translate"])
def test_an_empty_input_is_one_line(trained, tmp_path, verb):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    line = assert_input_error(APP, [verb, "--model", trained, "--input", empty], empty)
    assert line.endswith("no sentences to translate (the input is empty)"), line
    code, out, err = cli(APP, verb, "--model", trained, stdin="")
    assert code == 2 and out == "" and error_lines(err) == [
        "error: <stdin>: no sentences to translate (the input is empty)"], err


@pytest.mark.integration
def test_export_equals_translate(trained, tmp_path):
    sentences = ["a b c", "h h g", "c d e f g", "b a d c"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(sentences) + "\n")
    code, out, err = cli(APP, "translate", "--model", trained, "--input", source)
    assert code == 0, err
    translated = out.splitlines()
    assert sum(t == " ".join(s.split()[::-1]) for s, t in zip(sentences, translated)) >= 3
    export_dir = tmp_path / "export"
    code, _, err = cli(APP, "export", "--model", trained, "--out", export_dir)
    assert code == 0, err
    exported = load_saved_model_without_package(export_dir, (
        f"s = tf.constant({sentences!r})\n"
        "serve = model.signatures['serve'](sentences=s)['translations']\n"
        "beam = model.translate(s, tf.constant(3), tf.constant(1.0))['translations']\n"
        "print(json.dumps([[t.decode() for t in serve.numpy()],\n"
        "                  [t.decode() for t in beam.numpy()]]))"))
    # serve decodes with the model's beam_size (3) and length penalty (1.0), as translate does.
    assert exported[0] == translated and exported[1] == translated


def test_tokenize_and_detokenize_round_trip():
    text = ["Don't stop, it's ¿raining? A man's red-haired dog (big) runs...", ""]
    tokens = tokenize(tf.constant(text))
    assert tokens.to_list()[0][:6] == [b"Do", b"n't", b"stop", b",", b"it", b"'s"]
    assert [t.decode() for t in detokenize(tokens).numpy()] == text
    assert tokenize(tf.constant(["ÜBER Straße"]), lowercase=True).to_list() == \
        [[b"\xc3\xbcber", b"stra\xc3\x9fe"]]


def test_smoothed_loss_matches_the_smoothed_target_distribution():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5)).astype("float32")
    labels = np.array([[1, 4, 0], [2, 2, 3]])
    weights = np.array([[1, 1, 0], [1, 1, 1]], "float32")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    target = 0.1 / 5 + 0.9 * np.eye(5)[labels]
    per_token = -(target * log_probs).sum(-1)
    expected = (per_token * weights).sum() / weights.sum()
    loss = SmoothedCrossentropy(0.1)(labels, logits, sample_weight=weights)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_readers(tmp_path):
    path = tmp_path / "spa.txt"
    path.write_bytes("\ufeffGo.\tVe.\tCC-BY 2.0 (France)\r\n\r\nHi.\tHola.\r\n".encode())
    corpus = read_tab_pairs(path)
    assert corpus.sources == ["Go.", "Hi."] and corpus.targets == ["Ve.", "Hola."]
    assert corpus.lines == [1, 3]
    assert read_tab_pairs(path, reverse=True).sources == ["Ve.", "Hola."]
    (tmp_path / "a.de").write_text("Ein Hund.\n\nZwei.\n")
    (tmp_path / "a.en").write_text("A dog.\n\nTwo.\n")
    corpus = read_parallel_files(tmp_path / "a.de", tmp_path / "a.en")
    assert corpus.targets == ["A dog.", "Two."] and corpus.lines == [1, 3]


BAD_PAIRS = [
    ("no_tab.tsv", "a b\tb a\nc d e\n", 2),
    ("empty_source.tsv", "a b\tb a\n  \tc\n", 2),
    ("empty_target.tsv", "a b\tb a\nc d\t \n", 2),
    ("latin1.tsv", b"a\tb\ncaf\xe9\tc\n", 2),
    ("empty.tsv", "\n\n", None),
]


@pytest.mark.integration
@pytest.mark.parametrize("name,content,line", BAD_PAIRS)
def test_bad_pairs_are_one_line_and_leave_model(trained, tmp_path, name, content, line):
    check_bad_input_keeps_model(APP, trained, tmp_path / name, content, line, TINY)


@pytest.mark.integration
def test_bad_parallel_files_name_file_and_line(trained, tmp_path):
    src, tgt = tmp_path / "x.src", tmp_path / "x.tgt"
    src.write_text("a b\nc d\ne f\n")
    tgt.write_text("b a\nd c\n")
    before = (trained / "model.keras").read_bytes()
    message = assert_input_error(APP, ["train", "--train-src", src, "--train-tgt", tgt,
                                       "--out", trained], src, 3)
    assert f"no matching line in {tgt}" in message
    assert_input_error(APP, ["evaluate", "--model", trained, "--data-src", tgt,
                             "--data-tgt", src], src, 3)
    tgt.write_text("b a\n\nf e\n")
    assert_input_error(APP, ["train", "--train-src", src, "--train-tgt", tgt, "--out", trained],
                       tgt, 2)
    assert (trained / "model.keras").read_bytes() == before
    with pytest.raises(InputError, match="no such file"):
        read_parallel_files(tmp_path / "missing", tgt)


@pytest.mark.parametrize("argv", [
    ["--train-src", "x.src"],
    ["--set", "attention=transformer"],
    ["--set", "score=dot", "--set", "decoder_units=7"],
    ["--set", "scheduled_sampling=2"],
    ["--set", "label_smoothing=1"],
    ["--set", "output_dim=7"],  # tied embeddings need output_dim == embedding_dim
])
def test_bad_options_are_one_line(tmp_path, argv):
    code, _, err = cli(APP, "train", "--out", tmp_path / "x", *argv)
    lines = error_lines(err)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert not (tmp_path / "x" / "model.keras").exists()


@pytest.mark.integration
def test_default_data_through_a_subprocess(tmp_path):
    out = tmp_path / "sample"
    result = cli_subprocess("translator", "train", "--out", out, "--epochs", 1, *TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    code, text, err = cli(APP, "translate", "--model", out, "--beam", 2,
                          stdin="The cat sees a red apple.\nDoes the boy have a book?\n")
    assert code == 0, err
    assert len(text.splitlines()) == 2
