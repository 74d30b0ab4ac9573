import numpy as np
import pytest

from data import (InputError, TaggingMetadata, Vocabulary, bucketed_dataset, encode_sentences,
                  load_all_batches, load_all_data, read_conllu, read_two_column)

CONLLU = """# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_conllu_skips_ranges_and_empty_nodes(tmp_path):
    sentences = read_conllu(write(tmp_path, "a.conllu", CONLLU))
    assert sentences[0].tokens == ["I", "do", "n't", "know", "."]
    assert sentences[0].tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert sentences[0].lines == [3, 5, 6, 8, 9]
    assert sentences[1].tokens == ["Hello"]
    xpos = read_conllu(write(tmp_path, "a.conllu", CONLLU), "xpos")
    assert xpos[0].tags == ["PRP", "VBP", "RB", "VB", "."]


def test_crlf_and_bom_are_accepted(tmp_path):
    text = "\ufeff" + CONLLU.replace("\n", "\r\n")
    assert read_conllu(write(tmp_path, "b.conllu", text)) == read_conllu(
        write(tmp_path, "c.conllu", CONLLU))
    two = write(tmp_path, "d.tsv", "\ufeffThe\tDET\r\ncat\tNOUN\r\n\r\n")
    assert read_two_column(two)[0].tokens == ["The", "cat"]


def test_two_column_and_conll2003(tmp_path):
    text = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"
    sentences = read_two_column(write(tmp_path, "ner.txt", text))
    assert [s.tags for s in sentences] == [["B-ORG", "O"], ["B-PER"]]


@pytest.mark.parametrize("text,line,message", [
    ("1\tThe\tthe\tDET\n", 1, "expected 10"),
    ("1\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_\tEXTRA\n", 1, "expected 10"),
    ("# c\nx\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n", 2, "not an integer"),
    ("1\tA\ta\tDET\tDT\t_\t0\troot\t_\t_\n3\tB\tb\tX\tX\t_\t0\troot\t_\t_\n", 2, "out of order"),
    ("1-x\tA\t_\t_\t_\t_\t_\t_\t_\t_\n", 1, "not an integer"),
    ("1\tA\ta\t_\tDT\t_\t0\troot\t_\t_\n", 1, "empty"),
])
def test_conllu_errors_name_the_line(tmp_path, text, line, message):
    path = write(tmp_path, "bad.conllu", text)
    with pytest.raises(InputError, match=message) as err:
        read_conllu(path)
    assert str(err.value).startswith(f"{path}:{line}:")


@pytest.mark.parametrize("payload,line,message", [
    (b"", None, "empty"),
    (b"# only\n# comments\n", None, "no sentences"),
    (b"1\tA\ta\tDET\tDT\t_\t0\troot\t_\t_\n1\tB\xff\tb\tX\tX\t_\t0\troot\t_\t_\n", 2, "UTF-8"),
])
def test_conllu_file_level_errors(tmp_path, payload, line, message):
    path = write(tmp_path, "bad.conllu", payload)
    with pytest.raises(InputError, match=message) as err:
        read_conllu(path)
    prefix = f"{path}:{line}:" if line else f"{path}:"
    assert str(err.value).startswith(prefix)


def test_missing_file_and_two_column_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_two_column(tmp_path / "nope.tsv")
    with pytest.raises(InputError, match="found 1 column") as err:
        read_two_column(write(tmp_path, "x.tsv", "The\tDET\ncat\n"))
    assert ":2:" in str(err.value)
    with pytest.raises(InputError, match="empty"):
        read_two_column(write(tmp_path, "e.tsv", "\n\n"))


def test_vocabulary_round_trip(tmp_path):
    vocab = Vocabulary.build([["b", "a", "b"], ["c"]], min_count=1)
    assert vocab.items[:2] == ["<pad>", "<unk>"] and vocab.items[2] == "b"
    assert vocab.encode(["b", "zz"]) == [2, 1]
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").items == vocab.items
    assert Vocabulary.build([["a", "b", "a"]], min_count=2).items == ["<pad>", "<unk>", "a"]
    labels = Vocabulary.build([["X"]], unk=False)
    with pytest.raises(KeyError):
        labels.encode(["Y"])


def test_unknown_tag_names_file_and_line(tmp_path):
    train = read_two_column(write(tmp_path, "t.tsv", "a\tX\nb\tY\n"))
    meta = TaggingMetadata.from_sentences(train)
    dev_path = write(tmp_path, "d.tsv", "a\tX\n\nb\tZ\n")
    with pytest.raises(InputError, match="'Z' was never seen") as err:
        encode_sentences(read_two_column(dev_path), meta, dev_path)
    assert str(err.value).startswith(f"{dev_path}:3:")


def test_long_words_keep_prefix_and_suffix(tmp_path):
    word = "Internationalisations"
    meta = TaggingMetadata.from_sentences(
        read_two_column(write(tmp_path, "w.tsv", f"{word}\tNOUN\nab\tX\n")))
    chars = meta.encode_tokens([word, "ab"])["chars"]
    assert "".join(meta.chars.decode(chars[0])) == "Internat" + "isations"
    assert "".join(meta.chars.decode(chars[1][:2])) == "ab" and (chars[1][2:] == 0).all()


def test_load_all_data_and_batches_agree_with_tf_data(tmp_path):
    lines = []
    rng = np.random.default_rng(0)
    for i in range(40):
        n = int(rng.integers(1, 12))
        lines += [f"w{int(rng.integers(0, 9))}\t{'AB'[j % 2]}" for j in range(n)] + [""]
    path = write(tmp_path, "c.tsv", "\n".join(lines) + "\n")
    meta, X, Y = load_all_data(path)
    assert X["words"].shape[0] == 40 and Y.shape[:2] == X["words"].shape
    assert Y.shape[2] == len(meta.tags) and np.allclose(Y.sum(-1), X["words"] > 0)

    examples = encode_sentences(read_two_column(path), meta)
    plain = set()
    for xb, yb in load_all_batches(examples, 8, len(meta.tags), seed=1):
        assert xb["words"].shape[1] == max(int((row > 0).sum()) for row in xb["words"])
        for words, tags in zip(xb["words"], yb.argmax(-1)):
            n = int((words > 0).sum())
            plain.add((tuple(words[:n]), tuple(tags[:n])))
    fast = set()
    for xb, yb, wb in bucketed_dataset(examples, 8, seed=1):
        for words, tags, weights in zip(xb["words"].numpy(), yb.numpy(), wb.numpy()):
            n = int(weights.sum())
            assert (words[n:] == 0).all()
            fast.add((tuple(words[:n]), tuple(tags[:n])))
    assert plain == fast and len(plain) > 20


def test_token_cap_bounds_batches_and_keeps_every_sentence(tmp_path):
    rng = np.random.default_rng(1)
    lines = []
    for i in range(120):
        lines += [f"w{i}_{j}\tX" for j in range(int(rng.integers(1, 60)))] + [""]
    examples = encode_sentences(read_two_column(write(tmp_path, "l.tsv", "\n".join(lines))),
                                TaggingMetadata.from_sentences(
                                    read_two_column(tmp_path / "l.tsv")))

    def batches(max_tokens):
        ds = bucketed_dataset(examples, 8, seed=3, max_tokens=max_tokens)
        shapes, firsts = [], []
        for xb, _, _ in ds:
            shapes.append(xb["words"].shape)
            firsts += [int(row[0]) for row in xb["words"].numpy()]
        assert len(shapes) == int(ds.cardinality())
        assert sorted(firsts) == sorted(int(feats["words"][0]) for feats, _ in examples)
        return shapes

    capped = batches(64)
    assert all(rows * width <= 64 for rows, width in capped)
    assert max(rows for rows, _ in capped) == 8  # short sentences still fill a batch
    assert max(rows * width for rows, width in batches(0)) > 64


def test_sampled_windows_make_fixed_epochs_of_contiguous_text():
    from applications.language_model.pipeline import window_dataset
    from data.epoch_order import EpochOrder

    ids = np.arange(1, 101, dtype=np.int32)
    order = EpochOrder()
    dataset = window_dataset(ids, window=8, batch_size=4, shuffle=True, seed=3, order=order,
                             steps=5)
    passes = []
    for epoch in (0, 1, 0):
        order.set(epoch)
        batches = list(dataset.as_numpy_iterator())
        assert len(batches) == 5 and dataset.cardinality() == 5
        x = np.concatenate([b[0] for b in batches])
        y = np.concatenate([b[1] for b in batches])
        # Each window is a run of the text and its targets the same run one token on.
        assert np.all(np.diff(x, axis=1) == 1) and np.all(y == x + 1)
        assert x.min() >= 1 and y.max() <= 100 and np.all(batches[0][2] == 1)
        passes.append(x[:, 0])
    assert not np.array_equal(passes[0], passes[1])
    np.testing.assert_array_equal(passes[0], passes[2])  # an epoch's draw is repeatable
    assert len(set(passes[0])) > 10  # starts spread over the text


@pytest.mark.parametrize("length,window,stride", [(100, 8, 8), (100, 8, 3), (97, 8, 1),
                                                   (9, 8, 4), (64, 16, 5)])
def test_scoring_windows_score_every_target_once(length, window, stride):
    from applications.language_model.pipeline import window_dataset

    ids = np.arange(length, dtype=np.int32)
    scored = []  # (target, tokens before it in its window)
    for x, y, w in window_dataset(ids, window, batch_size=3, stride=stride).as_numpy_iterator():
        assert np.all(y == x + 1) or np.all(w[np.any(y != x + 1, axis=1)] == 0)
        rows, places = np.nonzero(w)
        scored += [(int(y[r, p]), p) for r, p in zip(rows, places)]
    targets = sorted(t for t, _ in scored)
    assert targets == list(range(1, length))
    assert all(context >= window - stride for t, context in scored if t > window)
    if stride == window:  # the same batches as without a stride
        plain, strided = (list(window_dataset(ids, window, 3, stride=s).as_numpy_iterator())
                          for s in (0, stride))
        assert len(plain) == len(strided)
        for a, b in zip(plain, strided):
            for u, v in zip(a, b):
                np.testing.assert_array_equal(u, v)


def test_training_pipelines_run_without_autotuning(tmp_path):
    # Autotuning's thread stalled the start of epochs (data.epoch_order.epoch_pipeline_options).
    from applications.language_model.pipeline import window_dataset
    from data.image_batches import image_batches

    path = write(tmp_path, "a.conllu", CONLLU)
    examples = encode_sentences(read_conllu(path), TaggingMetadata.from_sentences(
        read_conllu(path)))
    for ds in (bucketed_dataset(examples, 4, seed=1),
               window_dataset(np.arange(50), window=5, batch_size=2, shuffle=True),
               image_batches(np.zeros((6, 4, 4, 1), np.uint8), np.arange(6), 4)):
        assert ds.options().autotune.enabled is False
        assert len(list(ds)) == int(ds.cardinality())


# The split each application made before data.tokenize existed, on the same four sentences:
# the shared tokenizer must reproduce every one of them.
SENTENCES = ["I don't know, Bob's car.", "DON'T STOP! It's 1990's...",
             "<br />They'll say we'd've gone (maybe)", "shouldn't've; naïve café's ¿sí?"]
EXPECTED_SPLITS = {
    "pos_tagger": [
        ["I", "do", "n't", "know", ",", "Bob", "'s", "car", "."],
        ["DO", "N'T", "STOP", "!", "It", "'s", "1990", "'s", ".", ".", "."],
        ["<br", "/>They", "'ll", "say", "we", "'d've", "gone", "(", "maybe", ")"],
        ["should", "n't", "'ve", ";", "naïve", "café's", "¿sí", "?"]],
    "text_classifier": [
        ["i", "do", "n't", "know", ",", "bob", "'s", "car", "."],
        ["do", "n't", "stop", "!", "it", "'s", "1990's", ".", ".", "."],
        ["they", "'ll", "say", "we", "'d've", "gone", "(", "maybe", ")"],
        ["should", "n't", "'ve", ";", "naïve", "café", "'s", "¿", "sí", "?"]],
    "translator": [
        ["I", "do", "n't", "know", ",", "Bob", "'s", "car", "."],
        ["DON'T", "STOP", "!", "It", "'s", "1990's", ".", ".", "."],
        ["<", "br", "/", ">", "They", "'ll", "say", "we", "'d've", "gone", "(", "maybe", ")"],
        ["should", "n't've", ";", "naïve", "café", "'s", "¿", "sí", "?"]],
    "language_model": [
        ["I", "don't", "know", ",", "Bob's", "car", "."],
        ["DON'T", "STOP", "!", "It's", "1990's", ".", ".", "."],
        ["<", "br", "/", ">", "They'll", "say", "we'd've", "gone", "(", "maybe", ")"],
        ["shouldn't've", ";", "naïve", "café's", "¿", "sí", "?"]],
}


def _tokenizers():
    from applications.language_model.pipeline import word_tokens
    from applications.pos_tagger.serving import tokenize as tagger
    from applications.text_classifier.serving import tokenize as classifier
    from applications.translator.text import tokenize as translator

    return {"pos_tagger": tagger, "text_classifier": classifier, "translator": translator,
            "language_model": word_tokens}


@pytest.mark.parametrize("app", sorted(EXPECTED_SPLITS))
def test_each_application_splits_words_as_before(app):
    import tensorflow as tf

    rows = _tokenizers()[app](tf.constant(SENTENCES)).to_list()
    assert [[t.decode() for t in row] for row in rows] == EXPECTED_SPLITS[app]


def test_python_word_lists_agree_with_the_graph_split():
    import tensorflow as tf

    from applications.translator.text import tokenize, tokenize_corpus
    from data.tokenize import split_words, word_lists

    for options in ({}, {"lowercase": True, "one_pass": True},
                    {"clitics": False}, {"letter": r"\w", "ignore_case": True}):
        graph = [[t.decode() for t in row]
                 for row in split_words(tf.constant(SENTENCES), **options).to_list()]
        assert word_lists(SENTENCES, chunk=3, **options) == graph
    assert tokenize_corpus(SENTENCES) == EXPECTED_SPLITS["translator"]
    assert tokenize(tf.constant(["DON'T"]), lowercase=True).to_list() == [[b"do", b"n't"]]


def test_language_model_reads_the_words_its_split_gives(tmp_path):
    from applications.language_model.pipeline import read_tokens

    path = write(tmp_path, "t.txt", "\n".join(SENTENCES) + "\n")
    expected = [t for row in EXPECTED_SPLITS["language_model"] for t in row + ["\n"]]
    assert read_tokens(path, "word") == expected


def test_held_out_split_is_seeded_and_unchanged():
    from data.splits import held_out_split

    kept, held = held_out_split(10, 0.3, seed=0)
    assert kept.tolist() == [0, 1, 3, 5, 7, 8, 9] and held.tolist() == [2, 4, 6]
    kept, held = held_out_split(7, 0.5, seed=3)
    assert kept.tolist() == [0, 3, 4] and held.tolist() == [1, 2, 5, 6]
    kept, held = held_out_split(5, 0.0, seed=1)
    assert kept.tolist() == [0, 1, 2, 3, 4] and held.size == 0


def test_padded_batches_pad_each_feature_and_one_hot_by_kind():
    from data.padded_batches import padded_batches, stack_examples

    per_token = [({"source": np.array([5, 6, 7]), "target_in": np.array([2, 8])},
                  np.array([8, 3])),
                 ({"source": np.array([9]), "target_in": np.array([2, 4, 4, 4])},
                  np.array([4, 4, 4, 3]))]
    x, y = stack_examples(per_token, one_hot_depth=10)
    assert x["source"].tolist() == [[5, 6, 7], [9, 0, 0]]
    assert x["target_in"].tolist() == [[2, 8, 0, 0], [2, 4, 4, 4]]
    assert y.shape == (2, 4, 10) and y.dtype == np.float32
    assert y[0].argmax(-1)[:2].tolist() == [8, 3] and not y[0, 2:].any()  # padding: all zero

    per_example = [(np.array([3, 4]), 0), (np.array([5]), 2), (np.array([6, 7, 8]), 1)]
    batches = list(padded_batches(per_example, 2, one_hot_depth=3))
    assert [b[0].shape for b in batches] == [(2, 2), (1, 3)]
    assert batches[0][1].tolist() == [[1, 0, 0], [0, 0, 1]]  # class 0 is a class here
    shuffled = list(padded_batches(per_example, 3, None, shuffle=True, seed=4))
    again = list(padded_batches(per_example, 3, None, shuffle=True, seed=4))
    assert sorted(shuffled[0][1].tolist()) == [0, 1, 2]
    assert shuffled[0][1].tolist() == again[0][1].tolist()


def test_a_16_bit_png_reads_as_tensorflow_decodes_it(tmp_path):
    """The export decodes with TensorFlow; training and predict read files with PIL."""
    import tensorflow as tf
    from PIL import Image

    from data.image_files import decode_image_file

    deep = tmp_path / "deep.png"
    Image.fromarray(np.arange(0, 65536, 1024, dtype=np.uint16).reshape(8, 8)).save(deep)
    decoded = tf.io.decode_image(deep.read_bytes(), channels=1).numpy()[..., 0]
    np.testing.assert_array_equal(decode_image_file(deep), decoded)
    assert decoded.min() == 0 and decoded.max() == 252  # the whole range, not clipped


def test_the_graph_decodes_a_jpeg_as_the_folder_reader_does(tmp_path):
    """Exports decode in the graph; training and predict read files with PIL."""
    import tensorflow as tf
    from PIL import Image

    from data.image_decoding import decode_images
    from data.image_files import decode_image_file, fit_image

    rng = np.random.default_rng(0)
    pixels = (rng.random((40, 52, 3)) * 255).astype(np.uint8)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(photo, quality=85)
    decoded = decode_images(tf.constant([photo.read_bytes()]), 40, 52, 3).numpy()[0]
    np.testing.assert_array_equal(decoded, decode_image_file(photo))
    gray = decode_images(tf.constant([photo.read_bytes()]), 40, 52, 1).numpy()
    folder_gray = fit_image(decode_image_file(photo), (40, 52), 1)
    assert np.abs(gray[0].astype(int) - folder_gray.astype(int)).max() <= 1  # float rounding
