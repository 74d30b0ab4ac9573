"""The object detector: box geometry and loss on hand-computed cases, readers, scoring
against pycocotools, augmentation, and one run through the command line."""

import csv
import gzip
import json
import math
import os
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import applications
from applications.detector import boxes as box_ops
from applications.detector.augment import augment_batch
from applications.detector.commands import DetectorCommands
from applications.detector.model import detection_loss
from applications.detector.scoring import coco_scores, voc_average_precision
from data.detection_annotations import read_annotations
from data.detection_sets import detection_set
from data.errors import InputError
from tests.helpers import assert_input_error, cli, error_lines

APP = DetectorCommands()
HEADER = "filename,width,height,class,xmin,ymin,xmax,ymax"


def logit(p):
    return math.log(p / (1 - p))


def test_box_iou_by_hand():
    a = tf.constant([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    b = tf.constant([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
    np.testing.assert_allclose(box_ops.box_iou(a, b).numpy(),
                               [[1 / 7, 1.0, 0.0], [0.0, 0.25, 0.0]], atol=1e-6)


def test_grid_assignment_and_encoding_by_hand():
    # Centre (y 0.3, x 0.55), 0.4 x 0.4: row floor(1.2) = 1, column floor(2.2) = 2 of a 4x4
    # grid; IoU with a 0.25 anchor is 0.0625 / 0.16 = 0.39, with a 0.5 anchor 0.16 / 0.25
    # = 0.64, so anchor 1; tx = 2.2 - 2 = 0.2, ty = 1.2 - 1 = 0.2, tw = th = log(0.4 / 0.5).
    anchors = [[0.25, 0.25], [0.5, 0.5]]
    boxes = tf.constant([[[0.1, 0.35, 0.5, 0.75], [0.0, 0.0, 0.0, 0.0]]])
    classes = tf.constant([[3, -1]])
    targets = box_ops.assign_targets(boxes, classes, 4, anchors).numpy()
    assert targets.shape == (1, 4, 4, 2, 6)
    np.testing.assert_allclose(targets[0, 1, 2, 1],
                               [1, 3, 0.2, 0.2, math.log(0.8), math.log(0.8)], atol=1e-6)
    targets[0, 1, 2, 1] = 0
    assert not targets.any()  # padding assigns nothing

    # The encoding's inverse: raw outputs whose sigmoid gives tx, ty decode to the box.
    raw = np.zeros((1, 4, 4, 2, 6), np.float32)
    raw[0, 1, 2, 1, :4] = [logit(0.2), logit(0.2), math.log(0.8), math.log(0.8)]
    decoded = box_ops.decode_boxes(raw, anchors).numpy()
    np.testing.assert_allclose(decoded[0, 1, 2, 1], [0.1, 0.35, 0.5, 0.75], atol=1e-6)


def test_ignored_slots_overlap_a_box_but_are_not_its_own():
    # A box covering most of a 2x2 grid: its own slot is (1, 1); the priors of the other
    # cells (0.8 x 0.8 centred in each) overlap it by 0.3025 / 1.06 = 0.285 (cell 0, 0) and
    # 0.33 / 1.0325 = 0.32 (cells 0, 1 and 1, 0), above 0.25: ignored (-1).
    targets = box_ops.assign_targets(tf.constant([[[0.1, 0.1, 0.95, 0.95]]]),
                                     tf.constant([[0]]), 2, [[0.8, 0.8]], ignore_iou=0.25)
    objectness = targets.numpy()[0, :, :, 0, 0]
    np.testing.assert_array_equal(objectness, [[-1, -1], [-1, 1]])
    higher = box_ops.assign_targets(tf.constant([[[0.1, 0.1, 0.95, 0.95]]]),
                                    tf.constant([[0]]), 2, [[0.8, 0.8]], ignore_iou=0.3)
    np.testing.assert_array_equal(higher.numpy()[0, :, :, 0, 0], [[0, -1], [-1, 1]])


def test_loss_by_hand():
    # One image, 1x3 grid, one anchor, two classes, all outputs 0: sigmoid = 0.5, softmax
    # = (0.5, 0.5). Slot 0 has a box (tx = ty = 0.5, tw = th = 0, class 1): objectness
    # log 2, box 0, class log 2. Slot 1 is background: 0.5 * log 2. Slot 2 is ignored: 0.
    y_true = np.zeros((1, 1, 3, 1, 6), np.float32)
    y_true[0, 0, 0, 0] = [1, 1, 0.5, 0.5, 0, 0]
    y_true[0, 0, 2, 0, 0] = -1
    y_pred = np.zeros((1, 1, 3, 1, 7), np.float32)
    loss = detection_loss(y_true, y_pred, box_weight=5.0, no_object_weight=0.5).numpy()
    np.testing.assert_allclose(loss, [2.5 * math.log(2)], rtol=1e-6)
    # A box error of 0.1 in tw adds box_weight * 0.01.
    y_pred[0, 0, 0, 0, 2] = 0.1
    loss2 = detection_loss(y_true, y_pred, box_weight=5.0, no_object_weight=0.5).numpy()
    np.testing.assert_allclose(loss2 - loss, [0.05], rtol=1e-4)


def test_batch_norm_recalibration_matches_batch_statistics():
    from applications.detector.config import DetectorConfig
    from applications.detector.model import Detector

    config = DetectorConfig(image_size=32, head_filters=4,
                            encoder={"name": "cnn", "filters": [4, 8], "batch_norm": True})
    model = Detector(config.to_dict(), {"class_names": ["a"], "anchors": [[0.5, 0.5]],
                                        "max_boxes": 1, "train_examples": 6})
    images = np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3)).astype(np.uint8)
    before = model(images, training=False).numpy()
    batch = model(images, training=True).numpy()
    assert np.abs(before - batch).max() > 1e-2  # untrained moving statistics are 0 and 1
    model.recalibrate_batch_norm(images, batch_size=6)  # one batch: its own statistics
    np.testing.assert_allclose(model(images, training=False).numpy(), batch, atol=1e-3)


def test_suppression_per_class_and_across_classes():
    boxes = tf.constant([[[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.45], [0.6, 0.6, 1.0, 1.0]]])
    # Box 0 is a cat (0.9), box 1 nearly the same place a dog (0.8), box 2 a cat at 0.02.
    scores = tf.constant([[[0.9, 0.0], [0.0, 0.8], [0.02, 0.0]]])
    suppress = tf.function(box_ops.suppress)  # as served: in a graph
    kept = suppress(boxes, scores, 4, 0.5, 0.05, per_class=True)
    assert int(kept["count"][0]) == 2  # the cat and the dog do not suppress each other
    np.testing.assert_allclose(kept["scores"][0], [0.9, 0.8, 0, 0], atol=1e-6)
    assert kept["classes"].numpy()[0].tolist() == [0, 1, -1, -1]
    np.testing.assert_allclose(kept["boxes"][0, 1], [0.0, 0.0, 0.5, 0.45], atol=1e-6)
    across = suppress(boxes, scores, 4, 0.5, 0.05, per_class=False)
    assert int(across["count"][0]) == 1  # the dog overlaps the better cat; 0.02 < threshold
    assert across["classes"].numpy()[0, 0] == 0


def test_voc_ap_by_hand_and_against_pycocotools():
    truth = [(np.array([[0, 0, 10, 10]]), np.array([0])),
             (np.array([[0, 0, 10, 10]]), np.array([0]))]
    # Scores 0.9 hit, 0.8 miss, 0.7 hit: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1:
    # all-point AP = 0.5 * 1 + 0.5 * 2/3.
    detections = [(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0.9, 0.8]),
                   np.array([0, 0])),
                  (np.array([[1, 0, 10, 10]]), np.array([0.7]), np.array([0]))]
    assert voc_average_precision(truth, detections, 0) == pytest.approx(0.5 + 1 / 3)
    # A larger random case: VOC's all-point AP and COCO's 101-point AP at IoU 0.5 agree.
    rng = np.random.default_rng(0)
    truth, detections = [], []
    for _ in range(30):
        corner = rng.uniform(0, 50, (2, 2))
        gt = np.concatenate([corner, corner + rng.uniform(20, 40, (2, 2))], 1)
        truth.append((gt, np.array([0, 1])))
        noisy = gt + rng.normal(0, 6, gt.shape)
        noisy[:, 2:] = np.maximum(noisy[:, 2:], noisy[:, :2] + 1)
        detections.append((noisy, rng.uniform(0, 1, 2), np.array([0, 1])))
    coco = coco_scores(truth, detections, 2)
    voc = np.mean([voc_average_precision(truth, detections, c) for c in (0, 1)])
    assert 0.2 < coco["ap50"] < 0.95
    assert voc == pytest.approx(coco["ap50"], abs=0.02)


def test_augmentation_moves_boxes_with_the_pixels():
    images = np.zeros((8, 64, 64, 3), np.uint8)
    images[:, 16:40, 8:24] = 255  # rows 16-40, columns 8-24
    boxes = np.tile(np.array([[[16, 8, 40, 24]]], np.float32) / 64, (8, 1, 1))
    classes = np.zeros((8, 1), np.int32)
    tf.random.set_seed(3)
    out, moved, ids = augment_batch(images, boxes, classes, scale=0.3, flip=True, jitter=0.0)
    out, moved = out.numpy(), moved.numpy()
    assert len({tuple(b) for b in moved[:, 0].round(3)}) > 1  # the boxes did move
    for image, box, cls in zip(out, moved[:, 0], ids.numpy()[:, 0]):
        if cls < 0:
            continue
        top, left, bottom, right = (box * 64).round().astype(int)
        inside = image[top + 2:bottom - 2, left + 2:right - 2]
        assert inside.size and inside.min() > 200  # white where the box says
        ring = image[max(top - 4, 0):top - 2, left:right]
        assert ring.size == 0 or ring.max() < 150 or ring.max() == 114.0  # dark (or fill) above


def _write_images(folder, count=6, size=(48, 40)):
    os.makedirs(folder, exist_ok=True)
    rows = []
    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 60, (size[1], size[0], 3)).astype(np.uint8)
        pixels[10:30, 8:28] = 230
        name = f"img{i}.jpg" if i % 2 else f"img{i}.png"
        image = Image.fromarray(pixels)
        image = image.convert("L") if i == 1 else image  # one greyscale photo
        image.save(os.path.join(folder, name))
        rows.append(f"{name},{size[0]},{size[1]},thing,8,10,28,30")
    return rows


def test_readers_name_the_bad_file_and_line(tmp_path):
    images = tmp_path / "images"
    rows = _write_images(str(images), 2)
    good = tmp_path / "good.csv"
    good.write_text("\n".join([HEADER, *rows]) + "\n")
    annotated = read_annotations(str(good), str(images))
    data = detection_set(annotated, 32, ["thing"])
    assert data.images.shape == (2, 32, 32, 3)  # the greyscale photo has three channels
    np.testing.assert_allclose(data.boxes[0, 0], [10 / 40, 8 / 48, 30 / 40, 28 / 48], atol=1e-6)
    cases = {
        "img0.png,48,40,thing,8,10,50,30": "outside",
        "img0.png,48,40,thing,28,10,28,30": "xmax <= xmin",
        "nothere.png,48,40,thing,8,10,20,30": "not found",
    }
    for row, message in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join([HEADER, rows[0], row]) + "\n")
        with pytest.raises(InputError, match=message) as caught:
            read_annotations(str(bad), str(images))
        assert str(caught.value).startswith(f"{bad}:3:")
    (images / "broken.png").write_bytes(b"\x89PNG not really")
    bad.write_text(f"{HEADER}\nbroken.png,48,40,thing,8,10,20,30\n")
    with pytest.raises(InputError, match="cannot read image"):
        detection_set(read_annotations(str(bad), str(images)), 32, ["thing"])
    # A header after a UTF-8 byte-order mark (Excel's "CSV UTF-8") reads as one without.
    marked = tmp_path / "marked.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + good.read_bytes())
    assert [a.boxes for a in read_annotations(str(marked), str(images))] == [
        a.boxes for a in annotated]
    # A gzipped box file reads as the plain one; plain text named .gz is refused.
    zipped = tmp_path / "boxes.csv.gz"
    zipped.write_bytes(gzip.compress(good.read_bytes()))
    assert [a.boxes for a in read_annotations(str(zipped), str(images))] == [
        a.boxes for a in annotated]
    named = tmp_path / "named.csv.gz"
    named.write_bytes(good.read_bytes())
    with pytest.raises(InputError, match="not a readable gzip file") as caught:
        read_annotations(str(named), str(images))
    assert str(caught.value).startswith(f"{named}:")
    xml = tmp_path / "voc"
    xml.mkdir()
    (xml / "a.xml").write_text("<annotation><filename>img0.png</filename><object><name>thing"
                               "</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax>"
                               "<ymax>5</ymax></bndbox></object></annotation>")
    with pytest.raises(InputError, match="no <size>") as caught:
        read_annotations(str(xml), str(images))
    assert str(caught.value).startswith(str(xml / "a.xml") + ":")


@pytest.mark.integration
def test_train_evaluate_predict_export_through_the_command_line(tmp_path):
    images = tmp_path / "images"
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join([HEADER, *_write_images(str(images))]) + "\n")
    out = tmp_path / "run"
    tiny = ["--set", "image_size=32", "--set", "encoder.filters=[4,8,8]",
            "--set", "head_filters=8", "--set", "anchor_count=1", "--set", "score_threshold=0"]
    code, _, err = cli(APP, "train", "--train", labels, "--images", images, "--out", out,
                       "--epochs", 1, "--batch-size", 3, "--seed", 1, *tiny)
    assert code == 0, err
    code, printed, err = cli(APP, "evaluate", "--model", out, "--data", labels, "--images",
                             images, "--json")
    assert code == 0, err
    scores = json.loads(printed)
    assert set(scores["ap50_per_class"]) == {"thing"} and 0 <= scores["map"] <= scores["ap50"] + 1
    assert scores["images"] == 6 and scores["boxes"] == 6
    code, printed, err = cli(APP, "predict", "--model", out, "--input", images, "--plot",
                             tmp_path / "plots")
    assert code == 0, err
    rows = list(csv.DictReader(printed.splitlines()))
    assert rows and {r["filename"] for r in rows} <= {f"img{i}.{e}" for i in range(6)
                                                      for e in ("png", "jpg")}
    assert all(0 <= float(r["xmin"]) <= float(r["xmax"]) <= 48 for r in rows)
    assert len(os.listdir(tmp_path / "plots")) == 6
    code, _, err = cli(APP, "export", "--model", out, "--out", tmp_path / "export")
    assert code == 0, err
    served = tf.saved_model.load(str(tmp_path / "export")).signatures["serve"](
        images=tf.constant([(images / "img1.jpg").read_bytes()]))
    first = [r for r in rows if r["filename"] == "img1.jpg"]
    assert int(served["count"][0]) == len(first)
    np.testing.assert_allclose(served["boxes"][0, 0].numpy(),
                               [float(first[0][k]) for k in ("xmin", "ymin", "xmax", "ymax")],
                               atol=0.06)
    assert served["classes"][0, 0].numpy() == b"thing"
    # Files are named by their path under --input, quoted where they hold a comma, and each
    # gets its own plot; the Python API takes a pathlib.Path and names an undecodable file.
    nested = tmp_path / "nested"
    (nested / "sub").mkdir(parents=True)
    for name in ("img1.jpg", "sub/img1.jpg", "sub/a, b.jpg"):
        shutil.copy(images / "img1.jpg", nested / name)
    code, printed, err = cli(APP, "predict", "--model", out, "--input", nested, "--plot",
                             tmp_path / "nested_plots")
    assert code == 0, err
    named = list(csv.DictReader(printed.splitlines()))
    assert {r["filename"] for r in named} == {"img1.jpg", "sub/img1.jpg", "sub/a, b.jpg"}
    assert [r["xmin"] for r in named if r["filename"] == "sub/a, b.jpg"] == [
        r["xmin"] for r in rows if r["filename"] == "img1.jpg"]
    assert sorted(str(p.relative_to(tmp_path / "nested_plots"))
                  for p in (tmp_path / "nested_plots").rglob("*.png")) == [
        "img1.jpg.png", "sub/a, b.jpg.png", "sub/img1.jpg.png"]
    detector = applications.load(out)
    assert detector.predict(pathlib.Path(nested / "img1.jpg")) == detector.predict(
        str(nested / "img1.jpg"))
    (nested / "broken.png").write_text("not an image")
    with pytest.raises(InputError, match="broken.png: cannot decode this image"):
        detector.predict([str(nested / "img1.jpg"), str(nested / "broken.png")])
    # Bad input: one error line naming the file and line, exit 2, --out untouched.
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\nimg0.png,48,40,thing,8,10,7,30\n")
    assert_input_error(APP, ["train", "--train", bad, "--images", images, "--out",
                             tmp_path / "never"], bad, 2)
    for option, message in (("anchors=[0.5,0.5]", "anchors must be"),
                            ('anchors=[[0.5,"a"]]', "anchors must be"),
                            ("image_size=1000000", "image_size must be"),
                            ('encoder={"name": "rnn"}', "encoder must be the image encoder")):
        code, _, err = cli(APP, "train", "--train", labels, "--images", images, "--out",
                           tmp_path / "never", *tiny, "--set", option)
        assert code == 2 and len(error_lines(err)) == 1 and message in err, err
    assert not (tmp_path / "never").exists()
