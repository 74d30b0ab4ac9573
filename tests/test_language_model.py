"""The language model end to end through its command line, on tiny texts written here."""

import io
import json
import math

import numpy as np
import pytest

from applications.language_model.commands import LanguageModelCommands, stream_generation
from tests.helpers import (assert_input_error, check_bad_input_keeps_model, cli, cli_subprocess,
                           error_lines, load_saved_model_without_package)

# Every test trains through the command line (the trained fixture or a run of its own).
pytestmark = pytest.mark.integration

APP = LanguageModelCommands()
TINY = ["--set", "embedding_dim=16", "--set", "encoder.nodes=[48]", "--set", "window=32",
        "--set", "learning_rate=0.02", "--set", "encoder.dropout=0.0", "--batch-size", "16"]
LINE = "the cat sat on the mat.\n"


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "cats.txt"
    path.write_text(LINE * 160)
    return path


@pytest.fixture(scope="module")
def trained(text_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "lm"
    code, _, err = cli(APP, "train", "--train", text_file, "--out", out, "--epochs", 8,
                       "--seed", 1, *TINY)
    assert code == 0, err
    return out


def vocabulary_size(model_dir):
    from applications.core.base import load_model

    return len(load_model(model_dir).metadata["vocabulary"]["items"]) + 2


def test_learns_a_repetitive_text(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    uniform = math.log(vocabulary_size(trained))
    assert metrics["best"] < 0.25 * uniform, (metrics["best"], uniform)
    assert set(metrics["history"]) >= {"loss", "val_loss", "bits_per_char", "perplexity"}

    code, out, err = cli(APP, "generate", "--model", trained, "--prompt", "the cat ",
                         "--length", 40, "--temperature", 0)
    assert code == 0, err
    assert out.startswith("the cat sat on the mat.\nthe cat sat on the mat."), out


def test_evaluate_json(trained, text_file):
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", text_file, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"loss", "bits_per_char", "perplexity", "tokens", "stride"}
    assert result["stride"] == 16  # half the window of 32
    assert result["tokens"] == len(LINE) * 160 - 1  # every token but the first is a target
    assert result["bits_per_char"] == pytest.approx(result["loss"] / math.log(2))
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"]))
    held = json.loads(cli(APP, "evaluate", "--model", trained, "--data", text_file,
                          "--held-out", "--json")[1])
    assert held["tokens"] < result["tokens"] / 5


def test_strided_scoring_gives_each_token_its_context(trained, text_file):
    # evaluate --stride N: the mean, over every target, of its nats when the model reads the
    # window that ends at it (the text's first window for the first 32), computed here one
    # target at a time.
    import tensorflow as tf

    from applications.core.base import load_model
    from applications.language_model.pipeline import metadata_vocabulary, read_tokens

    model = load_model(trained)
    short = text_file.parent / "short.txt"
    short.write_text(LINE * 16)
    ids = np.asarray(metadata_vocabulary(model.metadata).encode(read_tokens(short, "char")),
                     np.int32)
    window = model.window
    targets = np.arange(1, len(ids))
    starts = np.maximum(0, targets - window)
    logits = model(np.stack([ids[s:s + window] for s in starts]))
    logits = tf.gather(logits, targets - 1 - starts, axis=1, batch_dims=1)
    nats = tf.nn.sparse_softmax_cross_entropy_with_logits(ids[targets], logits).numpy()

    def scored(stride):
        code, out, err = cli(APP, "evaluate", "--model", trained, "--data", short, "--json",
                             "--stride", stride)
        assert code == 0, err
        return json.loads(out)

    one = scored(1)
    assert one["tokens"] == len(ids) - 1 and one["stride"] == 1
    assert one["loss"] == pytest.approx(np.mean(nats), rel=1e-4)
    # Side by side windows score the targets early in each window with less context.
    assert scored(window)["loss"] > scored(window // 2)["loss"] > one["loss"] - 1e-6
    for stride in (0, window + 1):
        code, _, err = cli(APP, "evaluate", "--model", trained, "--data", short,
                           "--stride", stride)
        assert code == 2 and "--stride must be between 1" in error_lines(err)[0], err


def test_step_by_step_matches_the_full_sequence(trained):
    import keras

    from applications.core.base import load_model

    model = load_model(trained)
    ids = np.array([[5, 3, 7, 2, 9, 4]], "int32")
    full = keras.ops.convert_to_numpy(model(ids))
    states = model.initial_state(1)
    for t in range(ids.shape[1]):
        logits, states = model.step(ids[:, t], states)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), full[:, t], atol=1e-4)


class RecordingStream(io.StringIO):
    def __init__(self):
        super().__init__()
        self.writes, self.flushes = 0, 0

    def write(self, text):
        self.writes += 1
        return super().write(text)

    def flush(self):
        self.flushes += 1


def test_generate_streams_and_is_reproducible(trained):
    from applications.core.base import load_model

    stream = RecordingStream()
    text = stream_generation(load_model(trained).serving_module(), "the", 25, 1.0, 0, 7, stream)
    assert stream.writes >= 25 and stream.flushes >= 25  # one write and flush per token
    assert stream.getvalue() == "the" + text + "\n"

    args = ["generate", "--model", trained, "--prompt", "the", "--length", 50,
            "--temperature", 1.5, "--top-k", 4]
    first = cli(APP, *args, "--seed", 3)
    assert first[0] == 0, first[2]
    assert cli(APP, *args, "--seed", 3)[1] == first[1]
    assert len(first[1]) == len("the") + 50 + 1


def test_export_generate_matches_greedy_cli(trained, tmp_path):
    export_dir = tmp_path / "export"
    code, _, err = cli(APP, "export", "--model", trained, "--out", export_dir)
    assert code == 0, err
    prompts = ["the mat", ""]
    exported = load_saved_model_without_package(export_dir, (
        "out = [model.generate(prompt=tf.constant(p), length=tf.constant(30), "
        "temperature=tf.constant(0.0), seed=tf.constant(0, tf.int64))['text'].numpy()"
        f".decode() for p in {prompts!r}]\n"
        "sample = lambda seed: model.signatures['generate'](prompt=tf.constant('the'), "
        "length=tf.constant(12), temperature=tf.constant(1.0), "
        "seed=tf.constant(seed, tf.int64))['text'].numpy().decode()\n"
        "sampled = [sample(s) for s in (7, 7, 8, 9)]\n"
        "scores = model.serve(tf.constant(['the cat sat on the mat.']))\n"
        "print(json.dumps([out, sampled, float(scores['nats_per_token'][0])]))"))
    greedy, sampled, nats = exported
    assert sampled[0] == sampled[1]  # a seed repeats a sample
    sampled_length = len(sampled[0])
    for prompt, text in zip(prompts, greedy):
        code, out, err = cli(APP, "generate", "--model", trained, "--prompt", prompt,
                             "--length", 30, "--temperature", 0)
        assert code == 0, err
        assert out == prompt + text + "\n"
    assert sampled_length == 12 and nats < 1.0


def test_held_out_needs_a_held_out_part_and_temperature_a_number(text_file, tmp_path):
    dev = tmp_path / "dev.txt"
    dev.write_text(LINE * 20)
    code, _, err = cli(APP, "train", "--train", text_file, "--dev", dev, "--out",
                       tmp_path / "lm", "--epochs", 1, *TINY)
    assert code == 0, err
    code, _, err = cli(APP, "evaluate", "--model", tmp_path / "lm", "--data", text_file,
                       "--held-out")
    assert code == 2 and "held nothing out" in err, err
    for temperature in ("nan", "inf"):
        code, _, err = cli(APP, "generate", "--model", tmp_path / "lm", "--temperature",
                           temperature)
        assert code == 2 and "finite" in err and "Traceback" not in err, err


def test_predict_scores_lines(trained):
    code, out, err = cli(APP, "predict", "--model", trained,
                         stdin="the cat sat on the mat.\nzq xv wj kk\n")
    assert code == 0, err
    header, familiar, strange = [line.split("\t") for line in out.splitlines()]
    assert header == ["nats_per_token", "tokens", "text"]
    assert int(familiar[1]) == len("the cat sat on the mat.")
    assert float(familiar[0]) < float(strange[0])


def test_word_level(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("One fish, two fish; red fish, blue fish!\n" * 120)
    out = tmp_path / "lm"
    # 8 epochs: at 6 the greedy continuation was right for some seeds' window orders only.
    code, _, err = cli(APP, "train", "--train", path, "--out", out, "--epochs", 8,
                       "--set", "level=word", *TINY, "--set", "window=12")
    assert code == 0, err
    result = json.loads(cli(APP, "evaluate", "--model", out, "--data", path, "--json")[1])
    assert set(result) == {"loss", "bits_per_token", "perplexity", "tokens", "stride"}
    assert result["loss"] < 0.5 * math.log(vocabulary_size(out)), result
    code, text, err = cli(APP, "generate", "--model", out, "--prompt", "One fish,",
                          "--length", 11, "--temperature", 0)
    assert code == 0, err
    assert text == "One fish, two fish ; red fish , blue fish !\nOne\n", text
    # max_vocab 0 keeps every word; a min_count no word reaches is refused.
    code, _, err = cli(APP, "train", "--train", path, "--out", tmp_path / "all", "--epochs", 1,
                       "--set", "level=word", "--set", "max_vocab=0", *TINY)
    assert code == 0, err
    assert vocabulary_size(tmp_path / "all") == vocabulary_size(out)
    code, _, err = cli(APP, "train", "--train", path, "--out", tmp_path / "none",
                       "--set", "level=word", "--set", "min_count=1000", *TINY)
    assert code == 2 and "vocabulary would be empty" in err, err
    assert not (tmp_path / "none").exists()


def test_default_corpus_through_a_subprocess(tmp_path):
    out = tmp_path / "lm"
    result = cli_subprocess("language_model", "train", "--out", out, "--epochs", 1, *TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    code, text, err = cli(APP, "generate", "--model", out, "--prompt", "The", "--length", 20)
    assert code == 0 and text.startswith("The") and len(text) == len("The") + 21, err


BAD_INPUTS = [
    ("empty.txt", "", None),
    ("blank.txt", "\n  \n\n", None),
    ("short.txt", "too short for a window\n", None),
    ("latin1.txt", b"the cat sat\non the caf\xe9 mat\n", 2),
]


@pytest.mark.parametrize("name,content,line", BAD_INPUTS)
def test_bad_input_is_one_line_and_leaves_model(trained, tmp_path, name, content, line):
    check_bad_input_keeps_model(APP, trained, tmp_path / name, content, line, TINY)


def test_short_validation_part_and_dev_file(trained, text_file, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text(LINE * 8)  # long enough for one window, not for a 10 % dev part
    message = assert_input_error(APP, ["train", "--train", short, "--out", tmp_path / "x",
                                       *TINY], short)
    assert "held out" in message and not (tmp_path / "x").exists()
    bad_dev = tmp_path / "dev.txt"
    bad_dev.write_text("tiny\n")
    assert_input_error(APP, ["train", "--train", text_file, "--dev", bad_dev, "--out",
                             tmp_path / "y", *TINY], bad_dev)


def test_usage_errors_exit_2(trained, tmp_path):
    for argv in (["train", "--out", tmp_path / "a", "--set", "level=byte"],
                 ["train", "--out", tmp_path / "b", "--set", "encoder.bidirectional=true"],
                 ["generate", "--model", trained, "--length", -1],
                 ["generate", "--model", tmp_path / "none"]):
        code, _, err = cli(APP, *argv)
        lines = error_lines(err)
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    for options in (["steps_per_epoch=-1"], ["format=abc", "steps_per_epoch=5"]):
        code, _, err = cli(APP, "train", "--out", tmp_path / "steps",
                           *[a for o in options for a in ("--set", o)])
        assert code == 2 and "steps_per_epoch" in error_lines(err)[0], err


def test_muon_leaves_the_output_layer_to_its_adamw_half():
    from applications.core.config import load_config
    from applications.language_model.config import LanguageModelConfig
    from applications.language_model.model import LanguageModel
    from applications.language_model.pipeline import make_metadata
    from data import Vocabulary

    config = load_config(LanguageModelConfig, overrides=["optimizer=muon", "weight_decay=0.1"])
    model = LanguageModel(config.to_dict(), make_metadata("char", Vocabulary(list("ab\n"))))
    optimizer = model.make_optimizer()
    assert optimizer.exclude_layers == ["next_token_scores"]
    assert optimizer.adam_weight_decay == pytest.approx(0.1)


def test_exports_without_a_seed_input_still_generate():
    import types

    import tensorflow as tf

    from applications.language_model.serving import ExportedLanguageModel

    calls = []

    def generate(**inputs):  # a generate signature written before it took a seed
        calls.append(sorted(inputs))
        return {"text": tf.constant("ab")}

    generate.structured_input_signature = ((), {"prompt": 0, "length": 0, "temperature": 0})
    export = ExportedLanguageModel("old", types.SimpleNamespace(signatures={"generate": generate}))
    assert export.predict("x", length=2, seed=1) == "ab"
    assert calls == [["length", "prompt", "temperature"]]
