"""Pretrained word vectors: the reader's formats, the shared embedding, and a run that uses them."""

import csv
import gzip
import struct

import keras
import numpy as np
import pytest

from data.errors import InputError
from data.vocabulary import Vocabulary
from data.word_vectors import read_word_vectors, vectors_for_vocabulary
from encoders.embeddings import (MultichannelEmbedding, assign_word_vectors, start_from_vectors,
                                 word_embedding)
from tests.helpers import cli, error_lines

WORDS = ["the", "good", "bad", "film", "superb", "awful"]


def vector(i, dim=4):
    return np.arange(dim, dtype=np.float32) + 10.0 * (i + 1)


def write_text(path, header=False, words=WORDS, dim=4):
    lines = [f"{len(words)} {dim}"] if header else []
    lines += [" ".join([w, *(f"{v:g}" for v in vector(i, dim))]) + (" " if header else "")
              for i, w in enumerate(words)]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_binary(path, words=WORDS, dim=4):
    body = b"".join(w.encode() + b" " + struct.pack(f"<{dim}f", *vector(i, dim)) + b"\n"
                    for i, w in enumerate(words))
    path.write_bytes(f"{len(words)} {dim}\n".encode() + body)
    return path


@pytest.mark.parametrize("name,header", [("glove.txt", False), ("wiki.vec", True),
                                         ("glove.txt.gz", False), ("cc.vec.gz", True)])
def test_text_formats_keep_only_the_words_asked_for(tmp_path, name, header):
    vectors = read_word_vectors(str(write_text(tmp_path / name, header)), {"good", "film", "zzz"})
    assert vectors.dim == 4 and sorted(vectors.vectors) == ["film", "good"]
    np.testing.assert_array_equal(vectors.vectors["film"], vector(3))


def test_word2vec_binary(tmp_path):
    vectors = read_word_vectors(str(write_binary(tmp_path / "w2v.bin")), {"awful", "the"})
    np.testing.assert_array_equal(vectors.vectors["awful"], vector(5))
    np.testing.assert_array_equal(vectors.vectors["the"], vector(0))


def test_case_variants_spaces_and_extension(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("the 1 1\nThe 2 2\nat home 3 3\nFilm 4 4\nfilm 5 5\nnew 6 6\nmore 7 7\n")
    vectors = read_word_vectors(str(path), {"The", "THE", "at home", "film"}, extend=1)
    assert vectors.vectors["The"].tolist() == [2, 2]  # its own row beats a case variant
    assert vectors.vectors["THE"].tolist() == [1, 1]  # the first variant seen
    assert vectors.vectors["at home"].tolist() == [3, 3]
    assert vectors.vectors["film"].tolist() == [5, 5]
    assert vectors.extra == ["new"] and vectors.vectors["new"].tolist() == [6, 6]


def test_extended_vocabulary_keeps_ids_and_adds_words(tmp_path):
    path = str(write_text(tmp_path / "v.txt"))
    vocab = Vocabulary(["film", "good"], counts=[5, 3])
    vectors, extended = vectors_for_vocabulary(path, vocab, extend=2)
    assert extended.items[:4] == vocab.items and extended.items[4:] == ["the", "bad"]
    assert extended.counts[4:] == [0, 0]
    again, same = vectors_for_vocabulary(path, extended, known=vectors)
    assert again is vectors and same is extended  # read once per run


@pytest.mark.parametrize("content,line,message", [
    ("good 1 2 3\nbad 1 2\n", 2, "expected 3 vector values, found 2"),
    ("good 1 2 3\nbad 1 x 3\n", 2, "not a number"),
])
def test_malformed_lines_name_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "v.txt"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        read_word_vectors(str(path), {"good", "bad"})
    assert err.value.line == line and message in str(err.value) and str(path) in str(err.value)
    with pytest.raises(InputError, match="no such word vectors file"):
        read_word_vectors(str(tmp_path / "missing.txt"), {"good"})


def test_right_rows_land_and_others_keep_their_values(tmp_path):
    vectors = read_word_vectors(str(write_text(tmp_path / "v.txt")), {"bad", "film", "nope"})
    items = ["<pad>", "<unk>", "film", "nope", "bad"]
    layer = word_embedding(len(items), 4, "fine_tune", pretrained=True)
    layer.build(None)
    before = keras.ops.convert_to_numpy(layer.embeddings).copy()
    assert "2 of 5 words" in start_from_vectors(layer, vectors, items)
    after = keras.ops.convert_to_numpy(layer.embeddings)
    np.testing.assert_array_equal(after[2], vector(3))
    np.testing.assert_array_equal(after[4], vector(2))
    np.testing.assert_array_equal(after[[0, 1, 3]], before[[0, 1, 3]])
    with pytest.raises(InputError, match="must be 4"):
        start_from_vectors(word_embedding(5, 8, pretrained=True), vectors, items)


def test_frozen_channel_stays_fixed_while_the_other_trains():
    layer = word_embedding(6, 3, "multichannel", pretrained=True)
    assert isinstance(layer, MultichannelEmbedding)
    matrix = np.tile(np.arange(6, dtype=np.float32)[:, None], (1, 3))
    assign_word_vectors(layer, matrix, np.ones(6, bool))
    model = keras.Sequential([keras.Input((2,), dtype="int32"), layer,
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.array([[2, 3], [4, 5]]), np.array([[5.0], [-5.0]]), epochs=3, verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.static.embeddings), matrix)
    assert not np.allclose(keras.ops.convert_to_numpy(layer.tuned.embeddings), matrix)
    assert not word_embedding(6, 3, "frozen", pretrained=True).trainable
    with pytest.raises(ValueError, match="word_vectors_mode"):
        word_embedding(6, 3, "static", pretrained=True)


@pytest.mark.integration
def test_classifier_trains_from_vectors_that_travel_in_the_model(tmp_path):
    from applications.core.base import load_model
    from applications.text_classifier.commands import ClassifierCommands
    from applications.text_classifier.pipeline import TextMetadata

    train = tmp_path / "train.csv"
    with open(train, "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["text", "label"])
        for i in range(24):
            rows.writerow([f"a {'good' if i % 2 else 'bad'} film", i % 2])
    vectors = write_text(tmp_path / "v.vec.gz", header=True)
    out = tmp_path / "run"
    code, _, err = cli(ClassifierCommands(), "train", "--train", train, "--out", out,
                       "--epochs", 1, "--set", f"word_vectors={vectors}",
                       "--set", "word_vectors_mode=multichannel",
                       "--set", "word_vectors_extend_vocab=1",
                       "--set", 'encoder={"name": "cnn", "preset": "text", "filters": [4]}')
    assert code == 0, err
    vectors.unlink()  # the trained model needs the file no more
    model = load_model(out)
    words = TextMetadata.from_config(model.metadata).words.items
    assert model.config["embedding_dim"] == 4 and "the" in words  # taken in from the file
    static = keras.ops.convert_to_numpy(model.embeddings[0].static.embeddings)
    for i, word in enumerate(WORDS):
        if word in words:
            np.testing.assert_array_equal(static[words.index(word)], vector(i))
    assert model.predict(["a superb film"])[0]["label"] in ("0", "1")
    code, _, err = cli(ClassifierCommands(), "train", "--train", train, "--out",
                       tmp_path / "x", "--set", f"word_vectors={tmp_path / 'none.txt'}")
    assert code == 2 and "none.txt: no such word vectors file" in error_lines(err)[0]


def test_tuning_trials_start_from_the_vectors(tmp_path):
    import argparse

    import keras_tuner

    from applications.text_classifier.commands import ClassifierCommands
    from applications.text_classifier.config import ClassifierConfig
    from tuning.hypermodel import ApplicationHyperModel
    from tuning.spaces import search_space

    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"a {w} film,{i % 2}\n"
                                              for i, w in enumerate(["good", "bad"] * 4)))
    config = ClassifierConfig(word_vectors=str(write_text(tmp_path / "v.txt")))
    args = argparse.Namespace(train=str(train), dev=None, text_column=None, label_columns=None)
    app = ClassifierCommands()
    space = search_space("text_classifier", ["embedding_dim=4", "encoder.name=cnn"])
    model = ApplicationHyperModel(app, args, config, space, "false").build(
        keras_tuner.HyperParameters())
    words = model.metadata["words"]["items"]
    table = keras.ops.convert_to_numpy(model.embeddings[0].embeddings)
    np.testing.assert_array_equal(table[2 + words.index("film")], vector(3))
