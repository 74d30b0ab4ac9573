"""Video frame classification on "moving digits" clips made from real MNIST digits.

Builds the data set (:mod:`video_moving_digits_data`: one digit per 64x64 clip of 20
frames, moving 2-5 pixels a frame in x and y and bouncing off the walls; frame labels =
direction of the move, frame 0 unlabelled; clip label = the digit) from
``../shared/data/mnist``: 10,000 training clips from MNIST's training images (the first
55,000), 1,000 dev clips from the other 5,000, 2,000 test clips from its test images.
Then, through the command line, with default options except the data:

1. trains the CNN + RNN model (defaults) and the ``frame_only`` baseline (3 epochs);
2. evaluates both on the test clips (per-frame direction accuracy, clip-label accuracy);
3. exports the CNN + RNN model and times the SavedModel (frames per second);
4. writes the test clips as ``.mp4`` (PyAV, ``digit/clip.mp4`` folders plus a frame-label
   CSV), evaluates through the decoder and compares with the arrays.

Usage:
    python benchmarks/video_moving_digits.py [--quick] [--work /tmp/video_moving_digits]

The data set and runs go under ``--work`` (never into the project). Prints one JSON object.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [REPO, HERE]

from video_moving_digits_data import DIRECTIONS, write_clip_arrays  # noqa: E402

MNIST = os.path.join(REPO, "..", "shared", "data", "mnist")
APP = [sys.executable, "-m", "applications.video_classifier"]


def build_data(work, counts, seed, mnist=MNIST):
    """Write ``train.npz``, ``dev.npz`` and ``test.npz`` under ``work`` (seeded) from the
    MNIST files in ``mnist``."""
    from data.images import read_idx

    images = read_idx(os.path.join(mnist, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(mnist, "train-labels-idx1-ubyte.gz"))
    test_images = read_idx(os.path.join(mnist, "t10k-images-idx3-ubyte.gz"))
    test_labels = read_idx(os.path.join(mnist, "t10k-labels-idx1-ubyte.gz"))
    parts = {"train": (images[:55000], labels[:55000]),
             "dev": (images[55000:], labels[55000:]),
             "test": (test_images, test_labels)}
    paths = {}
    for offset, (name, (digits, classes)) in enumerate(parts.items()):
        paths[name] = os.path.join(work, f"{name}.npz")
        write_clip_arrays(paths[name], digits, classes, counts[name], seed + offset)
    return paths


def write_mp4_clips(npz_path, folder):
    """The clips of ``npz_path`` as ``folder/<digit>/clip_<i>.mp4`` plus ``frames.csv``."""
    from data.video_files import write_video

    with np.load(npz_path) as arrays:
        clips, frame_labels, labels = arrays["clips"], arrays["frame_labels"], arrays["labels"]
    os.makedirs(folder, exist_ok=True)
    rows = [("clip", "frame", "label")]
    for i, (clip, directions, digit) in enumerate(zip(clips, frame_labels, labels)):
        os.makedirs(os.path.join(folder, str(digit)), exist_ok=True)
        name = f"{digit}/clip_{i:05d}"
        write_video(os.path.join(folder, name + ".mp4"), clip)
        rows += [(name, t, int(d)) for t, d in enumerate(directions) if d >= 0]
    csv_path = os.path.join(folder + "_frames.csv")
    with open(csv_path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return folder, csv_path


def run(args, label):
    """Run one CLI command; returns its stdout (stops the benchmark if it fails)."""
    started = time.time()
    done = subprocess.run([*APP, *map(str, args)], cwd=REPO, capture_output=True, text=True)
    print(f"[{label}] {time.time() - started:.0f} s, exit {done.returncode}", file=sys.stderr)
    if done.returncode:
        sys.exit(f"{label} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def train(paths, out, extra=()):
    run(["train", "--train", paths["train"], "--dev", paths["dev"], "--out", out,
         "--quiet", *extra], f"train {os.path.basename(out)}")
    with open(os.path.join(out, "metrics.json")) as handle:
        metrics = json.load(handle)
    return metrics


def evaluate(model, data, report, labels=None):
    args = ["evaluate", "--model", model, "--data", data, "--report", report, "--json",
            "--quiet"]
    os.makedirs(report, exist_ok=True)
    return json.loads(run(args + (["--labels", labels] if labels else []),
                          f"evaluate {os.path.basename(report)}").strip().splitlines()[-1])


def export_speed(export_dir, test_path, clips=512, batch=32):
    """Frames per second of the SavedModel: ``classify_clips`` in batches, ``serve`` per clip."""
    import tensorflow as tf

    with np.load(test_path) as arrays:
        frames = arrays["clips"][:clips]
    loaded = tf.saved_model.load(export_dir)
    lengths = np.full(batch, frames.shape[1], np.int32)
    loaded.classify_clips(frames=tf.constant(frames[:batch]), lengths=lengths)  # warm-up
    started = time.time()
    for start in range(0, len(frames) - batch + 1, batch):
        loaded.classify_clips(frames=tf.constant(frames[start:start + batch]), lengths=lengths)
    batched = (len(frames) // batch) * batch * frames.shape[1] / (time.time() - started)
    loaded.serve(frames=tf.constant(frames[0]))
    started = time.time()
    for clip in frames[:64]:
        loaded.serve(frames=tf.constant(clip))
    single = 64 * frames.shape[1] / (time.time() - started)
    return {"batched_frames_per_s": round(batched), "single_clip_frames_per_s": round(single)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000 / 200 / 300 clips and 3 epochs (for development)")
    parser.add_argument("--work", default="/tmp/video_moving_digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mnist", default=MNIST, help="folder of the MNIST .gz files")
    parser.add_argument("--baseline-epochs", type=int, default=3,
                        help="epochs of the frame_only baseline")
    parser.add_argument("--report", help="also write the report (after every step) here")
    args = parser.parse_args(argv)
    counts = ({"train": 1000, "dev": 200, "test": 300} if args.quick
              else {"train": 10000, "dev": 1000, "test": 2000})
    extra = ["--epochs", 3] if args.quick else []
    if args.quick:
        args.baseline_epochs = min(args.baseline_epochs, 3)
    os.makedirs(args.work, exist_ok=True)
    started = time.time()
    paths = build_data(args.work, counts, args.seed, args.mnist)
    report = {"clips": counts, "directions": DIRECTIONS, "seed": args.seed,
              "data_seconds": round(time.time() - started, 1)}
    # The baseline cannot learn direction from one frame whatever it trains for, so it gets
    # --baseline-epochs (3 by default) and runs last; the report is rewritten after each step.
    report["cnn_rnn"] = train_and_score(paths, args.work, "cnn_rnn", extra, counts)
    save(report, args.report)
    model = os.path.join(args.work, "cnn_rnn")
    export_dir = os.path.join(args.work, "cnn_rnn_export")
    run(["export", "--model", model, "--out", export_dir, "--quiet"], "export")
    report["export"] = export_speed(export_dir, paths["test"])
    save(report, args.report)
    folder, labels = write_mp4_clips(paths["test"], os.path.join(args.work, "test_mp4"))
    scores = evaluate(model, folder, os.path.join(args.work, "mp4_test"), labels)
    report["mp4_round_trip"] = {
        "frame_direction_accuracy": scores["frame_accuracy"],
        "clip_label_accuracy": scores["clip_accuracy"],
        "frame_difference_points": round(100 * (scores["frame_accuracy"] - report["cnn_rnn"][
            "frame_direction_accuracy"]), 2),
        "clip_difference_points": round(100 * (scores["clip_accuracy"] - report["cnn_rnn"][
            "clip_label_accuracy"]), 2),
    }
    save(report, args.report)
    report["frame_only"] = train_and_score(
        paths, args.work, "frame_only",
        ["--set", "frame_only=true", "--epochs", args.baseline_epochs], counts)
    report["total_seconds"] = round(time.time() - started, 1)
    save(report, args.report)
    print(json.dumps(report, indent=1))


def train_and_score(paths, work, name, options, counts):
    """Train ``work/name`` with ``options``; its test scores and training speed."""
    out = os.path.join(work, name)
    metrics = train(paths, out, [*map(str, options), "--restart"])
    seconds = metrics["train_seconds_this_run"]
    frames = counts["train"] * 20 * metrics["epochs_completed"]
    scores = evaluate(out, paths["test"], os.path.join(work, f"{name}_test"))
    return {
        "frame_direction_accuracy": scores["frame_accuracy"],
        "frame_macro_f1": scores["frame_macro_f1"],
        "clip_label_accuracy": scores["clip_accuracy"],
        "clip_macro_f1": scores["clip_macro_f1"],
        "train_seconds": seconds, "epochs": metrics["epochs_completed"],
        "stopped_early": metrics.get("stopped_early"),
        "train_frames_per_s": round(frames / seconds),
        "history": {k: metrics["history"][k] for k in metrics["history"] if "val_" in k},
    }


def save(report, path):
    if path:
        with open(path, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
