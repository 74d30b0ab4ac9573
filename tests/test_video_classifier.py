"""The video classifier and its clip readers, on tiny clips written here: arrays, frame
folders and an .mp4 encoded with PyAV."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from applications.video_classifier.commands import VideoClassifierCommands
from applications.video_classifier.config import VideoClassifierConfig
from applications.video_classifier.layers import (CoordinatePooling, LabelledAccuracy,
                                                  augment_clips)
from applications.video_classifier.model import VideoClassifier
from applications.video_classifier.sample_data import sliding_squares
from data.errors import InputError
from data.video_batches import clip_batches
from data.video_sets import read_video_set
from tests.helpers import assert_input_error, cli, error_lines

APP = VideoClassifierCommands()
TINY = ["--set", "encoder.filters=[4]", "--set", "rnn.nodes=[8]", "--batch-size", "16"]
META = {"height": 16, "width": 16, "channels": 1, "frame_labels": ["l", "r"],
        "clip_labels": ["a", "b", "c"], "max_frames": 6, "train_examples": 4}


def write_squares_npz(path, count, seed):
    clips, lengths, frame_labels, clip_labels = sliding_squares(count, seed)
    numbered = np.vectorize(lambda l: ["", "up-left", "up-right", "down-left",
                                       "down-right"].index(l) - 1)(frame_labels)
    np.savez(path, clips=clips, lengths=lengths, frame_labels=numbered, labels=clip_labels)
    return path


def write_frame_folder(folder, frames, sizes=None):
    folder.mkdir(parents=True)
    for t, frame in enumerate(frames):
        image = Image.fromarray(frame)
        if sizes:
            image = image.resize(sizes[t])
        image.save(folder / f"frame_{t:03d}.png")
    return folder


def test_coordinate_pooling_finds_where_each_channel_peaks():
    maps = np.full((2, 5, 5, 2), -20.0, np.float32)
    maps[0, 0, 0, 0] = maps[0, 4, 2, 1] = 20.0
    maps[1, 2, 4, 0] = maps[1, 2, 2, 1] = 20.0
    xy = np.asarray(CoordinatePooling()(maps)).reshape(2, 2, 2)
    np.testing.assert_allclose(xy, [[[-1, -1], [0, 1]], [[1, 0], [0, 0]]], atol=1e-4)


def test_augmentation_moves_every_frame_of_a_clip_alike():
    frame = np.zeros((12, 12, 1), np.float32)
    frame[4:8, 4:8] = 1.0
    clips = np.stack([np.stack([frame] * 5)] * 6)  # 6 clips of 5 identical frames
    moved = np.asarray(augment_clips(clips, translation=0.3, brightness=0.2,
                                     seed=keras.random.SeedGenerator(1)))
    assert moved.shape == clips.shape
    for clip in moved:
        for t in range(1, 5):
            np.testing.assert_array_equal(clip[t], clip[0])
    assert not np.array_equal(moved, clips)  # something moved or changed brightness


def test_labelled_accuracy_skips_unlabelled_frames():
    metric = LabelledAccuracy()
    truth = np.array([[-1, 0, 1, -1]])
    scores = np.array([[[0, 1], [1, 0], [1, 0], [1, 0]]], np.float32)
    metric.update_state(truth, scores)
    assert float(metric.result()) == pytest.approx(0.5)


def test_padded_frames_change_no_real_output():
    config = VideoClassifierConfig(encoder={"name": "cnn", "filters": [4]},
                                   rnn={"name": "rnn", "nodes": [6], "bidirectional": True})
    model = VideoClassifier(config.to_dict(), META)
    frames = np.random.default_rng(0).integers(0, 255, (2, 6, 16, 16, 1)).astype(np.uint8)
    lengths = np.array([6, 3])
    first = model({"frames": frames, "lengths": lengths})
    frames[1, 3:] = 255 - frames[1, 3:]
    again = model({"frames": frames, "lengths": lengths})
    np.testing.assert_allclose(first["frame"][1, :3], again["frame"][1, :3], atol=1e-5)
    np.testing.assert_allclose(first["clip"], again["clip"], atol=1e-5)
    assert tuple(first["frame"].shape) == (2, 6, 2) and tuple(first["clip"].shape) == (2, 3)
    only = VideoClassifier({**config.to_dict(), "frame_only": True},
                           {**META, "clip_labels": []})
    assert only.rnn is None and set(only({"frames": frames, "lengths": lengths})) == {"frame"}


def test_array_clips_stream_through_tf_data(tmp_path):
    path = write_squares_npz(tmp_path / "clips.npz", 5, seed=1)
    videos = read_video_set(str(path))
    assert len(videos) == 5 and set(videos.clip_label_names()) <= {"bright", "dim"}
    assert all(row[0] == "" for row in videos.frame_labels)  # frame 0: no label
    ids = np.array([[-1] + [0] * (n - 1) + [-1] * (8 - n) for n in videos.lengths])
    (x, y), = list(clip_batches(videos, (16, 16, 1), 5, frame_ids=ids, max_frames=8))
    assert x["frames"].shape == (5, 8, 16, 16, 1) and x["frames"].dtype == tf.uint8
    np.testing.assert_array_equal(x["lengths"], videos.lengths)
    np.testing.assert_array_equal(y["frame"], ids)
    # A .npy is memory-mapped and labelled by a CSV of clip,label rows.
    np.save(tmp_path / "clips.npy", np.load(path)["clips"])
    (tmp_path / "labels.csv").write_text("clip,label\n" + "".join(f"{i},c{i % 2}\n"
                                                                  for i in range(5)))
    videos = read_video_set(str(tmp_path / "clips.npy"), str(tmp_path / "labels.csv"))
    assert videos.clip_labels == ["c0", "c1", "c0", "c1", "c0"]
    assert videos.read(2).shape == (8, 16, 16, 1)
    part = videos.subset([3, 1])
    assert len(part) == 2 and part.clip_labels == ["c1", "c1"] and part.names == [videos.names[3], videos.names[1]]
    np.testing.assert_array_equal(part.read(0), videos.read(3))
    np.testing.assert_array_equal(part.lengths, videos.lengths[[3, 1]])
    # An alpha channel is dropped, as the image decoders drop it.
    gray = np.load(path)["clips"]
    rgb = np.repeat(gray, 3, axis=-1)
    np.savez(tmp_path / "rgba.npz", clips=np.concatenate(
        [rgb, np.full(gray.shape, 255, np.uint8)], axis=-1))
    rgba = read_video_set(str(tmp_path / "rgba.npz"), require_labels=False)
    np.testing.assert_array_equal(rgba.read(1), rgb[1, :rgba.lengths[1]])
    as_gray = read_video_set(str(tmp_path / "rgba.npz"), require_labels=False, channels=1)
    np.testing.assert_array_equal(as_gray.read(1), gray[1, :as_gray.lengths[1]])


def test_frame_folders_and_label_errors(tmp_path):
    clips, lengths, _, _ = sliding_squares(2, seed=3)
    root = tmp_path / "clips"
    for i in range(2):
        write_frame_folder(root / f"clip{i}", clips[i, :lengths[i], :, :, 0])
    labels = tmp_path / "frames.csv"
    labels.write_text("clip0,1,left\nclip1,2,right\n")
    videos = read_video_set(str(root), str(labels), channels=1)
    assert videos.names == ["clip0", "clip1"] and videos.frame_labels[1][2] == "right"
    assert videos.read(0).shape == (lengths[0], 16, 16, 1)
    labels.write_text(f"clip0,1,left\nclip1,{lengths[1]},right\n")
    with pytest.raises(InputError, match=f"frame {lengths[1]} of clip 'clip1'") as err:
        read_video_set(str(root), str(labels))
    assert err.value.line == 2
    odd = write_frame_folder(root / "clip2", clips[0, :3, :, :, 0], [(16, 16), (16, 16), (8, 8)])
    with pytest.raises(InputError, match="frames of different sizes"):
        read_video_set(str(root), str(labels))
    for frame in odd.iterdir():
        frame.unlink()
    labels.write_text("clip9,0,x\n")
    with pytest.raises(InputError, match="no clip named 'clip9'"):
        read_video_set(str(root), str(labels))  # the empty folder is no clip; clip9 is unknown


def test_mp4_round_trip_and_bad_videos(tmp_path):
    pytest.importorskip("av")
    from data.video_files import read_video, write_video

    clips, lengths, _, _ = sliding_squares(1, seed=4)
    clip = clips[0, :lengths[0]]
    (tmp_path / "up").mkdir()
    write_video(tmp_path / "up" / "one.mp4", clip)
    back = read_video(tmp_path / "up" / "one.mp4", channels=1)
    assert back.shape == clip.shape
    assert np.abs(back.astype(int) - clip).mean() < 3
    assert read_video(tmp_path / "up" / "one.mp4", frames=3, size=[8, 8], channels=1).shape \
        == (3, 8, 8, 1)
    videos = read_video_set(str(tmp_path), channels=1)  # class_name/clip.mp4: no label file
    assert videos.names == ["up/one"] and videos.clip_labels == ["up"]
    for content in (b"", b"not a video at all" * 10):
        (tmp_path / "bad.mp4").write_bytes(content)
        with pytest.raises(InputError, match="cannot decode video"):
            read_video(tmp_path / "bad.mp4")
    with pytest.raises(InputError, match="clip 1 is shorter than one frame"):
        np.savez(tmp_path / "short.npz", clips=np.zeros((2, 3, 4, 4), np.uint8),
                 lengths=[3, 0], labels=[0, 1])
        read_video_set(str(tmp_path / "short.npz"))


@pytest.mark.integration
def test_train_evaluate_predict_export(tmp_path):
    train = write_squares_npz(tmp_path / "train.npz", 24, seed=5)
    out = tmp_path / "run"
    code, _, err = cli(APP, "train", "--train", train, "--out", out, "--epochs", 1, *TINY)
    assert code == 0, err
    assert "no --dev: 2 of 24 clips in train.npz held out as dev" in err
    code, stdout, err = cli(APP, "evaluate", "--model", out, "--data", train, "--json")
    assert code == 0, err
    scores = json.loads(stdout)
    assert 0 <= scores["frame_accuracy"] <= 1 and 0 <= scores["clip_macro_f1"] <= 1
    assert scores["frame_examples"] == int(np.load(train)["lengths"].sum()) - 24
    assert (out / "confusion_matrix.png").stat().st_size > 1000 and scores["unseen_labels"] == 0
    arrays = dict(np.load(train))
    arrays["labels"] = np.where(np.arange(24) < 6, "purple", arrays["labels"])
    np.savez(tmp_path / "unseen.npz", **arrays)
    code, stdout, err = cli(APP, "evaluate", "--model", out, "--data", tmp_path / "unseen.npz",
                            "--json", "--report", tmp_path / "unseen")
    assert code == 0 and "6 labels carry a label never seen in training (purple)" in err, err
    unseen = json.loads(stdout)
    assert unseen["unseen_labels"] == 6 and unseen["clip_accuracy"] <= 18 / 24
    code, stdout, err = cli(APP, "predict", "--model", out, "--input", train)
    rows = stdout.splitlines()
    assert code == 0 and rows[0] == "clip,frame,label,probability", err
    assert len(rows) == 1 + 24 + int(np.load(train)["lengths"].sum())
    code, _, err = cli(APP, "export", "--model", out, "--out", tmp_path / "export")
    assert code == 0, err
    exported = tf.saved_model.load(str(tmp_path / "export"))
    served = exported.serve(frames=tf.constant(np.load(train)["clips"][0, :5]))
    assert served["frame_labels"].shape == (5,) and served["clip_label"].dtype == tf.string
    # The Python API reads clips as predict does, from the model and from its SavedModel.
    import applications

    direct = applications.load(out).predict(str(train))
    assert len(direct) == 24
    assert [r["clip_label"] for r in applications.load(tmp_path / "export").predict(
        str(train))] == [r["clip_label"] for r in direct]
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 64)
    assert_input_error(APP, ["evaluate", "--model", out, "--data", bad], bad)
    # Arrays that are not pixels, a dev clip label training never has, and bad options:
    # one error line each, and nothing written.
    clean = dict(np.load(train))
    np.savez(tmp_path / "float.npz", **{**clean, "clips": clean["clips"] / 255.0})
    np.savez(tmp_path / "none.npz", clips=np.zeros((0, 6, 16, 16, 1), np.uint8))
    np.savez(tmp_path / "dev.npz", **{**clean, "labels": np.where(
        np.arange(24) < 2, "purple", clean["labels"])})
    # A clip label that only the seeded dev part of --train has is still a label.
    solo = int(np.random.default_rng(0).permutation(24)[0])
    np.savez(tmp_path / "solo.npz", **{**clean, "labels": np.where(
        np.arange(24) == solo, "solo", clean["labels"])})
    code, _, err = cli(APP, "train", "--train", tmp_path / "solo.npz", "--out",
                       tmp_path / "solo", "--epochs", 1, *TINY)
    assert code == 0, err
    assert "solo" in applications.load(tmp_path / "solo").metadata["clip_labels"]
    for path in (tmp_path / "float.npz", tmp_path / "none.npz"):
        assert_input_error(APP, ["train", "--train", path, "--out", tmp_path / "never"], path)
    line = assert_input_error(APP, ["train", "--train", train, "--dev", tmp_path / "dev.npz",
                                    "--out", tmp_path / "never", *TINY], tmp_path / "dev.npz")
    assert "clip label 'purple'" in line
    for option in ("frame_size=[16]", "dev_split=1.5", "channels=5", "frames=-1"):
        code, _, err = cli(APP, "train", "--train", train, "--out", tmp_path / "never",
                           "--set", option)
        assert code == 2 and len(error_lines(err)) == 1, err
    assert not (tmp_path / "never").exists()
