"""UPOS tagging side by side: spaCy's CPU tagger against Encore's default tagger, same budget.

Both train from scratch (no pretrained vectors) on the same UD train file and are scored on
the same dev file, one after the other in this run, each alone on the machine:

- spaCy: the train and dev files go through spaCy's own ``spacy convert --converter conllu``.
  That converter puts XPOS in ``tag_`` and UPOS in ``pos_``; here UPOS is copied into
  ``tag_`` and spaCy's ``tagger`` is trained (``spacy init config --pipeline tagger
  --optimize efficiency``), so both tools learn the same 17 labels with a plain tagger. (The
  ``morphologizer`` would predict UPOS jointly with the morphological features, a larger
  label set and a different task.) spaCy has no time budget, so ``spacy train`` runs with
  ``patience`` and ``max_steps`` off and is stopped at the budget; the ``model-best`` it
  saved by then is scored.
- Encore: ``python -m applications.pos_tagger train`` with its default configuration and
  ``--set time_budget_minutes=BUDGET``.

Printed side by side: dev UPOS accuracy at the budget (gold tokenisation for both), the
accuracy-against-time curve (spaCy's own periodic evaluations; Encore's after each epoch,
from its TensorBoard log), training words per second, peak RSS of the training process, and
tagging speed on the dev texts as raw strings (spaCy ``nlp.pipe`` against Encore's exported
SavedModel called in batches; each tokenises for itself and counts its own tokens), with
one thread and with all threads::

    pip install -e ".[cpu,benchmark]"      # scikit-learn and spaCy
    python benchmarks/peer_spacy_tagger.py --data ../shared/data/ud_english_ewt --minutes 10

``--minutes 1`` checks the script end to end. Writes ``OUT/peer_spacy_tagger.json``.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def watch(command, budget_seconds=None, cwd=REPO, env=None):
    """Run ``command``; stop it at ``budget_seconds``. Returns ``(lines with their elapsed
    seconds, peak RSS in MB, wall seconds, start time)``; the peak is polled from ``/proc``
    every 0.2 s."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=cwd, env=env, bufsize=1)
    started, lines, peak = time.time(), [], [0.0]

    def read():
        for line in process.stdout:
            lines.append((time.time() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while process.poll() is None:
        peak[0] = max(peak[0], _peak_mb(process.pid))
        if budget_seconds is not None and time.time() - started > budget_seconds:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
            break
        time.sleep(0.2)
    process.wait()
    reader.join(10)
    if budget_seconds is None and process.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n" + "\n".join(t for _, t in lines[-30:]))
    return lines, peak[0], time.time() - started, started


def _peak_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def conllu_words(path):
    """Token lines (not multiword ranges or empty nodes) and the ``# text`` of each sentence."""
    words, texts = 0, []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("# text = "):
                texts.append(line[len("# text = "):].strip())
            elif line.strip() and not line.startswith("#"):
                first = line.split("\t", 1)[0]
                words += "-" not in first and "." not in first
    return words, texts


def spacy_side(args, out, train_words):
    import spacy
    from spacy.tokens import DocBin

    data = os.path.join(out, "spacy_data")
    os.makedirs(data, exist_ok=True)
    spacy_files = {}
    for part in ("train", "dev"):
        watch([sys.executable, "-m", "spacy", "convert", os.path.join(args.data, f"{part}.conllu"),
               data, "--converter", "conllu", "--n-sents", "10", "--file-type", "spacy"])
        converted = os.path.join(data, f"{part}.spacy")
        vocab = spacy.blank("en").vocab
        docs = list(DocBin().from_disk(converted).get_docs(vocab))
        for doc in docs:
            for token in doc:
                token.tag_ = token.pos_  # UPOS as the tagger's label
        spacy_files[part] = os.path.join(data, f"{part}_upos.spacy")
        DocBin(docs=docs, store_user_data=False).to_disk(spacy_files[part])
    config = os.path.join(out, "spacy_tagger.cfg")
    watch([sys.executable, "-m", "spacy", "init", "config", config, "--lang", "en",
           "--pipeline", "tagger", "--optimize", "efficiency", "--force"])
    model_dir = os.path.join(out, "spacy_model")
    shutil.rmtree(model_dir, ignore_errors=True)
    lines, peak, wall, _ = watch(
        [sys.executable, "-m", "spacy", "train", config, "--output", model_dir,
         "--paths.train", spacy_files["train"], "--paths.dev", spacy_files["dev"],
         "--training.patience", "0", "--training.max_steps", "0", "--training.max_epochs", "0",
         "--training.seed", str(args.seed)], budget_seconds=args.minutes * 60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    with open(os.path.join(out, "spacy_train.log"), "w") as log:
        log.writelines(f"{seconds:8.1f}  {text}\n" for seconds, text in lines)
    curve, epochs_done = [], 0
    for seconds, text in lines:
        cells = text.split()
        # Table rows: E, #, LOSS TOK2VEC, LOSS TAGGER, TAG_ACC (0-100), then POS_ACC and
        # SCORE in this spaCy version.
        if len(cells) >= 6 and cells[0].isdigit() and cells[1].isdigit():
            accuracy = float(cells[4])
            curve.append((round(seconds, 1), round(accuracy / 100 if accuracy > 1 else accuracy,
                                                   4)))
            epochs_done = int(cells[0])
    best = os.path.join(model_dir, "model-best")
    if not os.path.isdir(best):
        return {"error": "spaCy saved no model-best within the budget", "curve": curve}
    nlp = spacy.load(best)
    from spacy.training import Example

    dev_docs = list(DocBin().from_disk(spacy_files["dev"]).get_docs(nlp.vocab))
    scores = nlp.evaluate([Example(nlp.make_doc(doc.text), doc) for doc in dev_docs])
    return {"version": spacy.__version__, "config": os.path.relpath(config, REPO),
            "dev_accuracy": round(scores["tag_acc"], 4), "curve": curve,
            "train_wall_seconds": round(wall, 1), "peak_rss_mb": round(peak),
            "train_words_per_second_lower_bound": round(epochs_done * train_words / wall),
            "epochs_completed": epochs_done, "model": best}


def encore_side(args, out, train_words):
    model_dir = os.path.join(out, "encore_model")
    shutil.rmtree(model_dir, ignore_errors=True)
    _, peak, wall, started = watch(
        [sys.executable, "-m", "applications.pos_tagger", "train",
         "--train", os.path.join(args.data, "train.conllu"),
         "--dev", os.path.join(args.data, "dev.conllu"), "--out", model_dir,
         "--seed", str(args.seed), "--set", f"time_budget_minutes={args.minutes}"])
    result = subprocess.run(
        [sys.executable, "-m", "applications.pos_tagger", "evaluate", "--model", model_dir,
         "--data", os.path.join(args.data, "dev.conllu"), "--json", "--quiet"],
        capture_output=True, text=True, cwd=REPO, check=True)
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    return {"dev_accuracy": round(json.loads(result.stdout)["accuracy"], 4),
            "curve": tensorboard_curve(model_dir, started),
            "train_wall_seconds": round(wall, 1), "peak_rss_mb": round(peak),
            "train_words_per_second": round(metrics["epochs_completed"] * train_words /
                                            metrics["train_seconds_this_run"]),
            "epochs_completed": metrics["epochs_completed"], "model": model_dir}


def tensorboard_curve(model_dir, started):
    """``(seconds since the command started, dev accuracy)`` after each epoch, from the
    run's TensorBoard validation log."""
    import tensorflow as tf

    events = []
    for path in glob.glob(os.path.join(model_dir, "logs", "validation", "events*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == "epoch_accuracy":
                    number = (float(tf.make_ndarray(value.tensor))
                              if value.HasField("tensor") else value.simple_value)
                    events.append((round(event.wall_time - started, 1), round(number, 4)))
    return sorted(events)


def tagging_speed(args, spacy_model, encore_model, out, texts):
    """Words per second on the dev texts, one thread and all threads, in fresh processes."""
    export = os.path.join(out, "encore_export")
    shutil.rmtree(export, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "applications.pos_tagger", "export", "--model",
                    encore_model, "--out", export, "--quiet"], cwd=REPO, check=True)
    text_file = os.path.join(out, "dev_texts.json")
    json.dump(texts, open(text_file, "w"))
    speeds = {}
    for threads in (1, 0):
        label = "one_thread" if threads == 1 else "all_threads"
        env = {**os.environ, **({"OMP_NUM_THREADS": "1", "BLIS_NUM_THREADS": "1",
                                 "OPENBLAS_NUM_THREADS": "1"} if threads == 1 else {})}
        for side, model in (("spacy", spacy_model), ("encore", export)):
            if model is None:
                continue
            result = subprocess.run([sys.executable, os.path.abspath(__file__), "--speed", side,
                                     model, text_file, str(threads)],
                                    capture_output=True, text=True, cwd=REPO, env=env, check=True)
            speeds[f"{side}_{label}"] = json.loads(result.stdout.strip().splitlines()[-1])
    return speeds


def measure_speed(side, model, text_file, threads):
    """Child process: tag every text twice (the first pass warms up), time the second."""
    texts = json.load(open(text_file))
    if side == "spacy":
        import spacy

        nlp = spacy.load(model)
        processes = 1 if threads == 1 else os.cpu_count()

        def tag():
            return sum(len(doc) for doc in nlp.pipe(texts, batch_size=256, n_process=processes))
    else:
        import tensorflow as tf

        if threads == 1:
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        serve = tf.saved_model.load(model).signatures["serve"]

        def tag():
            words = 0
            for start in range(0, len(texts), 256):
                result = serve(sentences=tf.constant(texts[start:start + 256]))
                words += int(result["lengths"].numpy().sum())
            return words
    tag()
    started = time.perf_counter()
    words = tag()
    seconds = time.perf_counter() - started
    print(json.dumps({"words": words, "seconds": round(seconds, 3),
                      "words_per_second": round(words / seconds)}))


def main():
    if sys.argv[1:2] == ["--speed"]:
        return measure_speed(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data",
                                                       "ud_english_ewt"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.path.join(REPO, "runs", "peer-spacy"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    train_words, _ = conllu_words(os.path.join(args.data, "train.conllu"))
    _, dev_texts = conllu_words(os.path.join(args.data, "dev.conllu"))
    report = {"minutes": args.minutes, "train_words": train_words,
              "cpu": cpu_model(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    report["spacy"] = spacy_side(args, args.out, train_words)
    report["encore"] = encore_side(args, args.out, train_words)
    report["tagging"] = tagging_speed(args, report["spacy"].get("model"),
                                      report["encore"]["model"], args.out, dev_texts)
    with open(os.path.join(args.out, "peer_spacy_tagger.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    print_table(report)


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))
    except (OSError, StopIteration):
        return "unknown"


def print_table(report):
    spacy_, encore = report["spacy"], report["encore"]
    print(f"{report['minutes']} min budget, {report['cpu']}, {report['date']}")
    rows = [("dev UPOS accuracy", spacy_.get("dev_accuracy"), encore["dev_accuracy"]),
            ("epochs completed", spacy_.get("epochs_completed"), encore["epochs_completed"]),
            ("training wall s", spacy_.get("train_wall_seconds"), encore["train_wall_seconds"]),
            ("training words/s", spacy_.get("train_words_per_second_lower_bound"),
             encore["train_words_per_second"]),
            ("peak RSS MB", spacy_.get("peak_rss_mb"), encore["peak_rss_mb"])]
    for label in ("one_thread", "all_threads"):
        rows.append((f"tagging words/s, {label.replace('_', ' ')}",
                     report["tagging"].get(f"spacy_{label}", {}).get("words_per_second"),
                     report["tagging"].get(f"encore_{label}", {}).get("words_per_second")))
    print(f"{'':34} {'spaCy ' + spacy_.get('version', ''):>14} {'Encore':>10}")
    for name, a, b in rows:
        print(f"{name:34} {str(a):>14} {str(b):>10}")
    print("curve spaCy  (s, acc):", spacy_.get("curve"))
    print("curve Encore (s, acc):", encore["curve"])


if __name__ == "__main__":
    main()
