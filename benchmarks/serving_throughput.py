"""Serving speed of every application's export beside the same model's in-process predict.

For each application: train its default configuration on its embedded sample (``--epochs``,
default 2: speed does not depend on accuracy, though a translator or captioner that has not
learnt to stop decodes to its length limit), export it, then time

- ``serve``: the exported SavedModel's ``serve`` signature, loaded with
  ``tf.saved_model.load`` (what TensorFlow Serving or any TF program calls), fed raw inputs
  (strings, image bytes, pixels, windows or column values); the video classifier's
  ``serve`` takes one clip, so its batches go to its batched ``classify_clips`` signature;
- ``predict``: the application's Python API on the ``.keras`` model in this process
  (``Model.load_model(dir).predict(...)``), fed the same raw inputs as Python values
  (image and clip files where the API reads files).

Each application's inputs are made in ``serving_inputs.py``.

at batch sizes 1, 8 and 64: requests per second, items per second and p50 / p99 latency,
each after a warm-up call, over at least ``--seconds`` of calls (and at least 10 calls)::

    python benchmarks/serving_throughput.py --out runs/serving [--only pos_tagger,tabular]

Both sides run on all cores of this machine. Writes ``OUT/serving.json`` and prints a table.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [REPO, HERE]

from serving_inputs import MAKERS, SkipApplication  # noqa: E402

BATCHES = (1, 8, 64)


def timed(call, seconds):
    """Latencies (s) of repeated ``call()`` after one warm-up: at least ``seconds`` and 10."""
    call()
    latencies, started = [], time.perf_counter()
    while len(latencies) < 10 or time.perf_counter() - started < seconds:
        begin = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - begin)
    return np.array(latencies)


def summary(latencies, batch):
    return {"requests_per_second": round(len(latencies) / latencies.sum(), 1),
            "items_per_second": round(batch * len(latencies) / latencies.sum(), 1),
            "p50_ms": round(float(np.percentile(latencies, 50)) * 1e3, 2),
            "p99_ms": round(float(np.percentile(latencies, 99)) * 1e3, 2)}


def measure(name, args):
    """Train, export and time one application; returns its rows."""
    import tensorflow as tf

    from applications.core.base import load_model

    make_inputs = MAKERS[name]
    run_dir = os.path.join(args.out, name)
    export_dir = os.path.join(args.out, f"{name}_export")
    for command in (["train", "--out", run_dir, "--epochs", str(args.epochs), "--seed", "1"],
                    ["export", "--model", run_dir, "--out", export_dir]):
        result = subprocess.run([sys.executable, "-m", f"applications.{name}", *command,
                                 "--quiet"], capture_output=True, text=True, cwd=REPO)
        if result.returncode != 0:
            return {"error": result.stderr.strip().splitlines()[-1:]}
    model = load_model(run_dir)
    try:
        serve_inputs, predict, *endpoint = make_inputs(
            model, os.path.join(args.out, f"{name}_inputs"))
    except SkipApplication as why:
        return {"skipped": str(why)}
    endpoint = endpoint[0] if endpoint else "serve"
    signature = tf.saved_model.load(export_dir).signatures[endpoint]
    specs = signature.structured_input_signature[1]
    rows = {"endpoint": endpoint}
    for batch in BATCHES:
        idx = np.arange(batch) % 64
        feed = {key: tf.constant(value, dtype=specs[key].dtype)
                for key, value in serve_inputs(idx).items()}
        rows[batch] = {"serve": summary(timed(lambda: signature(**feed), args.seconds), batch),
                       "predict": summary(timed(lambda: predict(model, idx), args.seconds),
                                          batch)}
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "runs", "serving"))
    parser.add_argument("--only", help="comma-separated application names")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(MAKERS)
    unknown = sorted(set(names) - set(MAKERS))
    if unknown:
        parser.error(f"unknown applications: {', '.join(unknown)}")
    os.makedirs(args.out, exist_ok=True)
    report = {}
    for name in names:
        report[name] = measure(name, args)
        print_rows(name, report[name])
        with open(os.path.join(args.out, "serving.json"), "w") as handle:
            json.dump(report, handle, indent=1)


def print_rows(name, rows):
    if "error" in rows or "skipped" in rows:
        print(f"{name}: {rows}")
        return
    if rows["endpoint"] != "serve":
        print(f"{name}: the export's {rows['endpoint']} signature is timed as serve")
    for batch, sides in rows.items():
        if batch == "endpoint":
            continue
        s, p = sides["serve"], sides["predict"]
        print(f"{name:18} batch {batch:3d}  serve {s['items_per_second']:9.1f} items/s "
              f"p50 {s['p50_ms']:8.2f} ms p99 {s['p99_ms']:8.2f} ms | predict "
              f"{p['items_per_second']:9.1f} items/s p50 {p['p50_ms']:8.2f} ms "
              f"p99 {p['p99_ms']:8.2f} ms", flush=True)


if __name__ == "__main__":
    main()
