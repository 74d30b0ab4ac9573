import keras
import numpy as np
import pytest

from applications.text_classifier.config import ClassifierConfig
from applications.text_classifier.model import TextClassifier
from applications.text_classifier.pipeline import TextMetadata
from applications.core.word_dropout import drop_words, word_drop_probabilities
from data import Vocabulary


def test_rare_words_are_dropped_more_and_specials_never():
    vocabulary = Vocabulary(["common", "rare"], counts=[99, 1])
    probabilities = word_drop_probabilities(vocabulary, alpha=1.0)
    np.testing.assert_allclose(probabilities, [0.0, 0.0, 0.01, 0.5])
    ids = np.tile(np.array([[0, 1, 2, 3]], "int32"), (20000, 1))
    dropped = np.asarray(drop_words(ids, probabilities, keras.random.SeedGenerator(0))) == 1
    np.testing.assert_allclose(dropped[:, 2:].mean(axis=0), [0.01, 0.5], atol=0.01)
    assert not dropped[:, 0].any()  # padding stays padding


@pytest.mark.parametrize("alpha", [0.0, 2.0])
def test_classifier_trains_the_unknown_word_vector_only_with_word_dropout(alpha):
    words = Vocabulary([f"w{i}" for i in range(10)], counts=[1] * 10)
    meta = TextMetadata(words, ["neg", "pos"], "binary", "text", ["label"], 6)
    config = ClassifierConfig(word_dropout=alpha, embedding_dim=8, learning_rate=0.05,
                              encoder={"name": "cnn", "preset": "text", "filters": [4]})
    model = TextClassifier(config.to_dict(), meta.get_config())
    rng = np.random.default_rng(0)
    x = rng.integers(2, len(words), size=(64, 6)).astype("int32")  # no <unk> in the data
    y = (x[:, :1] % 2).astype("float32")
    model.compile_for_training()
    model.build_from_batch((x[:8], y[:8]))
    before = model.embeddings[0].embeddings.numpy()[1].copy()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    moved = np.abs(model.embeddings[0].embeddings.numpy()[1] - before).max()
    assert (moved > 1e-4) == (alpha > 0), moved
