"""Translator BLEU within a training-time budget, and decoding speed, through the CLI.

Trains ``applications.translator`` with ``time_budget_minutes`` (training stops before the
epoch that would pass the budget), then scores the dev pairs with sacrebleu for greedy
decoding and for beam search, and reports sentences per second for each:

    # Multi30k German -> English, both attentions
    python benchmarks/translator_bleu.py --train-src ../shared/data/multi30k/train.de \\
        --train-tgt ../shared/data/multi30k/train.en --dev-src ../shared/data/multi30k/val.de \\
        --dev-tgt ../shared/data/multi30k/val.en --out runs/m30k-luong --minutes 45
    # Tatoeba English -> Spanish, a seeded 90/10 split of spa.txt
    python benchmarks/translator_bleu.py --pairs ../shared/data/tatoeba_spa/spa.txt \\
        --dev-split 0.1 --out runs/tatoeba --minutes 45

Extra ``--set key=value`` options reach the training run (``--set attention=bahdanau``).
``--limit N`` trains on N pairs (the first N of parallel files, a seeded sample of a
tab-separated file) and ``--dev-limit N`` scores N dev pairs: for a quick smoke run.
Writes ``OUT/benchmark.json`` and prints it.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args):
    """Run the translator's command line as a user would; its stdout on success."""
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "applications.translator", *map(str, args)],
                            capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stderr[-3000:]}")
    return result.stdout, time.time() - started


def read_lines(path):
    with open(path, encoding="utf-8-sig") as handle:
        return handle.read().splitlines()


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))


def subset(args, folder):
    """Paths of the (possibly cut down) training and dev data, as CLI arguments."""
    os.makedirs(folder, exist_ok=True)
    if args.pairs:
        lines = read_lines(args.pairs)
        if args.limit:
            # spa.txt is sorted by length: a prefix would hold only the shortest pairs.
            lines = random.Random(0).sample(lines, min(args.limit, len(lines)))
        path = os.path.join(folder, "pairs.tsv")
        write_lines(path, lines)
        return ["--train", path], ["--data", path, "--held-out"]
    train = []
    for flag, source in (("--train-src", args.train_src), ("--train-tgt", args.train_tgt)):
        path = os.path.join(folder, "train." + flag[-3:])
        write_lines(path, read_lines(source)[:args.limit or None])
        train += [flag, path]
    dev = []
    for flag, source in (("-src", args.dev_src), ("-tgt", args.dev_tgt)):
        path = os.path.join(folder, "dev." + flag[1:])
        write_lines(path, read_lines(source)[:args.dev_limit or None])
        dev += [flag, path]
    return (train + ["--dev" + dev[0], dev[1], "--dev" + dev[2], dev[3]],
            ["--data" + dev[0], dev[1], "--data" + dev[2], dev[3]])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", help="tab-separated pairs (source<TAB>target)")
    parser.add_argument("--reverse", action="store_true", help="pairs are target<TAB>source")
    parser.add_argument("--dev-split", type=float, default=0.1,
                        help="held-out fraction of --pairs scored after training")
    parser.add_argument("--train-src")
    parser.add_argument("--train-tgt")
    parser.add_argument("--dev-src")
    parser.add_argument("--dev-tgt")
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=45.0, help="training time budget")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="train on this many pairs")
    parser.add_argument("--dev-limit", type=int, default=0, help="score this many dev pairs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    if not args.pairs and not all((args.train_src, args.train_tgt, args.dev_src, args.dev_tgt)):
        parser.error("give --pairs, or --train-src/--train-tgt/--dev-src/--dev-tgt")

    train_args, eval_args = subset(args, os.path.join(args.out, "data"))
    model = os.path.join(args.out, "model")
    options = [f"time_budget_minutes={args.minutes}", *args.set]
    if args.pairs:
        options.append(f"dev_split={args.dev_split}")
    if args.pairs and args.reverse:
        train_args.append("--reverse")
    _, train_seconds = cli("train", *train_args, "--out", model, "--epochs", args.epochs,
                           *[a for option in options for a in ("--set", option)])
    with open(os.path.join(model, "metrics.json")) as handle:
        metrics = json.load(handle)
    results = {"train_wall_seconds": round(train_seconds, 1),
               "train_seconds_in_fit": metrics.get("train_seconds_this_run"),
               "epochs": metrics.get("epochs_completed"),
               "best_val_loss": metrics.get("best"), "options": options}
    for name, beam in (("greedy", 1), (f"beam{args.beam}", args.beam)):
        out, _ = cli("evaluate", "--model", model, *eval_args, "--beam", beam, "--json")
        results[name] = json.loads(out)
    text = json.dumps(results, indent=2, sort_keys=True)
    with open(os.path.join(args.out, "benchmark.json"), "w") as handle:
        handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
