"""The Transformer encoder alone (masking, causality, saving) and in each sequence application."""

import json

import keras
import numpy as np
import pytest

from encoders import Transformer_Encoder, build_encoder
from tests.helpers import cli, load_saved_model_without_package, run_encoder_test
from tests.test_checkpoint_tracking import checkpoint_round_trip

rng = np.random.default_rng(0)
SEQ = rng.normal(size=(3, 6, 4)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]], bool)
SMALL = dict(width=8, num_layers=2, num_heads=2, dropout=0.0)


@pytest.mark.parametrize("options", [
    {}, {"positions": "learned", "pooling": "max"}, {"causal": True, "pooling": "last"},
    {"pooling": "first", "feed_forward_width": 12, "activation": "relu"},
    {"positions": "rotary", "causal": True, "pooling": "last"}])
def test_shared_encoder_checks(options):
    run_encoder_test(Transformer_Encoder, {**SMALL, **options}, SEQ,
                     {"sequence": (3, 6, 8), "pooled": (3, 8)}, mask=MASK)


@pytest.mark.parametrize("positions", ["sinusoidal", "learned", "rotary"])
@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_more_padding_changes_nothing(positions, pooling):
    encoder = Transformer_Encoder(**SMALL, positions=positions, pooling=pooling)
    short = encoder(SEQ, mask=MASK)
    longer = np.concatenate([SEQ, rng.normal(size=(3, 4, 4)).astype("float32")], axis=1)
    longer_mask = np.concatenate([MASK, np.zeros((3, 4), bool)], axis=1)
    long = encoder(longer, mask=longer_mask)
    np.testing.assert_allclose(np.asarray(long["sequence"])[:, :6][MASK],
                               np.asarray(short["sequence"])[MASK], atol=1e-5)
    np.testing.assert_allclose(np.asarray(long["pooled"]), np.asarray(short["pooled"]),
                               atol=1e-5)
    assert np.all(np.asarray(long["sequence"])[~longer_mask] == 0)
    # A row alone, with no padding at all, is summarised as it was inside the padded batch.
    alone = encoder(SEQ[1:2, :3])
    np.testing.assert_allclose(np.asarray(alone["pooled"])[0], np.asarray(short["pooled"])[1],
                               atol=1e-5)
    if pooling == "last":
        np.testing.assert_allclose(np.asarray(short["pooled"])[1],
                                   np.asarray(short["sequence"])[1, 2], atol=1e-6)


@pytest.mark.parametrize("positions", ["sinusoidal", "rotary"])
def test_a_future_input_never_changes_an_earlier_output(positions):
    causal = Transformer_Encoder(**SMALL, causal=True, positions=positions)
    both_ways = Transformer_Encoder(**SMALL, positions=positions)
    x = rng.normal(size=(2, 7, 4)).astype("float32")
    before = np.asarray(causal(x)["sequence"])
    for t in range(7):
        changed = x.copy()
        changed[:, t] += 3.0
        after = np.asarray(causal(changed)["sequence"])
        np.testing.assert_allclose(after[:, :t], before[:, :t], atol=1e-5)
        assert np.abs(after[:, t] - before[:, t]).max() > 1e-3
    # Without `causal`, the first position does see the last one.
    changed = x.copy()
    changed[:, -1] += 3.0
    assert np.abs(np.asarray(both_ways(changed)["sequence"])[:, 0]
                  - np.asarray(both_ways(x)["sequence"])[:, 0]).max() > 1e-3


def test_rotary_positions_make_attention_depend_on_offsets_only():
    from encoders.transformer_encoder import rotate_by_position

    # The same query and key vector at every position: after rotation, their dot product
    # depends only on how far apart the two positions are.
    query = np.broadcast_to(rng.normal(size=(1, 1, 2, 8)), (1, 9, 2, 8)).astype("float32")
    key = np.broadcast_to(rng.normal(size=(1, 1, 2, 8)), (1, 9, 2, 8)).astype("float32")
    rotated_query = np.asarray(rotate_by_position(query))[0]
    rotated_key = np.asarray(rotate_by_position(key))[0]
    products = np.einsum("qhd,khd->hqk", rotated_query, rotated_key)
    for offset in range(-3, 4):
        diagonal = np.diagonal(products, offset, axis1=1, axis2=2)
        np.testing.assert_allclose(diagonal, diagonal[:, :1].repeat(diagonal.shape[1], 1),
                                   rtol=1e-4, atol=1e-4)
    assert np.abs(products[:, 0, 1] - products[:, 0, 3]).max() > 1e-3
    # Rotation keeps lengths, and position 0 is not turned.
    np.testing.assert_allclose(np.linalg.norm(rotated_query, axis=-1),
                               np.linalg.norm(query[0], axis=-1), rtol=1e-5)
    np.testing.assert_allclose(rotated_query[0], query[0, 0], atol=1e-6)
    # So the encoder tells orders apart although nothing is added to its inputs.
    encoder = Transformer_Encoder(**SMALL, positions="rotary")
    swapped = SEQ[:, [1, 0, 2, 3, 4, 5]]
    before, after = (np.asarray(encoder(x)["sequence"]) for x in (SEQ, swapped))
    assert np.abs(after[:, [1, 0, 2, 3, 4, 5]] - before).max() > 1e-3


def test_attention_scores_respect_padding_and_causality():
    encoder = Transformer_Encoder(**SMALL, causal=True)
    weights = np.asarray(encoder.attention_scores(SEQ, MASK, layer=1))
    assert weights.shape == (3, 2, 6, 6)  # batch, heads, queries, keys
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert np.all(np.triu(weights, 1) == 0)  # no query looks at a later key
    padded_keys = np.broadcast_to(MASK[:, None, :, None] & ~MASK[:, None, None, :],
                                  weights.shape)
    assert np.all(weights[padded_keys] == 0)
    assert np.asarray(encoder.attention_scores(SEQ, MASK, layer=0)).shape == weights.shape


def test_every_weight_is_in_the_checkpoint(tmp_path):
    def make():
        return Transformer_Encoder(**SMALL, positions="learned")

    encoder = make()
    encoder(SEQ, mask=MASK)
    assert len(encoder.weights) == 2 + 1 + 2 * (2 + 8 + 2 + 4) + 2
    checkpoint_round_trip(encoder, make, SEQ, tmp_path)


def test_registry_config_and_bad_arguments():
    encoder = build_encoder({"name": "transformer"}, layer_name="encoder")
    assert isinstance(encoder, Transformer_Encoder) and encoder.name == "encoder"
    config = encoder.get_config()
    assert json.loads(json.dumps(config)) == config
    assert config["feed_forward_width"] == 4 * config["width"] and not config["causal"]
    assert Transformer_Encoder.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="multiple of num_heads"):
        Transformer_Encoder(width=10, num_heads=4)
    with pytest.raises(ValueError, match="positions"):
        Transformer_Encoder(positions="alibi")
    with pytest.raises(ValueError, match="even head size"):
        Transformer_Encoder(width=12, num_heads=4, positions="rotary")
    with pytest.raises(ValueError, match="pooling"):
        Transformer_Encoder(pooling="sum")
    with pytest.raises(ValueError, match="bad arguments"):
        build_encoder({"name": "transformer", "nodes": [8]})


def tiny_language_model(window, **encoder):
    from applications.language_model.config import LanguageModelConfig
    from applications.language_model.model import LanguageModel
    from applications.language_model.pipeline import make_metadata
    from data import Vocabulary

    config = LanguageModelConfig(window=window, embedding_dim=6,
                                 encoder={"name": "transformer", **SMALL, **encoder})
    return LanguageModel(config.to_dict(), make_metadata("char", Vocabulary(list("abc\n"))))


@pytest.mark.parametrize("positions", ["sinusoidal", "rotary"])
def test_language_model_steps_through_a_sliding_window_and_saves(positions, tmp_path):
    model = tiny_language_model(window=5, positions=positions)
    assert model.encoder.causal and "causal" not in model.config["encoder"]
    ids = rng.integers(2, 6, size=(2, 9)).astype("int32")
    states = model.initial_state(2)
    for t in range(9):
        logits, states = model.step(ids[:, t], states)
        # The step reads the last `window` tokens from position 0, as training does.
        expected = np.asarray(model(ids[:, max(0, t - 4):t + 1]))[:, -1]
        np.testing.assert_allclose(np.asarray(logits), expected, atol=1e-5)
    # Scoring reads long texts in consecutive windows, each from a fresh start.
    longer = rng.integers(2, 6, size=(2, 12)).astype("int32")
    windows = [np.asarray(model(longer[:, i:i + 5])) for i in range(0, 12, 5)]
    np.testing.assert_allclose(np.asarray(model.serving_module().logits(longer)),
                               np.concatenate(windows, axis=1), atol=1e-5)
    path = tmp_path / "lm.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.encoder.causal
    np.testing.assert_allclose(np.asarray(restored(ids)), np.asarray(model(ids)), atol=1e-6)
    with pytest.raises(ValueError, match="causal must be true"):
        tiny_language_model(window=5, causal=False)
    with pytest.raises(ValueError, match="must cover the window"):
        tiny_language_model(window=5, positions="learned", max_length=4)


# Through each application's command line, on its embedded sample corpus.

def tiny_transformer(**extra):
    return json.dumps({"name": "transformer", "width": 16, "num_layers": 1, "num_heads": 2,
                       "dropout": 0.0, **extra})


def train(app, out, *options, encoder=None):
    code, _, err = cli(app, "train", "--out", out, "--epochs", 1, "--seed", 1,
                       "--set", f"encoder={tiny_transformer(**(encoder or {}))}", *options)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["encoder"]["name"] == "transformer"


@pytest.mark.integration
def test_tagger_predict_equals_export(tmp_path):
    from applications.pos_tagger.commands import TaggerCommands

    app, out = TaggerCommands(), tmp_path / "tagger"
    train(app, out, "--set", "word_dim=16", "--set", "char_dim=8", "--set",
          'char_encoder={"name": "cnn", "mode": "1d", "filters": [8], "kernel_sizes": [3]}',
          "--batch-size", 32)
    # The tagger's recipe gives a Transformer rotary positions when the run sets none.
    assert json.loads((out / "config.json").read_text())["encoder"]["positions"] == "rotary"
    sentences = ["The old man saw a dog in London.", "She can't find two books !"]
    code, text, err = cli(app, "predict", "--model", out, stdin="\n".join(sentences) + "\n")
    assert code == 0, err
    tagged = [[line.split("\t") for line in block.splitlines()]
              for block in text.strip().split("\n\n")]
    assert [t[0] for t in tagged[0]][:3] == ["The", "old", "man"]
    assert cli(app, "export", "--model", out, "--out", tmp_path / "export")[0] == 0
    exported = load_saved_model_without_package(tmp_path / "export", (
        f"out = model.signatures['serve'](sentences=tf.constant({sentences!r}))\n"
        "n = out['lengths'].numpy().tolist()\n"
        "print(json.dumps([[t.decode() for t in row[:k]] for row, k in "
        "zip(out['tags'].numpy(), n)]))"))
    assert exported == [[t[1] for t in sentence] for sentence in tagged]
    # Self-attention maps of the encoder's one layer, one head, over the same tokens.
    code, text, err = cli(app, "attention", "--model", out, "--head", 1, "--plot",
                          tmp_path / "maps", stdin="\n".join(sentences) + "\n")
    assert code == 0, err
    maps = [json.loads(line) for line in text.splitlines()]
    assert [m["tokens"] for m in maps] == [[t[0] for t in s] for s in tagged]
    for entry in maps:
        weights = np.array(entry["weights"])
        assert weights.shape == (len(entry["tokens"]),) * 2 and entry["head"] == 1
        # The shorter sentence's padding takes no weight: each row sums to 1 over its tokens.
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-3)
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["0001.png", "0002.png"]
    code, _, err = cli(app, "attention", "--model", out, "--layer", 1, stdin="a dog\n")
    assert code == 2 and "--layer 1: the encoder has 1 layers" in err, err
    (tmp_path / "taken").write_text("precious")  # a file where the plot folder would go
    code, text, err = cli(app, "attention", "--model", out, "--plot", tmp_path / "taken",
                          stdin="a dog\n")
    assert code == 2 and text == "" and "--plot must name a folder" in err, err
    assert (tmp_path / "taken").read_text() == "precious"


@pytest.mark.integration
def test_classifier_predict_equals_export(tmp_path):
    from applications.text_classifier.commands import ClassifierCommands

    app, out = ClassifierCommands(), tmp_path / "classifier"
    train(app, out, "--set", "embedding_dim=16", "--set", "learning_rate=0.005",
          "--batch-size", 32, encoder={"positions": "rotary"})  # rotary in a SavedModel too
    texts = ["A truly wonderful film , from start to finish .", "The plot was dull and boring"]
    code, text, err = cli(app, "predict", "--model", out, stdin="\n".join(texts) + "\n")
    assert code == 0, err
    rows = [line.split("\t") for line in text.strip().splitlines()]
    probabilities = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert cli(app, "export", "--model", out, "--out", tmp_path / "export")[0] == 0
    exported = load_saved_model_without_package(tmp_path / "export", (
        f"out = model.signatures['serve'](texts=tf.constant({texts!r}))\n"
        "print(json.dumps({'p': out['probabilities'].numpy().tolist(),\n"
        "  'predicted': [p.decode() for p in out['predicted'].numpy()]}))"))
    assert exported["predicted"] == [row[0] for row in rows[1:]]
    np.testing.assert_allclose(exported["p"], probabilities, atol=2e-6)


@pytest.mark.integration
def test_language_model_generates_and_export_equals_greedy_cli(tmp_path):
    from applications.language_model.commands import LanguageModelCommands

    app, out = LanguageModelCommands(), tmp_path / "lm"
    train(app, out, "--set", "embedding_dim=16", "--set", "window=24", "--batch-size", 32,
          "--set", "steps_per_epoch=20")
    config = json.loads((out / "config.json").read_text())
    assert "causal" not in config["encoder"]  # made causal by the model, not the config
    # The Transformer's recipe fills what the run left unset, and only that.
    assert (config["window"], config["batch_size"], config["steps_per_epoch"]) == (24, 32, 20)
    assert (config["patience"], config["jit_compile"], config["beta_2"]) == (8, "true", 0.99)
    assert config["budget_anneal"] is True
    assert (config["optimizer"], config["weight_decay"]) == ("adamw", 0.1)
    assert (config["ema_momentum"], config["ema_warmup"]) == (0.999, True)
    sampled = cli(app, "generate", "--model", out, "--prompt", "The", "--length", 30,
                  "--temperature", 0.8, "--top-k", 5, "--seed", 2)
    assert sampled[0] == 0 and len(sampled[1]) == len("The") + 30 + 1, sampled[2]
    assert cli(app, "export", "--model", out, "--out", tmp_path / "export")[0] == 0
    # A prompt longer than the window slides it.
    prompts = ["The ", "", "the king and the queen and the knight sat "]
    exported = load_saved_model_without_package(tmp_path / "export", (
        "print(json.dumps([model.generate(prompt=tf.constant(p), length=tf.constant(30), "
        "temperature=tf.constant(0.0), seed=tf.constant(0, tf.int64))['text'].numpy()"
        f".decode() for p in {prompts!r}]))"))
    for prompt, text in zip(prompts, exported):
        code, printed, err = cli(app, "generate", "--model", out, "--prompt", prompt,
                                 "--length", 30, "--temperature", 0)
        assert code == 0, err
        assert printed == prompt + text + "\n"
    # The causal model's attention: no query attends to a later token.
    code, text, err = cli(app, "attention", "--model", out, stdin="the king sat\n")
    assert code == 0, err
    entry = json.loads(text)
    weights = np.array(entry["weights"])
    assert entry["tokens"] == list("the king sat") and entry["head"] is None
    np.testing.assert_allclose(np.triu(weights, 1), 0.0, atol=1e-6)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-3)


def test_an_encoder_recipe_fills_only_what_a_new_run_leaves_unset(tmp_path):
    from applications.core.config import load_config
    from applications.language_model.config import LanguageModelConfig

    recipe = LanguageModelConfig.ENCODER_RECIPES["transformer"]
    chosen = load_config(LanguageModelConfig, None, [
        'encoder={"name": "transformer", "dropout": 0.2}', "batch_size=8"])
    assert chosen.batch_size == 8 and chosen.encoder["dropout"] == 0.2
    assert chosen.window == recipe["window"] and chosen.epochs == recipe["epochs"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"encoder": {"name": "transformer"}, "window": 100}))
    from_file = load_config(LanguageModelConfig, path)
    assert from_file.window == 100 and from_file.encoder["dropout"] == 0.0
    assert "cell" not in from_file.encoder  # another encoder's group replaces the GRU's
    assert from_file.steps_per_epoch == recipe["steps_per_epoch"]
    # The default encoder has no recipe; a resumed run keeps its saved options.
    assert load_config(LanguageModelConfig) == LanguageModelConfig()
    saved = LanguageModelConfig(encoder={"name": "transformer"})
    assert load_config(LanguageModelConfig, base=saved).window == saved.window


def test_attention_maps_need_a_transformer_encoder():
    from applications.core.attention_maps import self_attention
    from applications.core.config import UsageError
    from encoders import RNN_Encoder

    class Recurrent:
        config = {"encoder": {"name": "rnn"}}

        def attention_inputs(self, texts):
            return [["a"]], RNN_Encoder([2]), np.zeros((1, 1, 3), "float32"), None

    with pytest.raises(UsageError, match="not a Transformer"):
        self_attention(Recurrent(), ["a"], where="runs/x")
    with pytest.raises(UsageError, match="no self-attention maps"):
        self_attention(object(), ["a"])


def test_warmup_steps_raise_the_rate_linearly_then_hold_it():
    from applications.core.optimizers import optimizer_options
    from applications.core.config import UsageError, load_config
    from applications.translator.config import TranslatorConfig

    schedule = optimizer_options({"learning_rate": 1e-3, "warmup_steps": 100})["learning_rate"]
    rates = [float(schedule(step)) for step in (0, 50, 100, 5000)]
    np.testing.assert_allclose(rates, [0.0, 5e-4, 1e-3, 1e-3], rtol=1e-6)
    assert optimizer_options({"learning_rate": 1e-3})["learning_rate"] == 1e-3
    with pytest.raises(UsageError, match="warmup_steps needs lr_decay=1"):
        load_config(TranslatorConfig, overrides=["warmup_steps=10"])
    assert load_config(TranslatorConfig, overrides=["warmup_steps=10", "lr_decay=1"])


def test_ema_warmup_lets_a_short_run_average_recent_weights():
    import keras

    from applications.core.config import TrainConfig, load_config
    from applications.core.optimizers import optimizer_options, with_ema_warmup

    assert load_config(TrainConfig, overrides=["ema_warmup=true"]).ema_warmup is True
    x = np.ones((64, 1), "float32")
    averages = {}
    for warm in (False, True):
        config = {"learning_rate": 0.1, "ema_momentum": 0.999, "ema_warmup": warm}
        optimizer = with_ema_warmup(keras.optimizers.Adam(**optimizer_options(config)), config)
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(
            1, use_bias=False, kernel_initializer="zeros")])
        model.compile(optimizer, "mse")
        model.fit(x, 3 * x, batch_size=64, epochs=150, verbose=0)  # the weight reaches 3
        averages[warm] = float(optimizer._model_variables_moving_average[0].numpy()[0, 0])
    # Keras' own average after 150 updates at 0.999 still holds 86 % of the weight after the
    # first update; the warmed-up one holds the recent weights.
    assert averages[False] < 1.0 and averages[True] == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("app_name", ["pos_tagger", "text_classifier", "language_model"])
def test_search_space_builds_a_transformer_model(app_name):
    import argparse

    import keras_tuner

    from applications.main import find_commands
    from tuning.hypermodel import ApplicationHyperModel
    from tuning.spaces import search_space

    app = find_commands(app_name)
    flags = {"train": None, "dev": None, "text_column": None, "label_columns": None}
    space = search_space(app_name, ["encoder.width=16", "encoder.num_layers=2",
                                    "encoder.feed_forward_width=256"])
    hypermodel = ApplicationHyperModel(app, argparse.Namespace(**flags), app.config_class(),
                                       space, "false")
    hp = keras_tuner.HyperParameters()
    hp.Fixed("encoder.name", "transformer")
    model = hypermodel.build(hp)
    assert isinstance(model.encoder if hasattr(model, "encoder") else model.encoders[0],
                      Transformer_Encoder)
    encoder = model.config["encoder"]
    assert encoder["width"] == 16 and encoder["num_layers"] == 2 and "nodes" not in encoder
    assert model.config["warmup_steps"] == hp.values["warmup_steps"]
