"""The notes' class pattern: ``App.load_model(path)``, ``load_all_data`` / ``load_all_batches``
for every sequence application, and ``train()`` fed by the generator.

The generator and the ``tf.data`` path are made to produce the same batches: no shuffling,
and every example shorter than 8 tokens, so the ``tf.data`` path's length buckets hold one
bucket whose batches are the examples in file order, as the generator's are. Only the
padding differs (the bucket's edge against each batch's longest), which masks and zero
loss weights make irrelevant; one epoch from each then gives the same loss.
"""

import keras
import numpy as np
import pytest

from applications.core.base import Application, load_model
from applications.core.inputs import as_training_data
from data.errors import InputError

WORDS = ["the", "a", "dog", "cat", "runs", "sleeps", "big", "small"]
TAGS = {"the": "DET", "a": "DET", "dog": "NOUN", "cat": "NOUN", "runs": "VERB",
        "sleeps": "VERB", "big": "ADJ", "small": "ADJ"}


def sentences(count=14, seed=0, longest=7):
    """``count`` sentences of 1 to ``longest`` words, the longest among them."""
    rng = np.random.default_rng(seed)
    out = [[WORDS[i] for i in rng.integers(0, len(WORDS), size=int(rng.integers(1, longest)))]
           for _ in range(count - 1)]
    return out + [["the", "big", "dog", "runs", "a", "small", "cat"][:longest]]


@pytest.fixture
def tagged_file(tmp_path):
    path = tmp_path / "tagged.tsv"
    path.write_text("".join("".join(f"{w}\t{TAGS[w]}\n" for w in s) + "\n"
                            for s in sentences()))
    return path


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / "texts.csv"
    rows = [" ".join(s) + "," + ("dogs" if "dog" in s else "cats" if "cat" in s else "none")
            for s in sentences(16, seed=1)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(" ".join(s) + "\t" + " ".join(reversed(s)).upper() + "\n"
                            for s in sentences(12, seed=2, longest=6)))
    return path


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("the cat sat on the mat.\n" * 8)  # 192 characters
    return path


def tagger_case(path):
    from applications.pos_tagger.config import TaggerConfig
    from applications.pos_tagger.model import PosTagger
    from applications.pos_tagger.pipeline import load_all_batches, load_all_data
    from data.sequence_batches import bucketed_dataset, encode_sentences
    from data.tagged_text import read_tagged

    config = TaggerConfig(word_dim=6, char_dim=4, embedding_dropout=0.0, word_dropout=0.0,
                          char_encoder={"name": "rnn", "cell": "gru", "nodes": [5]},
                          encoder={"name": "rnn", "cell": "gru", "nodes": [7]},
                          batch_size=4, batch_tokens=0, learning_rate=0.01)
    meta, _, _ = load_all_data(path, config=config)
    fast = bucketed_dataset(encode_sentences(read_tagged(path), meta), 4, shuffle=False)
    return (lambda: PosTagger(config.to_dict(), meta.get_config()), fast,
            lambda: load_all_batches(path, meta, config),
            lambda: load_all_data(path, meta.get_config(), config))


def classifier_case(path):
    from applications.text_classifier.config import ClassifierConfig
    from applications.text_classifier.model import TextClassifier
    from applications.text_classifier.pipeline import (encode_corpus, load_all_batches,
                                                       load_all_data, text_dataset)
    from data.text_table import read_text_table

    config = ClassifierConfig(embedding_dim=8, dropout=0.0, embedding_dropout=0.0,
                              encoder={"name": "rnn", "cell": "gru", "nodes": [6]},
                              batch_size=4, learning_rate=0.01)
    meta, _, _ = load_all_data(path, config=config)
    assert meta.task == "multiclass"
    table = read_text_table(path, meta.text_column, meta.label_columns)
    fast = text_dataset(encode_corpus(table.texts, meta), meta.encode_labels(table), 4,
                        shuffle=False)
    return (lambda: TextClassifier(config.to_dict(), meta.get_config()), fast,
            lambda: load_all_batches(path, meta, config),
            lambda: load_all_data(path, meta.get_config(), config))


def translator_case(path):
    from applications.translator.config import TranslatorConfig
    from applications.translator.model import Translator
    from applications.translator.pipeline import (corpus_tokens, encode_pairs,
                                                  load_all_batches, load_all_data,
                                                  translation_dataset)
    from data.parallel_text import read_tab_pairs

    config = TranslatorConfig(embedding_dim=8, decoder_units=8, attention_units=8,
                              output_dim=8, dropout=0.0, min_count=1, batch_size=4,
                              encoder={"name": "rnn", "cell": "gru", "nodes": [8]})
    meta, _, _ = load_all_data(path, config=config)
    tokens = corpus_tokens(read_tab_pairs(path), meta.lowercase_source, meta.lowercase_target)
    fast = translation_dataset(*encode_pairs(*tokens, meta), 4, shuffle=False)
    return (lambda: Translator(config.to_dict(), meta.get_config()), fast,
            lambda: load_all_batches(path, meta, config),
            lambda: load_all_data(path, meta.get_config(), config))


def language_model_case(path):
    from applications.language_model.config import LanguageModelConfig
    from applications.language_model.model import LanguageModel
    from applications.language_model.pipeline import (load_all_batches, load_all_data,
                                                      metadata_vocabulary, read_tokens,
                                                      window_dataset)

    # 192 characters: 191 next-token targets, ten 19-token windows and one target left
    # over, which the generator leaves out. Given the first 191 ids, the tf.data path has
    # nothing left over either (no extra tail window) and the same ten windows.
    config = LanguageModelConfig(window=19, embedding_dim=8, batch_size=5,
                                 encoder={"name": "rnn", "cell": "gru", "nodes": [8]})
    meta, _, _ = load_all_data(path, config=config)
    ids = metadata_vocabulary(meta).encode(read_tokens(path, "char"))[:191]
    fast = window_dataset(ids, 19, 5)
    return (lambda: LanguageModel(config.to_dict(), meta), fast,
            lambda: load_all_batches(path, meta, config),
            lambda: load_all_data(path, meta, config))


CASES = {"pos_tagger": (tagger_case, "tagged_file"),
         "text_classifier": (classifier_case, "table_file"),
         "translator": (translator_case, "pairs_file"),
         "language_model": (language_model_case, "text_file")}


def assert_same_batches(first, second):
    """Equal batches once both are zero-padded to the longer one's length."""
    first, second = list(first), list(second)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        a, b = keras.tree.flatten(a), keras.tree.flatten(b)
        assert len(a) == len(b)
        for x, y in zip(a, b):
            x, y = np.asarray(x), np.asarray(y)
            if x.ndim > 1 and x.shape[1] != y.shape[1]:
                width = max(x.shape[1], y.shape[1])
                pad = lambda v: np.pad(v, [(0, 0), (0, width - v.shape[1])]
                                       + [(0, 0)] * (v.ndim - 2))
                x, y = pad(x), pad(y)
            np.testing.assert_array_equal(x, y)


@pytest.mark.integration
@pytest.mark.parametrize("app", sorted(CASES))
def test_generator_and_tf_data_train_to_the_same_loss(app, request, tmp_path):
    make_case, fixture = CASES[app]
    build, fast, batches, _ = make_case(request.getfixturevalue(fixture))
    model = build()
    assert_same_batches(as_training_data(model, batches), fast)

    losses, weights = [], []
    for name, data in (("tf_data", fast), ("generator", batches)):
        keras.utils.set_random_seed(0)
        model = build()
        history = model.train(data, None, str(tmp_path / name), epochs=1, verbose=0)
        losses.append(history["loss"][0])
        weights.append(model.get_weights())
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.integration
def test_train_takes_a_generator_object_and_a_list(text_file, tmp_path):
    build, _, batches, _ = language_model_case(text_file)
    keras.utils.set_random_seed(0)
    history = build().train(batches(), None, str(tmp_path / "once"), epochs=2, verbose=0)
    keras.utils.set_random_seed(0)
    again = build().train(list(batches()), None, str(tmp_path / "list"), epochs=2, verbose=0)
    assert len(history["loss"]) == 2 and history["loss"] == pytest.approx(again["loss"])


@pytest.mark.integration
def test_train_with_nothing_left_gives_the_best_weights(text_file, tmp_path):
    build, fast, _, _ = language_model_case(text_file)
    keras.utils.set_random_seed(0)
    assert build().train(fast, fast, str(tmp_path / "run"), epochs=2, verbose=0)
    again = build()  # fresh weights; the run's checkpoint holds its last epoch's
    assert again.train(fast, fast, str(tmp_path / "run"), epochs=2, verbose=0) == {}
    for a, b in zip(again.get_weights(), load_model(tmp_path / "run").get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("app", sorted(CASES))
def test_load_all_data_and_batches_shapes(app, request):
    make_case, fixture = CASES[app]
    build, _, batches, load_data = make_case(request.getfixturevalue(fixture))
    meta, X, Y = load_data()  # given the metadata (a model's, as a dict): kept as it is
    first_x, first_y = next(batches())
    n = len(keras.tree.flatten(X)[0])
    assert all(len(leaf) == n for leaf in keras.tree.flatten(X)) and len(Y) == n
    assert Y.dtype == np.float32 and set(np.unique(Y)) <= {0.0, 1.0}
    assert Y.shape[-1] == first_y.shape[-1]
    if app == "text_classifier":
        assert X.shape == (16, 7) and Y.shape == (16, 3) and (Y.sum(-1) == 1).all()
        assert first_x.shape[0] == 4 and first_y.shape == (4, 3)
    elif app == "language_model":
        assert X.shape == (10, 19) and Y.shape == (10, 19, len(meta["vocabulary"]["items"]) + 2)
        assert meta == build().metadata
        assert first_x.shape == (5, 19) and first_y.shape == (5, 19, Y.shape[-1])
        np.testing.assert_array_equal(Y[:, :-1].argmax(-1), X[:, 1:])  # Y is X one ahead
    else:
        features = X if app == "pos_tagger" else {"target_in": X["target_in"]}
        steps = features.get("words", features.get("target_in"))
        assert Y.shape[:2] == steps.shape
        # Every real position has one 1 in Y; padding (id 0 in X) has none.
        np.testing.assert_array_equal(Y.sum(-1), steps > 0)
        first_steps = first_x["words"] if app == "pos_tagger" else first_x["target_in"]
        assert first_steps.shape[0] == 4
        assert first_steps.shape[1] == (first_steps > 0).sum(1).max()  # padded per batch
        if app == "pos_tagger":
            assert X["chars"].shape[:2] == X["words"].shape and Y.shape == (14, 7, 5)


def test_load_model_is_a_class_method_that_knows_its_application(tagged_file, table_file,
                                                                 tmp_path):
    from applications.pos_tagger.model import PosTagger
    from applications.text_classifier.model import TextClassifier

    saved = {}
    for name, (make_case, path) in {"tagger": (tagger_case, tagged_file),
                                    "classifier": (classifier_case, table_file)}.items():
        build, fast, _, _ = make_case(path)
        model = build()
        model.compile(loss=model.make_loss())
        model(next(iter(fast))[0])
        model.save_to(str(tmp_path / name))
        saved[name] = model

    tagger = PosTagger.load_model(tmp_path / "tagger")
    assert type(tagger) is PosTagger
    for a, b in zip(tagger.get_weights(), saved["tagger"].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert type(TextClassifier.load_model(str(tmp_path / "classifier"))) is TextClassifier
    assert type(Application.load_model(tmp_path / "classifier")) is TextClassifier
    assert type(load_model(tmp_path / "tagger")) is PosTagger  # the module function stays

    with pytest.raises(InputError) as refused:
        PosTagger.load_model(tmp_path / "classifier")
    message = str(refused.value)
    assert "holds a TextClassifier model, not a PosTagger" in message
    assert "\n" not in message and message.startswith(str(tmp_path / "classifier"))
    with pytest.raises(InputError, match="no saved model here"):
        PosTagger.load_model(tmp_path / "nothing")


def test_an_ensemble_loads_as_its_members_application(text_file, tmp_path):
    from applications.core.ensemble import Ensemble
    from applications.language_model.model import LanguageModel
    from applications.text_classifier.model import TextClassifier

    build, fast, _, _ = language_model_case(text_file)
    member = build()
    pair = Ensemble(member.config, member.metadata, "encore>LanguageModel", 2)
    pair(next(iter(fast))[0])
    pair.save_to(str(tmp_path / "pair"))
    assert type(LanguageModel.load_model(tmp_path / "pair")) is Ensemble
    assert type(Ensemble.load_model(tmp_path / "pair")) is Ensemble
    with pytest.raises(InputError, match="holds a LanguageModel model, not a TextClassifier"):
        TextClassifier.load_model(tmp_path / "pair")
