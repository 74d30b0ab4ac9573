"""Pretrained inputs: reading a 1 GB word vectors file, and a MobileNetV2 backbone trained.

``vectors``: writes a GloVe-format file of about ``--size-gb`` GB (300 values a line, as
GloVe 6B 300d: ~370 000 lines) holding the SST-2 training vocabulary among made-up words,
then reads the vectors of that vocabulary with :func:`data.word_vectors.read_word_vectors`
in a fresh process, reporting wall time, throughput and peak RSS (before and after the
read), and deletes the file. The file was just written, so it is read from the page cache.

``images``: trains the image classifier on Fashion-MNIST twice under the same time budget,
with the default CNN and with a MobileNetV2 backbone from scratch (``weights`` none; the
backbone's input layer scales the 28x28 images up to its 32x32 minimum), and scores both
on the 10 000 test images.

    python benchmarks/pretrained_inputs.py all --json results.json
"""

import argparse
import calendar
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
sys.path.insert(0, ROOT)

READ_CHILD = """
import json, sys, time, types
sys.path.insert(0, {root!r})
# The reader alone: the data package's __init__ would import TensorFlow, whose ~600 MB
# would hide what the read itself takes.
package = types.ModuleType("data")
package.__path__ = [{root!r} + "/data"]
sys.modules["data"] = package
from data.word_vectors import read_word_vectors


def memory(field):  # MB; VmHWM is this program's peak (ru_maxrss would count the parent's)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":")) / 1024


words = json.load(open({words!r}))
before = memory("VmHWM")
start = time.time()
vectors = read_word_vectors({path!r}, words)
seconds = time.time() - start
print(json.dumps({{"seconds": seconds, "found": len(vectors.vectors), "dim": vectors.dim,
                  "rss_before_mb": before,
                  "peak_rss_mb": memory("VmHWM"), "rss_holding_vectors_mb": memory("VmRSS"),
                  "tensorflow_imported": "tensorflow" in sys.modules}}))
"""


def sst2_vocabulary():
    """The text classifier's vocabulary of the SST-2 training table, as ``train`` builds it."""
    from applications.text_classifier.pipeline import TextMetadata
    from data.text_table import read_text_table

    table = read_text_table(os.path.join(SHARED, "sst2", "train.tsv"))
    words = TextMetadata.from_table(table).words
    return words.items[words.specials:]


def write_vectors_file(path, vocabulary, size_bytes, dim=300, seed=0):
    """A GloVe text file of about ``size_bytes``: the vocabulary at random lines among
    made-up words; vectors drawn from a pool of pre-formatted rows (writing is not timed)."""
    rng = random.Random(seed)
    pool = [" ".join(f"{rng.gauss(0, 0.4):.6f}" for _ in range(dim)) for _ in range(256)]
    line_bytes = 8 + len(pool[0])
    lines = max(len(vocabulary) * 2, size_bytes // line_bytes)
    real_at = dict(zip(rng.sample(range(lines), len(vocabulary)), vocabulary))
    with open(path, "w", encoding="utf-8") as f:
        for i in range(lines):
            f.write(f"{real_at.get(i, f'w{i:07d}')} {pool[i % len(pool)]}\n")
    return lines


def run_vectors(args):
    vocabulary = sst2_vocabulary()
    folder = "/tmp/pretrained_inputs_vectors"
    os.makedirs(folder, exist_ok=True)
    path, words_path = os.path.join(folder, "vectors.txt"), os.path.join(folder, "words.json")
    try:
        with open(words_path, "w") as f:
            json.dump(vocabulary, f)
        start = time.time()
        lines = write_vectors_file(path, vocabulary, int(args.size_gb * 1e9))
        written = time.time() - start
        size = os.path.getsize(path)
        child = subprocess.run([sys.executable, "-c", READ_CHILD.format(
            root=ROOT, words=words_path, path=path)], capture_output=True, text=True, check=True)
        result = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.update(file_bytes=size, lines=lines, vocabulary=len(vocabulary),
                  write_seconds=round(written, 1),
                  mb_per_second=round(size / 1e6 / result["seconds"], 1),
                  lines_per_second=round(lines / result["seconds"]))
    return result


def train_and_test(name, settings, minutes, folder):
    """Train into ``folder/name`` under the time budget, then evaluate on the test images."""
    data = os.path.join(SHARED, "fashion_mnist")
    out = os.path.join(folder, name)
    command = [sys.executable, "-m", "applications.image_classifier", "train",
               "--train", os.path.join(data, "train-images-idx3-ubyte.gz"),
               "--train-labels", os.path.join(data, "train-labels-idx1-ubyte.gz"),
               "--out", out, "--set", f"time_budget_minutes={minutes}", *settings]
    start = time.time()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.time() - start
    scores = subprocess.run(
        [sys.executable, "-m", "applications.image_classifier", "evaluate", "--model", out,
         "--data", os.path.join(data, "t10k-images-idx3-ubyte.gz"),
         "--labels", os.path.join(data, "t10k-labels-idx1-ubyte.gz"), "--json"],
        cwd=ROOT, check=True, capture_output=True, text=True)
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    return {"settings": settings, "test_accuracy": json.loads(scores.stdout)["accuracy"],
            "epochs_completed": metrics["epochs_completed"],
            "train_seconds": metrics["train_seconds_this_run"], "wall_seconds": round(wall, 1)}


def run_images(args):
    folder = "/tmp/pretrained_inputs_images"
    backbone = json.dumps({"name": "cnn", "preset": "mobilenet_v2", "alpha": args.alpha,
                           "weights": None})
    runs = {
        "default_cnn": [],
        # No augmentation and less dropout: a few epochs fit the budget, too few to need them.
        "mobilenet_v2_scratch": ["--set", f"encoder={backbone}", "--set", "hidden=[]",
                                 "--set", "dropout=0.2", "--set", "augment_translation=0",
                                 "--set", "augment_rotation=0", "--epochs", str(args.epochs)],
    }
    results = {}
    try:
        for name in args.runs:
            if args.finish_by and time.time() + 60 * (args.minutes + 3) > args.finish_by:
                results[name] = "skipped: it could not end by --finish-by"
                print(json.dumps({name: results[name]}), flush=True)
                continue
            results[name] = train_and_test(name, runs[name], args.minutes, folder)
            print(json.dumps({name: results[name]}), flush=True)  # a run at a time
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["vectors", "images", "all"])
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--alpha", type=float, default=0.35, help="MobileNetV2 width")
    parser.add_argument("--epochs", type=int, default=4, help="MobileNetV2 epochs (cosine)")
    parser.add_argument("--runs", default="mobilenet_v2_scratch,default_cnn")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--finish-by", metavar="HH:MM", help="UTC time by which the runs must "
                        "end: a training run that could not (budget + 3 minutes) is skipped")
    args = parser.parse_args()
    args.runs = args.runs.split(",")
    if args.finish_by:
        today = time.strftime("%Y-%m-%d", time.gmtime())
        args.finish_by = calendar.timegm(time.strptime(f"{today} {args.finish_by}",
                                                       "%Y-%m-%d %H:%M"))
    results = {"load_before": os.getloadavg()}
    if args.part in ("vectors", "all"):
        results["vectors"] = run_vectors(args)
        print(json.dumps({"vectors": results["vectors"]}), flush=True)
    if args.part in ("images", "all"):
        results["images"] = run_images(args)
    results["load_after"] = os.getloadavg()
    results["self_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
