"""NAB figures for the anomaly detector: the artificial jump and the realKnownCause series.

Runs the package's own command line for every series, so the numbers are what a user gets:

    python benchmarks/nab_anomaly.py --nab ../shared/data/nab --out runs/nab

1. Train on ``artificialNoAnomaly/art_daily_small_noise.csv``, evaluate on
   ``artificialWithAnomaly/art_daily_jumpsup.csv`` against its labelled window.
2. For each ``realKnownCause`` series: train on its first 15 % (NAB's probationary period),
   evaluate the rest (``--probation 0.15``) against the labelled windows.

Each series gets two models: the default one, and a coarse one (``--coarse``, by default
``pool=12,window=12,threshold_margin=2.5``: 12 means of 12 points) trained the same way;
``evaluate --with-model`` flags what either flags. The rows ``alone`` are the default model
by itself. Prints Markdown tables and writes them, with the raw results, to
``OUT/results.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time


def cli(*args):
    result = subprocess.run([sys.executable, "-m", "applications.anomaly_detector", *map(str, args)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stderr[-2000:]}")
    return result.stdout


def train_and_evaluate(name, train_csv, eval_csv, labels, out, extra_train=(), probation=0.0,
                       coarse=()):
    """``(scores of both models together, scores of the default model alone)``."""
    model_dir, coarse_dir = os.path.join(out, name), os.path.join(out, name + "-coarse")
    started = time.time()
    cli("train", "--train", train_csv, "--out", model_dir, *extra_train)
    seconds = time.time() - started
    base = ["evaluate", "--model", model_dir, "--data", eval_csv, "--labels", labels,
            "--probation", probation, "--json"]
    alone = json.loads(cli(*base))
    alone["train_seconds"] = round(seconds, 1)
    if not coarse:
        return alone, alone
    started = time.time()
    cli("train", "--train", train_csv, "--out", coarse_dir, *extra_train,
        *(f"--set={s}" for s in coarse))
    both = json.loads(cli(*base, "--with-model", coarse_dir))
    both["train_seconds"] = round(seconds + time.time() - started, 1)
    return both, alone


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab", default="../shared/data/nab")
    parser.add_argument("--out", default="runs/nab")
    parser.add_argument("--set", action="append", default=[], help="extra train options")
    parser.add_argument("--coarse", default="pool=12,window=12,threshold_margin=2.5",
                        help="the coarse model's options on top of --set ('' = none)")
    args = parser.parse_args()
    coarse = [s for s in args.coarse.split(",") if s]
    data = os.path.join(args.nab, "data")
    labels = os.path.join(args.nab, "labels", "combined_windows.json")
    extra = [f"--set={s}" for s in args.set]
    results = {"both": {}, "alone": {}}

    def run(name, *arguments, **options):
        both, alone = train_and_evaluate(*arguments, coarse=coarse, **options)
        results["both"][name], results["alone"][name] = both, alone
        print(name, both, file=sys.stderr, flush=True)

    run("artificialWithAnomaly/art_daily_jumpsup", "art_daily",
        os.path.join(data, "artificialNoAnomaly", "art_daily_small_noise.csv"),
        os.path.join(data, "artificialWithAnomaly", "art_daily_jumpsup.csv"), labels, args.out,
        extra)
    folder = os.path.join(data, "realKnownCause")
    for file in sorted(os.listdir(folder)):
        path = os.path.join(folder, file)
        run(f"realKnownCause/{file[:-4]}", file[:-4], path, path, labels, args.out,
            ["--set=train_fraction=0.15", *extra], probation=0.15)
    for kind in (["both", "alone"] if coarse else ["alone"]):
        print(f"\n{kind}:")
        print_table(results[kind])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)


def print_table(rows):
    keys = ["events", "events_unscored", "events_found", "event_recall",
            "false_positive_events", "point_precision", "point_recall", "flagged_points",
            "points", "season", "log_columns", "train_seconds"]
    print("| series | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name, scores in rows.items():
        cells = [scores.get(k) for k in keys]
        print(f"| {name} | " + " | ".join(
            f"{c:.3f}" if isinstance(c, float) else ", ".join(c) if isinstance(c, list)
            else str(c) for c in cells) + " |")
    real = [s for n, s in rows.items() if n.startswith("realKnownCause")]
    found = sum(s["events_found"] for s in real)
    total = sum(s["events"] for s in real)
    false_pos = sum(s["false_positive_events"] for s in real) / len(real)
    unscored = sum(s["events_unscored"] for s in real)
    print(f"\nrealKnownCause: event recall {found:.0f}/{total} = {found / total:.3f} "
          f"({unscored} more windows lie wholly in the training part), "
          f"false-positive events per series {false_pos:.2f}")


if __name__ == "__main__":
    main()
