"""The captioner: caption grammar, readers and their errors, the shared decoder and search,
and the Flickr8k-layout commands end to end on a ten-image folder."""

import gzip
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from applications.captioner.commands import CaptionerCommands
from applications.captioner.config import CaptionerConfig
from applications.captioner.model import Captioner
from applications.captioner.pipeline import (CaptionMetadata, caption_dataset, caption_rows,
                                             read_captions)
from applications.captioner.sample_data import captions_for, compose
from data import Vocabulary
from data.epoch_order import EpochOrder
from data.errors import InputError
from encoders import search
from encoders.search import output_vocabulary
from tests.helpers import assert_input_error, cli, error_lines

TINY = ["encoder.filters=[4,8]", "decoder_units=16", "embedding_dim=8", "output_dim=16",
        "attention_units=8", "max_length=8", "dev_split=0", "batch_size=4"]
WORDS = ["a", "red", "blue", "square", "circle", "left", "of"]


def test_caption_grammar_relates_items_by_cell():
    assert captions_for([("bag", 1, 1)])[0] == "a bag alone"
    assert captions_for([("coat", 2, 1), ("bag", 0, 1)])[:2] == [
        "a bag above a coat", "a coat below a bag"]
    three = captions_for([("ankle boot", 0, 2), ("bag", 0, 0), ("shirt", 2, 1)])
    assert three[0] == ("a bag to the left of a shirt to the left of an ankle boot")
    assert three[2].endswith("the bag on the left and the ankle boot on the right")
    pool = np.full((4, 28, 28), 200, np.uint8)
    canvases, captions, boxes = compose(pool, ["bag"] * 4, 20, 3, 32, 3,
                                        np.random.default_rng(0))
    assert canvases.shape == (20, 96, 96, 1) and all(len(c) == 3 for c in captions)
    for canvas, placed in zip(canvases, boxes):
        # Every item lies inside its box, and nothing is drawn outside the boxes.
        inside = np.zeros((96, 96), bool)
        for _, top, left, bottom, right in placed:
            assert bottom - top == 28 and right - left == 28 and top // 32 == (bottom - 1) // 32
            inside[top:bottom, left:right] = True
        assert canvas[..., 0][~inside].max() == 0 and canvas[..., 0][inside].min() == 200


def write_flickr(root, count=10, size=24):
    """``count`` PNGs in the Flickr8k layout: Flicker8k_Dataset/ and Flickr8k_text/."""
    images = os.path.join(root, "Flicker8k_Dataset")
    text = os.path.join(root, "Flickr8k_text")
    os.makedirs(images), os.makedirs(text)
    rng = np.random.default_rng(0)
    lines, names = [], []
    for i in range(count):
        name = f"{1000 + i}_photo.jpg" if i % 2 else f"{1000 + i}_photo.png"
        color = ("red", "blue")[i % 2]
        pixels = rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
        pixels[4:16, 4:16, 0 if color == "red" else 2] = 230
        Image.fromarray(pixels).save(os.path.join(images, name))
        names.append(name)
        lines += [f"{name}#0\tA {color} square .", f"{name}#1\ta {color} square left of a circle"]
    with open(os.path.join(text, "Flickr8k.token.txt"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    for split, part in (("train", names[:7]), ("dev", names[7:9]), ("test", names[7:])):
        with open(os.path.join(text, f"Flickr_8k.{split}Images.txt"), "w") as handle:
            handle.write("\n".join(part) + "\n")
    return images, text, names


def test_flickr_and_csv_layouts_read_alike(tmp_path):
    images, text, names = write_flickr(tmp_path)
    flickr = read_captions(os.path.join(text, "Flickr8k.token.txt"), images, size=(16, 16))
    assert flickr.names == names and flickr.images.shape == (10, 16, 16, 3)
    assert flickr.captions[0] == ["A red square .", "a red square left of a circle"]
    csv_path = tmp_path / "captions.csv"
    rows = [f'{os.path.join(images, n)},"{c}"' for n, cs in zip(names, flickr.captions)
            for c in cs]
    csv_path.write_text("image,caption\n" + "\n".join(rows) + "\n")
    table = read_captions(str(csv_path), "", keep=None, shape=(16, 16, 3))
    np.testing.assert_array_equal(table.images, flickr.images)
    assert table.captions == flickr.captions
    zipped = tmp_path / "captions.csv.gz"  # gzipped, the same CSV
    zipped.write_bytes(gzip.compress(csv_path.read_bytes()))
    assert read_captions(str(zipped), "", keep=None, shape=(16, 16, 3)).captions == \
        flickr.captions
    meta = CaptionMetadata.from_captions(sum(flickr.captions, []), (16, 16, 3),
                                         CaptionerConfig())
    assert meta.words.items[:4] == ["<pad>", "<unk>", "<s>", "</s>"] and "red" in meta.words
    indices, targets, counts = caption_rows(flickr, meta, max_length=5)
    # Only the 4-word caption fits 5 words: one row per image, <s> ... </s>.
    assert targets.shape == (10, 1, 7) and list(indices) == list(range(10))
    assert meta.words.decode(targets[0, 0, 1:5].tolist()) == ["a", "red", "square", "."]
    indices, targets, counts = caption_rows(flickr, meta, max_length=8)
    assert targets.shape == (10, 2, 10) and list(counts) == [2] * 10
    order = EpochOrder()
    ds = caption_dataset(flickr.images, indices, targets, counts, 4, per_image=1, order=order)
    seen = []
    for epoch in (0, 1):
        order.set(epoch)
        seen.append({tuple(row[0]) for x, _, _ in ds for row in x["target_in"].numpy()})
    # Each pass reads one caption per image; the two passes read both of them.
    assert len(seen[0]) == len(seen[1]) == 2 and seen[0] != seen[1]


@pytest.mark.parametrize("damage, line", [("missing", 3), ("undecodable", 1), ("empty", 4)])
def test_bad_caption_input_names_file_and_line(tmp_path, damage, line):
    images, text, names = write_flickr(tmp_path, count=3)
    captions = os.path.join(text, "Flickr8k.token.txt")
    lines = open(captions).read().splitlines()
    if damage == "missing":
        os.remove(os.path.join(images, names[1]))
    elif damage == "undecodable":
        open(os.path.join(images, names[0]), "wb").write(b"\x89PNG not really")
    else:
        lines[3] = lines[3].split("\t")[0] + "\t  "
    open(captions, "w").write("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        read_captions(captions, images)
    assert (caught.value.path, caught.value.line) == (captions, line)
    out = tmp_path / "run"
    assert_input_error(CaptionerCommands(), ["train", "--train", captions, "--images", images,
                                             "--out", out], captions, line)
    assert not out.exists()


def tiny_model(attention, feed="context"):
    meta = CaptionMetadata(output_vocabulary(Vocabulary(WORDS)), 16, 16, 1)
    config = CaptionerConfig(attention=attention, feed=feed, encoder={
        "name": "cnn", "filters": [4, 8], "pooling": "max"}, decoder_units=8,
        embedding_dim=6, output_dim=8, attention_units=4, max_length=6,
        scheduled_sampling=1.0, dropout=0.0).to_dict()
    return Captioner(config, meta.get_config())


@pytest.mark.parametrize("attention,feed", [("luong", "context"), ("bahdanau", "context"),
                                            ("bahdanau", "where")])
def test_captions_share_the_decoder_and_search(attention, feed):
    model = tiny_model(attention, feed)
    images = np.random.default_rng(1).integers(0, 255, (2, 16, 16, 1), dtype=np.uint8)
    target_in = np.array([[[2, 4, 5, 6], [2, 7, 0, 0]], [[2, 8, 9, 0], [2, 4, 0, 0]]], np.int32)
    logits = model({"image": images, "target_in": target_in}).numpy()
    assert logits.shape == (2, 2, 4, 11)
    # Each image's features are computed once for its K captions: same as one at a time.
    single = model({"image": images[1:], "target_in": target_in[1, :1]}).numpy()
    np.testing.assert_allclose(single[0], logits[1, 0], atol=1e-5)
    # Scheduled sampling (ratio 1) in training: after the first step the model reads its
    # own previous guesses, not the reference words.
    sampled = model({"image": images, "target_in": target_in}, training=True).numpy()
    assert sampled.shape == logits.shape
    np.testing.assert_allclose(sampled[:, :, 0], logits[:, :, 0], atol=1e-5)
    assert not np.allclose(sampled[:, :, 1:], logits[:, :, 1:], atol=1e-4)
    greedy = search.greedy_decode(model, tf.constant(images), max_steps=model.max_steps)
    beam = search.beam_decode(model, tf.constant(images), 1, max_steps=model.max_steps)
    np.testing.assert_array_equal(greedy[0], beam[0])
    assert greedy[1].shape[2] == 16  # a 4x4 grid: attention over 16 positions
    np.testing.assert_allclose(tf.reduce_sum(greedy[1], -1)[:, 0], 1.0, atol=1e-5)
    assert search.beam_decode(model, tf.constant(images), 3, max_steps=3)[0].shape[1] <= 3


@pytest.mark.parametrize("feed", ["context", "where"])
def test_feeding_where_keeps_what_was_seen_out_of_the_state(feed):
    model = tiny_model("bahdanau", feed)
    images = np.random.default_rng(2).integers(0, 255, (1, 16, 16, 1), dtype=np.uint8)
    target_in = tf.constant([[2, 4, 5, 6, 7]])
    memory = model.encode(images)
    # The same keys (so the same first attention) over different values: only what the
    # GRU reads of each context can make later attention differ.
    other = dict(memory, values=memory["values"] + 1.0)
    _, weights = model.decoder.teacher_forced(target_in, memory)
    _, other_weights = model.decoder.teacher_forced(target_in, other)
    same = np.allclose(weights.numpy(), other_weights.numpy(), atol=1e-6)
    assert same == (feed == "where")


@pytest.mark.integration
def test_flickr8k_commands_train_evaluate_predict_plot_export(tmp_path):
    images, text, names = write_flickr(tmp_path)
    run, export = tmp_path / "runs" / "flickr8k", tmp_path / "export"
    commands = CaptionerCommands()
    code, _, err = cli(commands, "train", "--train", os.path.join(text, "Flickr8k.token.txt"),
                       "--images", images, "--train-list",
                       os.path.join(text, "Flickr_8k.trainImages.txt"), "--dev-list",
                       os.path.join(text, "Flickr_8k.devImages.txt"), "--set=image_size=[16,16]",
                       "--set=channels=3", *[f"--set={s}" for s in TINY], "--epochs", "1",
                       "--out", run)
    assert code == 0, err
    code, out, err = cli(commands, "evaluate", "--model", run, "--data",
                         os.path.join(text, "Flickr8k.token.txt"), "--images", images,
                         "--list", os.path.join(text, "Flickr_8k.testImages.txt"), "--json")
    assert code == 0, err
    scores = json.loads(out)
    assert scores["images"] == 3 and 0 <= scores["bleu_4"] <= scores["bleu_1"] <= 100
    assert "cider_d" in scores
    code, out, err = cli(commands, "predict", "--model", run, "--input", images, "--plot",
                         tmp_path / "plots", "--beam", "2")
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert [name for name, _ in rows] == sorted(names)
    assert sorted(os.listdir(tmp_path / "plots")) == [f"{i:04d}.png" for i in range(1, 11)]
    # An empty list of image paths is one line, from a file or standard input.
    (tmp_path / "none.txt").write_text("\n")
    assert_input_error(commands, ["predict", "--model", run, "--input", tmp_path / "none.txt"],
                       tmp_path / "none.txt")
    code, out, err = cli(commands, "predict", "--model", run, stdin="")
    assert code == 2 and out == "" and error_lines(err) == [
        "error: <stdin>: no image paths to caption (the list is empty)"], err
    code, _, err = cli(commands, "export", "--model", run, "--out", export)
    assert code == 0, err
    served = tf.saved_model.load(str(export)).signatures["serve"]
    payloads = [open(os.path.join(images, name), "rb").read() for name in sorted(names)]
    greedy = cli(commands, "predict", "--model", run, "--input", images)[1]
    captions = served(images=tf.constant(payloads))["captions"].numpy()
    assert [c.decode() for c in captions] == [line.split("\t")[1]
                                              for line in greedy.splitlines()]
    # A beam under 1 is refused by the exported `caption` signature and by the Python API.
    with pytest.raises(tf.errors.InvalidArgumentError, match="beam_size must be 1 or more"):
        tf.saved_model.load(str(export)).signatures["caption"](
            images=tf.constant(payloads[:1]), beam_size=tf.constant(0),
            length_penalty=tf.constant(1.0))
    with pytest.raises(ValueError, match="beam_size must be 1 or more"):
        Captioner.load_model(run).caption(os.path.join(images, names[0]), beam_size=0,
                                          length_penalty=1.0)
    for option, message in (("length_penalty=-1", "length_penalty must be finite"),
                            ("max_vocab=-1", "max_vocab must be 0"),
                            ("image_size=[16,0]", "image_size must be")):
        code, _, err = cli(commands, "train", "--out", tmp_path / "never", "--set", option)
        assert code == 2 and message in err, err
    assert not (tmp_path / "never").exists()
