"""The detector on the raccoon photos, beside a constant-box baseline, in one run.

The 160 annotated photos (``../shared/data/raccoon``; the data set's own 40-image validation
part is not used) are split by image with ``numpy.random.RandomState(seed)``: 128 to train,
32 unseen photos to score. The detector trains from scratch on the 128 through its command
line with the default configuration (``--seed``), then ``evaluate --json`` scores it on the
32: VOC AP at IoU 0.5 (``ap50``) and COCO mAP over IoU 0.5:0.95 (``map``). The baseline puts
one box per photo, the median training box (centre, width and height as fractions of the
image), with score 1, and is scored by the same functions. Finally the model is exported and
the SavedModel's ``serve`` is timed on the 32 JPEG files (images per second, batches of 8,
after one warm-up call)::

    python benchmarks/detector_raccoon.py --data ../shared/data/raccoon --seed 1 \\
        --out runs/detector-bench [--quick]

``--quick`` trains for 15 epochs (development only). Writes ``OUT/benchmark.json``.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from applications.detector.scoring import detection_report  # noqa: E402
from data.detection_annotations import read_box_csv  # noqa: E402


def split_labels(labels, folder, seed, held_out=32):
    """Write ``train.csv`` and ``test.csv``: the rows of a seeded split of the images."""
    with open(labels, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, rows = rows[0], rows[1:]
    names = sorted({row[0] for row in rows})
    order = np.random.RandomState(seed).permutation(len(names))
    test = {names[i] for i in order[:held_out]}
    paths = {}
    for part, keep in (("train", lambda n: n not in test), ("test", lambda n: n in test)):
        paths[part] = os.path.join(folder, f"{part}.csv")
        with open(paths[part], "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(row for row in rows if keep(row[0]))
    return paths


def truth_of(images):
    return [(np.asarray(image.boxes, np.float64).reshape(-1, 4),
             np.zeros(len(image.boxes), np.int64)) for image in images]


def median_box_baseline(train, test):
    """Scores of one box per test image: the training boxes' median centre and size."""
    fractions = np.array([((b[0] + b[2]) / 2 / image.width, (b[1] + b[3]) / 2 / image.height,
                           (b[2] - b[0]) / image.width, (b[3] - b[1]) / image.height)
                          for image in train for b in image.boxes])
    cx, cy, w, h = np.median(fractions, axis=0)
    detections = []
    for image in test:
        box = np.array([[(cx - w / 2) * image.width, (cy - h / 2) * image.height,
                         (cx + w / 2) * image.width, (cy + h / 2) * image.height]])
        detections.append((box, np.ones(1), np.zeros(1, np.int64)))
    return detection_report(truth_of(test), detections, ["raccoon"])


def run(command, **kwargs):
    print("$", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, cwd=REPO, **kwargs)


def export_speed(export_dir, paths, batch=8):
    import tensorflow as tf

    serve = tf.saved_model.load(export_dir).signatures["serve"]
    data = [open(p, "rb").read() for p in paths]
    serve(images=tf.constant(data[:batch]))  # warm-up (tracing, thread pools)
    started = time.perf_counter()
    for start in range(0, len(data), batch):
        serve(images=tf.constant(data[start:start + batch]))
    return len(data) / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "raccoon"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="15 epochs (development)")
    parser.add_argument("--set", action="append", default=[], help="passed on to train")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    images = os.path.join(args.data, "images")
    parts = split_labels(os.path.join(args.data, "train_labels.csv"), args.out, args.seed)
    train_images = read_box_csv(parts["train"], images)
    test_images = read_box_csv(parts["test"], images)
    baseline = median_box_baseline(train_images, test_images)
    print(f"baseline (median box): ap50 {baseline['ap50']:.3f} map {baseline['map']:.3f}",
          file=sys.stderr)

    model_dir = os.path.join(args.out, "model")
    python = [sys.executable, "-m", "applications.detector"]
    train = [*python, "train", "--train", parts["train"], "--images", images,
             "--out", model_dir, "--seed", str(args.seed), "--restart"]
    if args.quick:
        train += ["--epochs", "15"]
    for item in args.set:
        train += ["--set", item]
    started = time.time()
    run(train)
    train_seconds = time.time() - started
    scored = run([*python, "evaluate", "--model", model_dir, "--data", parts["test"],
                  "--images", images, "--json", "--quiet"], capture_output=True, text=True)
    model = json.loads(scored.stdout)
    export_dir = os.path.join(args.out, "export")
    run([*python, "export", "--model", model_dir, "--out", export_dir, "--quiet"])
    speed = export_speed(export_dir, [image.path for image in test_images])
    results = {
        "train_images": len(train_images), "test_images": len(test_images),
        "test_boxes": int(sum(len(i.boxes) for i in test_images)),
        "seed": args.seed, "quick": args.quick, "settings": args.set,
        "detector": {k: model[k] for k in ("ap50", "map", "coco_ap50", "detections")},
        "median_box_baseline": {k: baseline[k] for k in ("ap50", "map", "coco_ap50")},
        "train_seconds": round(train_seconds, 1),
        "export_images_per_second": round(speed, 1),
    }
    with open(os.path.join(args.out, "benchmark.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
