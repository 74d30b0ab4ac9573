"""The Python API on a tiny model of every application: raw inputs in, Python values out.

Each test builds its model from generated training data the way ``train`` does (without
the epochs: agreement needs no accuracy), saves it under ``runs/`` in a temporary folder,
runs the example docs/applications.md quotes for it, and checks that the ``predict``
command and the exported SavedModel (``applications.load``) give the same answers.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import applications
from applications.core.cli import build_parser
from applications.core.train_run import training_config
from tests.helpers import cli

PNG_NAMES = ("first.png", "second.png")


def make_model(app, out, *argv, metadata=None):
    """Build an application's model from its training inputs and save it as ``train``
    would (``out/model.keras``), untrained; ``metadata`` entries are added first."""
    keras.utils.set_random_seed(1)
    args = build_parser(app)[0].parse_args(["train", "--out", str(out), *map(str, argv)])
    config = training_config(app, args)
    meta, train, _ = app.read_training_data(args, config)
    model = app.model_class(config.to_dict(), {**meta, **(metadata or {})})
    x, _, _ = keras.utils.unpack_x_y_sample_weight(next(iter(train)))
    model(x)
    model.save_to(str(out))
    return model


def exported(app, name):
    """Export ``runs/name`` to ``runs/name_export`` and load it with ``applications.load``."""
    code, _, err = cli(app, "export", "--model", f"runs/{name}", "--out", f"runs/{name}_export")
    assert code == 0, err
    return applications.load(f"runs/{name}_export")


def table_rows(text, separator="\t"):
    """The rows of a command's table output, header dropped, cells split."""
    return [line.split(separator) for line in text.splitlines()[1:] if line.strip()]


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A working folder with an empty ``runs/``; paths in the examples are relative to it."""
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tagger_model(runs, name, seed):
    from applications.pos_tagger.commands import TaggerCommands
    from applications.pos_tagger.sample_data import generate_sentences, write_two_column

    write_two_column(generate_sentences(60, seed=1), runs / "sentences.tsv")
    make_model(TaggerCommands(), runs / "runs" / name, "--train", runs / "sentences.tsv",
               "--seed", seed, "--set", "word_dim=8", "--set", "char_dim=4",
               # Members of an ensemble share their training data: no seeded dev part.
               "--set", "dev_split=0",
               "--set", 'encoder={"name": "rnn", "cell": "gru", "nodes": [8]}',
               "--set", 'char_encoder={"name": "cnn", "mode": "1d", "filters": [4]}')
    return TaggerCommands()


@pytest.mark.integration
def test_pos_tagger(runs):
    app = tagger_model(runs, "tagger", 1)

    from applications.pos_tagger.model import PosTagger

    tagger = PosTagger.load_model("runs/tagger")
    tagged = tagger.predict(["The old man saw a dog.", "She can't find two books!"])

    assert [token for token, _ in tagged[0]] == ["The", "old", "man", "saw", "a", "dog", "."]
    assert [token for token, _ in tagged[1]][:4] == ["She", "ca", "n't", "find"]
    assert all(isinstance(tag, str) and tag for sentence in tagged for _, tag in sentence)
    assert tagger.predict("The old man saw a dog.") == tagged[0]
    assert tagger.predict([]) == []
    code, out, err = cli(app, "predict", "--model", "runs/tagger",
                         stdin="The old man saw a dog.\nShe can't find two books!\n")
    assert code == 0, err
    blocks = [[tuple(line.split("\t")) for line in block.splitlines()]
              for block in out.strip().split("\n\n")]
    assert blocks == tagged
    assert exported(app, "tagger").predict(["The old man saw a dog."]) == tagged[:1]


@pytest.mark.integration
def test_ensemble_of_taggers(runs):
    app = tagger_model(runs, "tagger_a", 1)
    tagger_model(runs, "tagger_b", 2)
    code, _, err = cli(app, "ensemble", "--models", "runs/tagger_a", "runs/tagger_b",
                       "--out", "runs/taggers")
    assert code == 0, err

    from applications.pos_tagger.model import PosTagger

    taggers = PosTagger.load_model("runs/taggers")
    tagged = taggers.predict(["The old man saw a dog."])

    code, out, err = cli(app, "predict", "--model", "runs/taggers",
                         stdin="The old man saw a dog.\n")
    assert code == 0, err
    assert [tuple(line.split("\t")) for line in out.split("\n\n")[0].splitlines()] == tagged[0]


@pytest.mark.integration
def test_text_classifier(runs):
    from applications.text_classifier.commands import ClassifierCommands
    from applications.text_classifier.sample_data import generate_reviews, write_csv

    app = ClassifierCommands()
    write_csv(generate_reviews(80, seed=1), ["text", "label"], runs / "reviews.csv")
    make_model(app, runs / "runs" / "reviews", "--train", runs / "reviews.csv",
               "--set", "embedding_dim=8", "--set", 'encoder={"name": "cnn", "preset": "text", "filters": [8]}',
               "--set", "ema_momentum=0")

    from applications.text_classifier.model import TextClassifier

    classifier = TextClassifier.load_model("runs/reviews")
    results = classifier.predict(["A moving, funny film.", "Dull and far too long."])

    assert [sorted(r) for r in results] == [["label", "probabilities"]] * 2
    for result in results:
        assert result["label"] == max(result["probabilities"], key=result["probabilities"].get)
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    code, out, err = cli(app, "predict", "--model", "runs/reviews",
                         stdin="A moving, funny film.\nDull and far too long.\n")
    assert code == 0, err
    names = out.splitlines()[0].split("\t")[1:]
    for row, result in zip(table_rows(out), results):
        assert row[0] == result["label"]
        assert [float(v) for v in row[1:]] == pytest.approx(
            [result["probabilities"][n] for n in names], abs=2e-6)
    # Model inputs that are not strings (word ids here) still get Keras' own predict.
    classifier.compile_for_training()
    logits = classifier.predict(np.array([[2, 3, 4, 0]]), verbose=0)
    assert isinstance(logits, np.ndarray) and logits.shape[0] == 1
    again = exported(app, "reviews").predict("A moving, funny film.")
    assert again["label"] == results[0]["label"]
    assert again["probabilities"] == pytest.approx(results[0]["probabilities"], abs=1e-6)


@pytest.mark.integration
def test_language_model(runs):
    from applications.language_model.commands import LanguageModelCommands
    from applications.language_model.sample_data import generate_verses

    app = LanguageModelCommands()
    (runs / "verses.txt").write_text(generate_verses(30, seed=3))
    make_model(app, runs / "runs" / "lm", "--train", runs / "verses.txt",
               "--set", "embedding_dim=8", "--set", "encoder.nodes=[16]", "--set", "window=16")

    from applications.language_model.model import LanguageModel

    lm = LanguageModel.load_model("runs/lm")
    greedy = lm.predict("the ", length=20, temperature=0)
    sampled = lm.predict(["the ", "a "], length=20, temperature=0.8, seed=1)

    assert isinstance(greedy, str) and len(greedy) == 20  # a character model
    assert len(sampled) == 2 and all(len(text) == 20 for text in sampled)
    code, out, err = cli(app, "generate", "--model", "runs/lm", "--prompt", "the ",
                         "--length", 20, "--temperature", 0.8, "--seed", 1)
    assert code == 0, err
    assert out == "the " + sampled[0] + "\n"
    export = exported(app, "lm")
    assert export.predict("the ", length=20, temperature=0) == greedy
    drawn = [export.predict("the ", length=20, temperature=1.5, seed=s) for s in (4, 4, 5, 6)]
    assert drawn[0] == drawn[1] and len(set(drawn)) > 1  # a seed repeats its sample
    # Scoring texts, as the predict command does.
    scores = lm.score(["the cat sat.", "a dog ran."])
    code, out, err = cli(app, "predict", "--model", "runs/lm",
                         stdin="the cat sat.\na dog ran.\n")
    assert code == 0, err
    assert [float(row[0]) for row in table_rows(out)] == pytest.approx(
        [s["nats_per_token"] for s in scores], abs=1e-4)
    assert export.score(["the cat sat."])[0]["tokens"] == scores[0]["tokens"] == 12


@pytest.mark.integration
def test_translator(runs):
    from applications.translator.commands import TranslatorCommands
    from applications.translator.sample_data import generate_pairs, write_pairs

    app = TranslatorCommands()
    pairs = generate_pairs(60, seed=1)
    write_pairs(pairs, runs / "pairs.tsv")
    make_model(app, runs / "runs" / "translator", "--train", runs / "pairs.tsv",
               "--set", "embedding_dim=8", "--set", "encoder.nodes=[8]",
               "--set", "decoder_units=8", "--set", "output_dim=8",
               "--set", "attention_units=8", "--set", "min_count=1")
    sources = [source for source, _ in pairs[:2]]
    (runs / "sources.txt").write_text("\n".join(sources) + "\n")

    from applications.translator.model import Translator

    translator = Translator.load_model("runs/translator")
    translations = translator.predict(sources)
    greedy = translator.predict(sources, beam_size=1, length_penalty=0.0)

    assert len(translations) == 2 and all(isinstance(t, str) for t in translations)
    code, out, err = cli(app, "predict", "--model", "runs/translator", "--input",
                         "sources.txt")
    assert code == 0, err
    assert out.splitlines() == translations
    export = exported(app, "translator")
    assert export.predict(sources) == translations
    assert export.predict(sources, beam_size=1, length_penalty=0.0) == greedy
    # Decoding options no search can use are refused by Python and by the graph alike.
    for beam, alpha in ((0, 1.0), (2, float("nan")), (2, -1.0), (2, float("inf"))):
        for decoder in (translator, export):
            with pytest.raises(ValueError, match="beam_size must be 1 or more"):
                decoder.predict(sources, beam_size=beam, length_penalty=alpha)
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match="beam_size must be|length_penalty must be"):
            export.signatures["translate"](sentences=tf.constant(sources),
                                           beam_size=tf.constant(beam),
                                           length_penalty=tf.constant(alpha))
    code, _, err = cli(app, "predict", "--model", "runs/translator", "--input", "sources.txt",
                       "--length-penalty", "nan")
    assert code == 2 and "--length-penalty finite" in err, err


def shape_images(runs, channels):
    """Two embedded shape images as PNG files in ``runs`` and as a uint8 batch."""
    from PIL import Image

    from data.shape_images import shape_sets

    _, (images, _) = shape_sets()
    batch = images[:2]
    for name, image in zip(PNG_NAMES, batch):
        Image.fromarray(image[..., 0] if channels == 1 else image).save(runs / name)
    return batch


@pytest.mark.integration
def test_image_classifier(runs):
    from applications.image_classifier.commands import ImageClassifierCommands

    app = ImageClassifierCommands()
    model = make_model(app, runs / "runs" / "shapes", "--set", "encoder.filters=[4,8]",
                       "--set", "encoder.batch_norm=false", "--set", "hidden=[8]")
    pixels = shape_images(runs, model.metadata["channels"])

    from applications.image_classifier.model import ImageClassifier

    classifier = ImageClassifier.load_model("runs/shapes")
    results = classifier.predict(["first.png", "second.png"])

    assert [r["label"] for r in results] == [max(r["probabilities"], key=r["probabilities"].get)
                                             for r in results]
    arrays = classifier.classify(pixels)  # a uint8 batch [N, H, W, C]
    for a, b in zip(arrays, results):
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-6)
    single = classifier.classify(pixels[0].astype("float32") / 255.0)
    assert single["probabilities"] == pytest.approx(results[0]["probabilities"], abs=1e-6)
    code, out, err = cli(app, "predict", "--model", "runs/shapes", "--input", "first.png")
    assert code == 0, err
    row = table_rows(out)[0]
    assert row[1] == results[0]["label"]
    assert [float(v) for v in row[2:]] == pytest.approx(
        list(results[0]["probabilities"].values()), abs=2e-6)
    export = exported(app, "shapes")
    assert [r["label"] for r in export.predict(["first.png", "second.png"])] == \
        [r["label"] for r in results]
    assert export.classify(pixels)[1]["probabilities"] == pytest.approx(
        results[1]["probabilities"], abs=1e-6)


@pytest.mark.integration
def test_autoencoder(runs):
    from applications.autoencoder.commands import AutoencoderCommands

    app = AutoencoderCommands()
    model = make_model(app, runs / "runs" / "ae", "--set", "encoder.filters=[4,8]",
                       "--set", "code_dim=4")
    pixels = shape_images(runs, model.metadata["channels"])

    from applications.autoencoder.model import Autoencoder

    autoencoder = Autoencoder.load_model("runs/ae")
    result = autoencoder.predict("first.png")

    assert result["reconstruction"].shape == pixels.shape[1:]
    assert result["reconstruction"].dtype == np.uint8 and result["code"].shape == (4,)
    assert autoencoder.reconstruct(pixels)[0]["error"] == pytest.approx(result["error"])
    code, out, err = cli(app, "predict", "--model", "runs/ae", "--input", "first.png")
    assert code == 0, err
    assert float(table_rows(out)[0][1]) == pytest.approx(result["error"], rel=1e-5)
    again = exported(app, "ae").predict(["first.png"])[0]
    assert again["error"] == pytest.approx(result["error"], rel=1e-5)
    np.testing.assert_array_equal(again["reconstruction"], result["reconstruction"])


@pytest.mark.integration
def test_anomaly_detector(runs):
    from applications.anomaly_detector.commands import DetectorCommands
    from applications.anomaly_detector.sample_data import generate_series, write_series

    app = DetectorCommands()
    stamps, values = generate_series(points=400, seed=1)
    write_series(runs / "series.csv", stamps, values)
    make_model(app, runs / "runs" / "detector", "--train", runs / "series.csv",
               "--set", "window=16", "--set", "encoder.nodes=[8]", "--set", "decoder_units=8",
               "--set", "season=none", metadata={"threshold": 0.5})

    from applications.anomaly_detector.model import AnomalyDetector

    detector = AnomalyDetector.load_model("runs/detector")
    result = detector.predict("series.csv")

    assert result["timestamps"] == stamps and result["threshold"] == 0.5
    assert result["scores"].shape == result["anomalies"].shape == (400,)
    np.testing.assert_array_equal(result["anomalies"], result["scores"] > 0.5)
    from_array = detector.detect(values)
    np.testing.assert_allclose(from_array["scores"], result["scores"], rtol=1e-5)
    code, out, err = cli(app, "predict", "--model", "runs/detector", "--input", "series.csv")
    assert code == 0, err
    rows = table_rows(out, ",")
    np.testing.assert_allclose([float(r[1]) for r in rows], result["scores"], rtol=1e-5)
    assert [r[2] == "1" for r in rows] == result["anomalies"].tolist()
    again = exported(app, "detector").predict("series.csv")
    np.testing.assert_allclose(again["scores"], result["scores"], rtol=1e-5)
    assert again["threshold"] == 0.5


def test_load_refuses_what_it_cannot_load(runs):
    from data.errors import InputError

    with pytest.raises(InputError):
        applications.load("runs")
