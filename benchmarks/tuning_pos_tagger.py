"""A small hyperparameter search for the POS tagger, against the default configuration.

Cuts the first ``--sentences`` sentences of the training file, runs
``python -m tuning pos_tagger`` for ``--trials`` trials of ``--epochs`` epochs (dev = the
whole ``--dev`` file), then trains the default configuration for the same epochs on the
same subset, and reports: trials per hour, the best trial's dev accuracy and its
hyperparameters, the default configuration's dev accuracy, and the resident memory the
search process had after trial 2 and after its last trial.

    python benchmarks/tuning_pos_tagger.py --out runs/tune-ewt                # 12 x 2 epochs
    python benchmarks/tuning_pos_tagger.py --out /tmp/smoke --sentences 300 --trials 2

The search directory is ``OUT/search`` (rerun the same command to resume it); the report
is printed as JSON and written to ``OUT/report.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
EWT = os.path.join(REPO, "..", "shared", "data", "ud_english_ewt")


def write_subset(source, target, count):
    """The first ``count`` sentences of a CoNLL-U file (blank-line separated blocks)."""
    blocks, current = [], []
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                current.append(line)
            elif current:
                blocks.append("".join(current))
                current = []
                if len(blocks) == count:
                    break
    if current and len(blocks) < count:
        blocks.append("".join(current))
    from data.files import atomic_write_bytes

    atomic_write_bytes(target, ("\n".join(blocks) + "\n").encode("utf-8"))
    return len(blocks)


def run(command):
    started = time.monotonic()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}")
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=os.path.join(EWT, "train.conllu"))
    parser.add_argument("--dev", default=os.path.join(EWT, "dev.conllu"))
    parser.add_argument("--out", required=True, help="working directory")
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--tuner", default="random")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    subset = os.path.join(args.out, f"train-{args.sentences}.conllu")
    sentences = write_subset(args.train, subset, args.sentences)
    search_dir = os.path.join(args.out, "search")
    search_seconds = run([sys.executable, "-m", "tuning", "pos_tagger", "--train", subset,
                          "--dev", args.dev, "--dir", search_dir, "--tuner", args.tuner,
                          "--max-trials", str(args.trials), "--epochs", str(args.epochs),
                          "--seed", str(args.seed)])
    default_dir = os.path.join(args.out, "default")
    default_seconds = run([sys.executable, "-m", "applications.pos_tagger", "train",
                           "--train", subset, "--dev", args.dev, "--out", default_dir,
                           "--epochs", str(args.epochs), "--seed", str(args.seed)])

    with open(os.path.join(search_dir, "results.json")) as handle:
        results = json.load(handle)
    with open(os.path.join(default_dir, "metrics.json")) as handle:
        default = json.load(handle)
    trials = [t for t in results["trials"] if t["status"] == "COMPLETED"]
    best = next(t for t in trials if t["trial"] == results["best_trial"])
    trial_seconds = sum(t["seconds"] for t in trials)
    rss = [t["rss_mb"] for t in trials]
    report = {
        "sentences": sentences,
        "epochs_per_trial": args.epochs,
        "trials_completed": len(trials),
        # From the trials' own times, so a resumed search counts only training time.
        "trials_per_hour": round(3600 * len(trials) / trial_seconds, 2),
        "search_wall_seconds_this_run": round(search_seconds, 1),
        "best_trial": best["trial"],
        "best_dev_accuracy": best["objective"],
        "best_hyperparameters": best["hyperparameters"],
        "default_dev_accuracy": default["best"],
        "default_train_seconds": round(default_seconds, 1),
        "rss_mb_after_trial_2": rss[1] if len(rss) > 1 else None,
        "rss_mb_after_last_trial": rss[-1],
    }
    from data.files import atomic_write_json

    atomic_write_json(os.path.join(args.out, "report.json"), report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
