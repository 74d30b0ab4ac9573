"""Serving speed of every application's export beside the same model's in-process predict.

For each application: train its default configuration on its embedded sample (``--epochs``,
default 2: speed does not depend on accuracy, though a translator or captioner that has not
learnt to stop decodes to its length limit), export it, then time

- ``serve``: the exported SavedModel's ``serve`` signature, loaded with
  ``tf.saved_model.load`` (what TensorFlow Serving or any TF program calls), fed raw inputs
  (strings, image bytes, pixels, windows or column values);
- ``predict``: the application's Python API on the ``.keras`` model in this process
  (``Model.load_model(dir).predict(...)``), fed the same raw inputs as Python values.

at batch sizes 1, 8 and 64: requests per second, items per second and p50 / p99 latency,
each after a warm-up call, over at least ``--seconds`` of calls (and at least 10 calls)::

    python benchmarks/serving_throughput.py --out runs/serving [--only pos_tagger,tabular]

Both sides run on all cores of this machine. Writes ``OUT/serving.json`` and prints a table.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

BATCHES = (1, 8, 64)


def _png_bytes(images):
    from PIL import Image

    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
        encoded.append(buffer.getvalue())
    return encoded


def _write_pngs(images, folder):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, payload in enumerate(_png_bytes(images)):
        paths.append(os.path.join(folder, f"{i:03d}.png"))
        with open(paths[-1], "wb") as handle:
            handle.write(payload)
    return paths


# Each application: its training flags, and ``inputs(model, work) -> (serve kwargs maker,
# predict call)``: ``serve(batch_indices)`` gives the signature's keyword tensors for a batch,
# ``predict(model, batch_indices)`` runs the Python API on the same items.

def tagger_inputs(model, work):
    from applications.pos_tagger.sample_data import generate_sentences

    texts = [" ".join(token for token, _ in s) for s in generate_sentences(64, seed=7)]
    return (lambda idx: {"sentences": [texts[i] for i in idx]},
            lambda m, idx: m.predict([texts[i] for i in idx]))


def classifier_inputs(model, work):
    from applications.text_classifier.sample_data import generate_reviews

    texts = [text for text, _ in generate_reviews(64, seed=7)]
    return (lambda idx: {"texts": [texts[i] for i in idx]},
            lambda m, idx: m.predict([texts[i] for i in idx]))


def language_model_inputs(model, work):
    from applications.language_model.sample_data import generate_verses

    lines = [line for line in generate_verses(40, seed=7).splitlines() if line.strip()][:64]
    return (lambda idx: {"texts": [lines[i] for i in idx]},
            lambda m, idx: m.score([lines[i] for i in idx]))


def translator_inputs(model, work):
    from applications.translator.sample_data import generate_pairs

    sources = [source for source, _ in generate_pairs(64, seed=7)]
    return (lambda idx: {"sentences": [sources[i] for i in idx]},
            lambda m, idx: m.predict([sources[i] for i in idx]))


def _shape_images(count):
    from data.shape_images import shape_sets

    _, (images, _) = shape_sets()
    return np.asarray(images[:count])


def image_classifier_inputs(model, work):
    images = _shape_images(64)
    encoded = _png_bytes(images)
    paths = _write_pngs(images, os.path.join(work, "pngs"))
    return (lambda idx: {"images": [encoded[i] for i in idx]},
            lambda m, idx: m.predict([paths[i] for i in idx]))


def autoencoder_inputs(model, work):
    meta = model.metadata
    images = _shape_images(64)
    if images.shape[1:] != (meta["height"], meta["width"], meta["channels"]):
        from applications.autoencoder.sample_data import sample_sets

        images = np.asarray(sample_sets()[1][:64])
    paths = _write_pngs(images, os.path.join(work, "pngs"))
    return (lambda idx: {"pixels": images[idx]},
            lambda m, idx: m.predict([paths[i] for i in idx]))


def anomaly_inputs(model, work):
    """A request is one window of the training series' length ``span``: ``serve`` scores
    windows; ``predict`` scores the points of a series made of the same windows."""
    rng = np.random.default_rng(7)
    windows = rng.normal(size=(64, model.span, model.features)).astype("float32")
    if model.metadata.get("season"):
        raise SkipApplication("a seasonal model's windows need timestamps")
    return (lambda idx: {"windows": windows[idx]},
            lambda m, idx: m.detect(windows[idx].reshape(-1, model.features)))


def tabular_inputs(model, work):
    from applications.tabular.sample_data import generate_rows, sample_paths
    from applications.tabular.serving import describe

    description = describe(model)
    rows = generate_rows(64, seed=7)
    header = open(sample_paths()["train"], encoding="utf-8").readline().strip().split(",")
    dicts = [dict(zip(header, map(str, row))) for row in rows]
    columns = {}
    for item in description["inputs"]:
        values = [d.get(item["column"], "") for d in dicts]
        columns[item["key"]] = (np.array([float(v) if v not in ("", "?", "NA") else np.nan
                                          for v in values], np.float32)
                                if item["kind"] == "numeric" else np.array(values, object))
    return (lambda idx: {key: values[idx] for key, values in columns.items()},
            lambda m, idx: m.predict_rows([dicts[i] for i in idx]))


class SkipApplication(Exception):
    """This application's export cannot be timed here (the reason is the message)."""


APPLICATIONS = {
    "pos_tagger": ([], tagger_inputs),
    "text_classifier": ([], classifier_inputs),
    "language_model": ([], language_model_inputs),
    "translator": ([], translator_inputs),
    "image_classifier": ([], image_classifier_inputs),
    "autoencoder": ([], autoencoder_inputs),
    "anomaly_detector": ([], anomaly_inputs),
    "tabular": ([], tabular_inputs),
}


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

    flags, make_inputs = APPLICATIONS[name]
    run_dir = os.path.join(args.out, name)
    export_dir = os.path.join(args.out, f"{name}_export")
    for command in (["train", "--out", run_dir, "--epochs", str(args.epochs), "--seed", "1",
                     *flags],
                    ["export", "--model", run_dir, "--out", export_dir]):
        result = subprocess.run([sys.executable, "-m", f"applications.{name}", *command,
                                 "--quiet"], capture_output=True, text=True, cwd=REPO)
        if result.returncode != 0:
            return {"error": result.stderr.strip().splitlines()[-1:]}
    model = load_model(run_dir)
    try:
        serve_inputs, predict = make_inputs(model, os.path.join(args.out, f"{name}_inputs"))
    except SkipApplication as why:
        return {"skipped": str(why)}
    signature = tf.saved_model.load(export_dir).signatures["serve"]
    specs = signature.structured_input_signature[1]
    rows = {}
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
    names = args.only.split(",") if args.only else list(APPLICATIONS)
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
    for batch, sides in rows.items():
        s, p = sides["serve"], sides["predict"]
        print(f"{name:18} batch {batch:3d}  serve {s['items_per_second']:9.1f} items/s "
              f"p50 {s['p50_ms']:8.2f} ms p99 {s['p99_ms']:8.2f} ms | predict "
              f"{p['items_per_second']:9.1f} items/s p50 {p['p50_ms']:8.2f} ms "
              f"p99 {p['p99_ms']:8.2f} ms", flush=True)


if __name__ == "__main__":
    main()
