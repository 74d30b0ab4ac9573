"""The image classifier end to end through its command line, on shape images drawn here."""

import gzip
import json
import struct

import numpy as np
import pytest

from applications.image_classifier.commands import ImageClassifierCommands
from applications.image_classifier.config import ImageClassifierConfig
from applications.image_classifier.model import ImageClassifier
from applications.image_classifier.pipeline import ImageMetadata
from applications.image_classifier.sample_data import SHAPES, generate_shapes
from data.images import read_idx, read_images
from tests.helpers import (assert_input_error, cli, cli_subprocess, error_lines,
                           load_saved_model_without_package)

APP = ImageClassifierCommands()
TINY = ["--set", "encoder.filters=[8,16]", "--set", "encoder.batch_norm=false",
        "--set", "hidden=[16]", "--set", "dropout=0.1",
        "--set", "learning_rate=0.01", "--batch-size", "16"]


def idx_bytes(array):
    """IDX as MNIST writes it: two zero bytes, type 0x08, the rank, big-endian sizes, data."""
    array = np.asarray(array, np.uint8)
    return struct.pack(f">HBB{array.ndim}I", 0, 0x08, array.ndim, *array.shape) + array.tobytes()


def write_idx_pair(folder, name, images, labels, packed=True):
    ids = np.array([SHAPES.index(label) for label in labels])
    paths = folder / f"{name}-images-idx3-ubyte", folder / f"{name}-labels-idx1-ubyte"
    for path, array in zip(paths, (images[..., 0], ids)):
        payload = idx_bytes(array)
        path.write_bytes(gzip.compress(payload) if packed else payload)
    return paths


def write_pngs(root, images, labels):
    from PIL import Image

    files = []
    for i, (image, label) in enumerate(zip(images, labels)):
        path = root / label / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0]).save(path)
        files.append(path)
    return files


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes")
    train, dev = generate_shapes(640, seed=11), generate_shapes(96, seed=12)
    return {"folder": folder, "train": train, "dev": dev,
            "train_idx": write_idx_pair(folder, "train", *train),
            "dev_idx": write_idx_pair(folder, "t10k", *dev, packed=False)}


@pytest.fixture(scope="module")
def trained(shapes, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "classifier"
    images, labels = shapes["train_idx"]
    dev_images, dev_labels = shapes["dev_idx"]
    code, _, err = cli(APP, "train", "--train", images, "--train-labels", labels,
                       "--dev", dev_images, "--dev-labels", dev_labels, "--out", out,
                       "--epochs", 5, "--seed", 1, *TINY,
                       "--set", f"class_names={json.dumps(list(SHAPES))}")
    assert code == 0, err
    return out


def test_idx_reader_reads_gzip_and_raw_alike(shapes):
    (images, labels), (gz_images, gz_labels) = shapes["train"], shapes["train_idx"]
    np.testing.assert_array_equal(read_idx(gz_images), images[..., 0])
    raw = shapes["folder"] / "raw-images"
    raw.write_bytes(gzip.decompress(gz_images.read_bytes()))
    np.testing.assert_array_equal(read_idx(raw), images[..., 0])
    image_set = read_images(gz_images, gz_labels)
    assert image_set.images.shape == (640, 28, 28, 1)
    assert image_set.labels == [str(SHAPES.index(label)) for label in labels]


@pytest.mark.integration
def test_train_evaluate_confusion_matrix_and_predict(trained, shapes, tmp_path):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["monitor"] == "val_accuracy" and metrics["epochs_completed"] == 5
    dev_images, dev_labels = shapes["dev_idx"]
    report = tmp_path / "report"
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", dev_images,
                         "--labels", dev_labels, "--json", "--report", report)
    assert code == 0, err
    result = json.loads(out)
    assert result["examples"] == 96 and result["accuracy"] > 0.6, result
    assert set(result["class_accuracy"]) == set(SHAPES)
    saved = json.loads((report / "evaluation.json").read_text())
    matrix = np.array(saved["confusion_matrix"])
    assert matrix.sum() == 96 and np.trace(matrix) / 96 == pytest.approx(result["accuracy"])
    assert (report / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    code, out, err = cli(APP, "predict", "--model", trained, "--input", dev_images)
    assert code == 0, err
    rows = [line.split("\t") for line in out.strip().splitlines()]
    assert rows[0] == ["source", "predicted", *SHAPES] and len(rows) == 97
    gold = shapes["dev"][1]
    assert np.mean([r[1] == g for r, g in zip(rows[1:], gold)]) == pytest.approx(
        result["accuracy"])


@pytest.mark.integration
def test_unseen_image_label_counts_as_an_error(trained, shapes, tmp_path):
    dev_images, dev_labels = shapes["dev_idx"]
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", dev_images,
                         "--labels", dev_labels, "--json", "--report", tmp_path / "known")
    assert code == 0, err
    known = json.loads(out)
    assert known["unseen_labels"] == 0
    # The same images, the first five labelled 9: a class the model was never trained on.
    images, labels = shapes["dev"]
    ids = np.array([SHAPES.index(label) for label in labels])
    ids[:5] = 9
    (tmp_path / "images").write_bytes(idx_bytes(images[..., 0]))
    (tmp_path / "labels").write_bytes(idx_bytes(ids))
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", tmp_path / "images",
                         "--labels", tmp_path / "labels", "--json", "--report", tmp_path / "r")
    assert code == 0, err
    result = json.loads(out)
    assert result["unseen_labels"] == 5 and result["examples"] == 96
    gold = json.loads((tmp_path / "known" / "evaluation.json").read_text())["confusion_matrix"]
    right_before = [row[i] for i, row in enumerate(gold)]
    matrix = np.array(json.loads((tmp_path / "r" / "evaluation.json").read_text())
                      ["confusion_matrix"])
    assert matrix.sum() == 91  # the five are outside the matrix, and wrong in accuracy
    assert round(result["accuracy"] * 96) == np.trace(matrix) <= sum(right_before)
    assert error_lines(err) == [f"warning: {tmp_path / 'images'}: 5 images carry a label "
                                "never seen in training (9); counted as errors"], err


@pytest.mark.integration
def test_folder_input_and_export_serves_png_bytes(trained, shapes, tmp_path):
    images, labels = shapes["dev"]
    files = write_pngs(tmp_path / "pngs", images[:12], labels[:12])
    code, out, err = cli(APP, "predict", "--model", trained, "--input", tmp_path / "pngs")
    assert code == 0, err
    rows = {r.split("\t")[0]: r.split("\t") for r in out.strip().splitlines()[1:]}
    assert len(rows) == 12

    export_dir = tmp_path / "export"
    code, _, err = cli(APP, "export", "--model", trained, "--out", export_dir)
    assert code == 0, err
    paths = [str(f) for f in files]
    served = load_saved_model_without_package(export_dir, (
        f"data = tf.stack([tf.io.read_file(p) for p in {paths!r}])\n"
        "out = model.signatures['serve'](images=data)\n"
        "print(json.dumps({'p': out['probabilities'].numpy().tolist(),\n"
        "  'names': [n.decode() for n in out['class_names'].numpy()[0]],\n"
        "  'predicted': [p.decode() for p in out['predicted'].numpy()]}))"))
    assert served["names"] == list(SHAPES)
    assert served["predicted"] == [rows[p][1] for p in paths]
    np.testing.assert_allclose(served["p"], [[float(v) for v in rows[p][2:]] for p in paths],
                               atol=2e-6)


@pytest.mark.integration
def test_train_on_class_folders_and_npz(shapes, tmp_path):
    images, labels = shapes["train"]
    write_pngs(tmp_path / "train", images[:160], labels[:160])
    out = tmp_path / "folders"
    code, _, err = cli(APP, "train", "--train", tmp_path / "train", "--out", out, "--epochs", 1,
                       "--set", "dev_split=0.25", *TINY)
    assert code == 0, err
    dev_images, dev_labels = shapes["dev"]
    npz = tmp_path / "dev.npz"
    np.savez(npz, x=dev_images[..., 0].astype(np.float32) / 255.0, y=np.array(dev_labels))
    code, text, err = cli(APP, "evaluate", "--model", out, "--data", npz, "--json")
    assert code == 0, err
    assert json.loads(text)["examples"] == 96


@pytest.mark.integration
def test_transfer_learning_freezes_then_fine_tunes(trained, shapes, tmp_path):
    from applications.core.base import load_model

    images, labels = shapes["train_idx"]
    source = load_model(trained)
    frozen = tmp_path / "frozen"
    code, _, err = cli(APP, "train", "--train", images, "--train-labels", labels, "--out",
                       frozen, "--epochs", 1, "--init-from", trained, "--freeze-encoder",
                       "--set", "learning_rate=0.05", "--batch-size", "32")
    assert code == 0, err
    assert "initialised the encoder and head" in err and "encoder frozen" in err
    head_only = load_model(frozen)
    assert head_only.config["encoder"] == source.config["encoder"]
    for mine, theirs in zip(head_only.encoder.get_weights(), source.encoder.get_weights()):
        np.testing.assert_array_equal(mine, theirs)  # batch-norm statistics included
    assert not np.allclose(head_only.head.get_weights()[0], source.head.get_weights()[0])

    tuned = tmp_path / "tuned"
    code, _, err = cli(APP, "train", "--train", images, "--train-labels", labels, "--out", tuned,
                       "--epochs", 1, "--init-from", frozen, "--batch-size", "32")
    assert code == 0, err
    fine = load_model(tuned)
    assert fine.encoder.trainable and fine.config["init_from"] == str(frozen)
    assert float(fine.make_optimizer().learning_rate) == pytest.approx(
        ImageClassifierConfig().fine_tune_learning_rate)
    changed = [not np.array_equal(a, b) for a, b in zip(fine.encoder.get_weights(),
                                                        head_only.encoder.get_weights())]
    assert any(changed)


def test_augmentation_only_in_training():
    config = ImageClassifierConfig(augment_rotation=0.05, augment_zoom=0.1,
                                   augment_flip="horizontal", dropout=0.0,
                                   encoder={"name": "cnn", "filters": [4], "dropout": 0.0})
    meta = ImageMetadata(28, 28, 1, ["a", "b"], ["a", "b"], 10)
    model = ImageClassifier(config.to_dict(), meta.get_config())
    assert [layer.name for layer in model.augment] == ["flip", "rotate", "zoom", "translate"]
    images = generate_shapes(4, seed=5)[0]
    first, again = model(images, training=False), model(images, training=False)
    np.testing.assert_array_equal(first, again)
    # In training mode (batch norm off here) the only difference is the augmentation.
    model.encoder.trainable = True
    assert not np.allclose(model(images, training=True), model(images, training=True))


@pytest.mark.parametrize("flip,axes", [("horizontal", [2]), ("horizontal_and_vertical", [1, 2])])
def test_test_time_flip_scores_mirror_images_alike(flip, axes):
    config = ImageClassifierConfig(augment_flip=flip, augment_translation=0.0,
                                   augment_rotation=0.0, dropout=0.0,
                                   encoder={"name": "cnn", "filters": [4], "dropout": 0.0})
    meta = ImageMetadata(28, 28, 1, ["a", "b"], ["a", "b"], 10)
    plain = ImageClassifier(config.to_dict(), meta.get_config())
    images = generate_shapes(4, seed=5)[0]
    mirrored = [np.flip(images, axis) for axis in axes]
    # Without it a mirror image scores differently; with it (same weights) the scores are the
    # mean over the image and its mirror images, so every mirror image scores the same.
    assert not np.allclose(plain(images), plain(mirrored[0]), atol=1e-6)
    config.test_time_flip = True
    averaged = ImageClassifier(config.to_dict(), meta.get_config())
    averaged(images)
    averaged.set_weights(plain.get_weights())
    expected = np.mean([plain(images)] + [plain(m) for m in mirrored], axis=0)
    np.testing.assert_allclose(averaged(images), expected, rtol=1e-5, atol=1e-6)
    if len(axes) == 1:
        np.testing.assert_allclose(averaged(mirrored[0]), averaged(images), rtol=1e-5, atol=1e-6)


IDX_DAMAGE = [
    ("short_header", lambda b: b[:3], "truncated IDX header"),
    ("cut_dims", lambda b: b[:10], "truncated IDX header"),
    ("bad_magic", lambda b: b"\x12\x34" + b[2:], "not an IDX file"),
    ("cut_pixels", lambda b: b[:-100], "truncated"),
    ("cut_gzip", lambda b: gzip.compress(b)[:200], "not a readable gzip file"),
]


@pytest.mark.parametrize("name,damage,message", IDX_DAMAGE, ids=[d[0] for d in IDX_DAMAGE])
def test_corrupt_idx_is_one_line_exit_2(shapes, tmp_path, name, damage, message):
    images, labels = shapes["train_idx"]
    bad = tmp_path / f"{name}-images-idx3-ubyte"
    bad.write_bytes(damage(gzip.decompress(images.read_bytes())))
    line = assert_input_error(APP, ["train", "--train", bad, "--train-labels", labels,
                                    "--out", tmp_path / "out"], bad)
    assert message in line
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_count_mismatch_unreadable_image_and_empty_class(trained, shapes, tmp_path):
    images, _ = shapes["train_idx"]
    short = tmp_path / "short-labels"
    short.write_bytes(idx_bytes(np.zeros(639)))
    line = assert_input_error(APP, ["train", "--train", images, "--train-labels", short,
                                    "--out", tmp_path / "out"], short)
    assert "639 label(s) for 640 image(s)" in line

    pixels, labels = shapes["dev"]
    files = write_pngs(tmp_path / "folder", pixels[:8], labels[:8])
    files[3].write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert_input_error(APP, ["evaluate", "--model", trained, "--data", tmp_path / "folder"],
                       files[3])
    files[3].unlink()
    (tmp_path / "folder" / "hexagon").mkdir()
    assert_input_error(APP, ["train", "--train", tmp_path / "folder", "--out",
                             tmp_path / "out"], tmp_path / "folder" / "hexagon")
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
def test_evaluate_keeps_a_report_folder_it_did_not_write(trained, shapes, tmp_path):
    dev_images, dev_labels = shapes["dev_idx"]
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "evaluation.json").write_text("my notes\n")
    line = assert_input_error(APP, ["evaluate", "--model", trained, "--data", dev_images,
                                    "--labels", dev_labels, "--report", folder],
                              folder / "evaluation.json")
    assert "not an evaluation report this package wrote" in line
    assert sorted(p.name for p in folder.iterdir()) == ["evaluation.json"]
    assert (folder / "evaluation.json").read_text() == "my notes\n"


@pytest.mark.integration
def test_usage_errors(trained, shapes, tmp_path):
    images, labels = shapes["train_idx"]
    for argv in (["--freeze-encoder"], ["--set", "augment_flip=diagonal"],
                 ["--set", "test_time_flip=true"], ["--init-from", tmp_path / "nothing"],
                 ["--set", 'image_size=["a","b"]'], ["--set", "image_size=[1.5,8]"],
                 ["--set", "image_size=[100000,8]"]):
        code, _, err = cli(APP, "train", "--train", images, "--train-labels", labels,
                           "--out", tmp_path / "x", *argv)
        assert code == 2 and len(error_lines(err)) == 1, err
    assert_input_error(APP, ["train", "--train", images, "--out", tmp_path / "x"], images)
    wrong = tmp_path / "big.npz"
    np.savez(wrong, x=np.zeros((2, 32, 32), np.uint8), y=np.array([0, 1]))
    line = assert_input_error(APP, ["evaluate", "--model", trained, "--data", wrong], wrong)
    assert "model takes 28x28x1" in line
    # A label the model never saw is scored as an error, not refused (see
    # test_unseen_image_label_counts_as_an_error); here through an .npz file.
    unseen = tmp_path / "unseen.npz"
    np.savez(unseen, x=np.zeros((2, 28, 28), np.uint8), y=np.array([0, 9]))
    code, text, err = cli(APP, "evaluate", "--model", trained, "--data", unseen, "--json",
                          "--report", tmp_path / "report")
    assert code == 0, err
    assert json.loads(text)["unseen_labels"] == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.integration
def test_default_data_through_a_subprocess(tmp_path):
    out = tmp_path / "shapes"
    result = cli_subprocess("image_classifier", "train", "--out", out, "--epochs", 1, *TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    code, text, err = cli(APP, "evaluate", "--model", out, "--json")
    assert code == 0, err
    assert json.loads(text)["examples"] == 400
    assert (out / "confusion_matrix.png").is_file()
