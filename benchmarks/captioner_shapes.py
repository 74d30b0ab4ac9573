"""Captioner benchmark: Fashion-MNIST items on a 3x3 canvas, captioned with their places.

Builds (seeded) 12,000 training canvases from Fashion-MNIST's training images and 1,000
test canvases from its test images: a 96x96 black canvas of 3x3 cells of 32x32, one to
three items (28x28) at random offsets inside distinct cells, each canvas with three
phrasings of its caption (all kept as references). They are written in the Flickr8k layout
(PNG folder + ``name#n<TAB>caption`` file) under ``--work``, then the captioner is trained
with its default options through the command line and measured:

- BLEU-1..4 (sacrebleu, all references) and CIDEr-D of ``evaluate --json`` on the test set;
- BLEU-4 when each step's attention is replaced by the uniform average of the grid;
- the attention-in-box share: for each item word of a generated caption, the attention on
  grid positions whose centre lies inside the 28x28 box of an item of that class (the
  union, when the canvas holds several), averaged over all such words;
- training time and the export's captions per second (``serve`` on PNG bytes).

Usage:
    python benchmarks/captioner_shapes.py [--quick] [--work /tmp/captioner_shapes]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from applications.captioner.sample_data import compose  # noqa: E402

CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
           "bag", "ankle boot")
GRID, CELL, MAX_ITEMS = 3, 32, 3


def build(data_dir, work, train_count, test_count, seed):
    """Write the canvases in the Flickr8k layout; returns the test boxes."""
    from PIL import Image

    from data.images import read_idx_images

    boxes = {}
    for split, prefix, count in (("train", "train", train_count), ("test", "t10k", test_count)):
        items = read_idx_images(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"),
                                os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        names = [CLASSES[int(label)] for label in items.labels]
        pool = items.images.reshape(len(items.images), 28, 28)
        rng = np.random.default_rng(seed + (split == "test"))
        canvases, captions, placed = compose(pool, names, count, GRID, CELL,
                                             MAX_ITEMS, rng)
        folder = os.path.join(work, "images")
        os.makedirs(folder, exist_ok=True)
        lines = []
        for i, (canvas, phrasings) in enumerate(zip(canvases, captions)):
            name = f"{split}_{i:05d}.png"
            Image.fromarray(canvas[..., 0]).save(os.path.join(folder, name))
            lines.extend(f"{name}#{k}\t{text}\n" for k, text in enumerate(phrasings))
        with open(os.path.join(work, f"{split}.token.txt"), "w") as handle:
            handle.writelines(lines)
        boxes[split] = placed
    return boxes["test"]


def cli(*args, threads=None):
    command = [sys.executable, "-m", "applications.captioner", *args, "--quiet"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    return result.stdout, time.perf_counter() - started


def item_words(words):
    """``[(position in words, class name)]`` of every word belonging to a class name."""
    found, i = [], 0
    while i < len(words):
        for name in CLASSES:
            parts = name.split()
            if words[i:i + len(parts)] == parts:
                found.extend((i + k, name) for k in range(len(parts)))
                i += len(parts) - 1
                break
        i += 1
    return found


def attention_in_box(attention, boxes, grid, size):
    """Mean share of attention inside the boxes of the named class, over all item words;
    the same mean by the canvas' item count; how many item words named a class absent
    from their canvas."""
    height, width = grid
    rows = (np.arange(height) + 0.5) * size / height
    cols = (np.arange(width) + 0.5) * size / width
    shares, absent, by_count = [], 0, {}
    for (words, weights), placed in zip(attention, boxes):
        for position, name in item_words(words):
            inside = np.zeros((height, width), bool)
            for item, top, left, bottom, right in placed:
                if item == name:
                    inside |= (((rows >= top) & (rows < bottom))[:, None]
                               & ((cols >= left) & (cols < right))[None, :])
            if not inside.any():
                absent += 1
                continue
            shares.append(float(weights[position].reshape(height, width)[inside].sum()))
            by_count.setdefault(len(placed), []).append(shares[-1])
    by_count = {f"{count}_items": round(float(np.mean(values)), 4)
                for count, values in sorted(by_count.items())}
    return float(np.mean(shares)) if shares else 0.0, by_count, len(shares), absent


def uniform_attend(query, keys, values, mask):
    """The attended vector as the plain mean over the grid (what attention adds is gone)."""
    import tensorflow as tf

    weights = tf.cast(mask, values.dtype)
    weights = weights / tf.reduce_sum(weights, axis=-1, keepdims=True)
    if len(query.shape) == 3:  # teacher forcing: [B, T, D] queries
        weights = tf.repeat(weights[:, None], tf.shape(query)[1], axis=1)
        return tf.matmul(weights, values), weights
    return tf.einsum("bs,bsd->bd", weights, values), weights


def in_process_scores(model_dir, work, boxes):
    from applications.captioner.pipeline import read_captions
    from applications.captioner.scoring import caption_scores
    from applications.captioner.serving import caption_pixels
    from applications.core.base import load_model

    model = load_model(model_dir)
    test = read_captions(os.path.join(work, "test.token.txt"), os.path.join(work, "images"),
                         shape=tuple(model.metadata[k] for k in ("height", "width", "channels")))
    run = model.serving_module().captioner(1, 0.0)
    result = caption_pixels(run, test.images, with_attention=True)
    grid = model.grid(test.images[:1])[1]
    share, by_count, counted, absent = attention_in_box(result["attention"], boxes, grid,
                                                        test.images.shape[1])
    model.decoder.attention.attend = uniform_attend
    uniform = caption_pixels(model.serving_module().captioner(1, 0.0), test.images)
    return {"attention_in_box": round(share, 4), "attention_in_box_by_items": by_count,
            "item_words_scored": counted,
            "item_words_of_absent_class": absent,
            "uniform_attention": caption_scores(uniform["captions"], test.captions),
            "examples": list(zip(test.names[:5], result["captions"][:5]))}


def export_speed(model_dir, work, count=1000):
    import tensorflow as tf

    export_dir = os.path.join(work, "export")
    cli("export", "--model", model_dir, "--out", export_dir)
    served = tf.saved_model.load(export_dir).signatures["serve"]
    folder = os.path.join(work, "images")
    files = [os.path.join(folder, f"test_{i:05d}.png") for i in range(count)]
    payloads = [open(path, "rb").read() for path in files]
    served(images=tf.constant(payloads[:2]))
    started = time.perf_counter()
    for start in range(0, len(payloads), 64):
        served(images=tf.constant(payloads[start:start + 64]))
    seconds = time.perf_counter() - started
    return round(len(payloads) / seconds, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data",
                                                       "fashion_mnist"))
    parser.add_argument("--work", default="/tmp/captioner_shapes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="3,000 training and 300 test canvases, 5 epochs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a captioner option for training (default: none)")
    parser.add_argument("--epochs", type=int, help="override the default epochs")
    args = parser.parse_args()
    train_count, test_count = (3000, 300) if args.quick else (12000, 1000)
    os.makedirs(args.work, exist_ok=True)
    started = time.perf_counter()
    boxes = build(args.data, args.work, train_count, test_count, args.seed)
    print(f"built {train_count} + {test_count} canvases in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    model_dir = os.path.join(args.work, "model")
    train_args = ["train", "--train", os.path.join(args.work, "train.token.txt"),
                  "--images", os.path.join(args.work, "images"), "--out", model_dir,
                  "--restart", "--seed", str(args.seed)]
    train_args += [f"--set={option}" for option in args.set]
    if args.quick or args.epochs:
        train_args += ["--epochs", str(args.epochs or 5)]
    _, train_wall = cli(*train_args)
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    out, _ = cli("evaluate", "--model", model_dir, "--data",
                 os.path.join(args.work, "test.token.txt"), "--images",
                 os.path.join(args.work, "images"), "--json")
    report = {"train_canvases": train_count, "test_canvases": test_count,
              "options": args.set, "train_wall_seconds": round(train_wall, 1),
              "train_seconds": metrics["train_seconds_this_run"],
              "epochs": metrics["epochs_completed"], "best_val_loss": metrics["best"],
              "evaluate": json.loads(out)}
    report.update(in_process_scores(model_dir, args.work, boxes))
    report["export_captions_per_second"] = export_speed(model_dir, args.work, test_count)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
