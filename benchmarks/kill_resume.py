"""Kill training with SIGKILL at random moments, resume it each time, and compare the result.

The tagger trains on a small generated corpus with a checkpoint every few batches. Each
trial starts a fresh run directory and runs the same ``train`` command again and again:
every process is SIGKILLed after a random delay unless it finishes first, and the next
one resumes from what the killed one left. When the planned number of kills is spent, the
last trial runs to the end. Every trial's final dev accuracy (``metrics.json`` ``best``,
the score of ``model.keras``) is compared with one uninterrupted run of the same command.

Reported: kills, kills that left a half-written file behind (a temporary file or a torn
checkpoint the next process warned about), unrecoverable trials (a resumed process that
exited with an error or a traceback; goal 0) and the largest difference of the final dev
accuracy from the uninterrupted run (goal <= 1 %).

    python benchmarks/kill_resume.py --kills 50 --report runs/kill_resume.json
    python benchmarks/kill_resume.py --kills 3            # smoke test, a few minutes
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# Small enough to train in about half a minute, and still short of 100 % dev accuracy after
# 4 epochs (about 93 %), so a resume that changed training would show in the score.
TINY = ["--set", "word_dim=16", "--set", "char_dim=8", "--set", "encoder.nodes=[16]",
        "--set", "char_encoder.nodes=[8]", "--set", "learning_rate=0.006", "--batch-size", "16"]


def write_corpus(folder, sentences, seed):
    from applications.pos_tagger.sample_data import generate_sentences, write_two_column

    train, dev = os.path.join(folder, "train.tsv"), os.path.join(folder, "dev.tsv")
    write_two_column(generate_sentences(sentences, seed=seed), train)
    write_two_column(generate_sentences(max(50, sentences // 5), seed=seed + 1), dev)
    return train, dev


def train_command(args, train, dev, out):
    command = [sys.executable, "-m", "applications.pos_tagger", "train", "--train", train,
               "--dev", dev, "--out", out, "--epochs", str(args.epochs), "--seed", str(args.seed),
               "--set", f"save_every_steps={args.save_every}", *TINY]
    return command + (["--deterministic"] if args.deterministic else [])


def start(command, log_path):
    log = open(log_path, "wb")  # the process's own output, read back after it ends
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    return process


def half_written(out):
    """Temporary files a killed write left behind (the next process deletes them)."""
    leftovers = []
    for folder in (out, os.path.join(out, "checkpoints")):
        if os.path.isdir(folder):
            leftovers += [n for n in os.listdir(folder) if n.startswith(".tmp-") or "_temp" in n]
    return leftovers


def newest_checkpoint(out):
    """The highest checkpoint number (optimizer steps) on disk, 0 when there is none."""
    from applications.core.checkpoints import checkpoints_on_disk

    newest = checkpoints_on_disk(os.path.join(out, "checkpoints"))[:1]
    return int(newest[0].rsplit("-", 1)[1]) if newest else 0


def best_score(out):
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as handle:
        return json.load(handle)["best"]


def run_trial(args, command_for, out, kills_left, rng, logs):
    """Run one trial to its end, killing up to ``kills_left`` processes on the way."""
    trial = {"kills": 0, "torn_writes": 0, "warnings": 0, "failed": None, "processes": 0,
             "steps_at_kills": []}
    while True:
        log_path = os.path.join(logs, f"{os.path.basename(out)}-{trial['processes']}.log")
        process = start(command_for(out), log_path)
        trial["processes"] += 1
        killing = trial["kills"] < kills_left
        try:
            process.wait(timeout=rng.uniform(args.min_delay, args.max_delay) if killing else None)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            trial["kills"] += 1
            trial["torn_writes"] += bool(half_written(out))
            trial["steps_at_kills"].append(newest_checkpoint(out))
            continue
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            stderr = handle.read()
        trial["warnings"] += sum(line.startswith("warning: ") for line in stderr.splitlines())
        if process.returncode != 0 or "Traceback" in stderr:
            trial["failed"] = f"exit {process.returncode}: {stderr.strip().splitlines()[-1:]}"
            return trial
        trial["best"] = best_score(out)
        return trial


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--sentences", type=int, default=400, help="training sentences")
    parser.add_argument("--save-every", type=int, default=3, help="save every N batches")
    parser.add_argument("--min-delay", type=float, default=2.0, help="seconds before a kill")
    parser.add_argument("--max-delay", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-deterministic", dest="deterministic", action="store_false")
    parser.add_argument("--work", help="folder for runs and logs (default: a temporary one)")
    parser.add_argument("--report", help="also write the JSON summary here")
    args = parser.parse_args(argv)

    work = args.work or tempfile.mkdtemp(prefix="kill_resume-")
    logs = os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)
    train, dev = write_corpus(work, args.sentences, args.seed)
    command_for = lambda out: train_command(args, train, dev, out)  # noqa: E731
    rng = random.Random(args.seed)

    reference_dir = os.path.join(work, "reference")
    shutil.rmtree(reference_dir, ignore_errors=True)
    began = time.time()
    reference = run_trial(args, command_for, reference_dir, 0, rng, logs)
    if reference["failed"]:
        sys.exit(f"the uninterrupted run failed: {reference['failed']}")
    reference_seconds = time.time() - began
    print(f"uninterrupted: best dev accuracy {reference['best']:.6f} in {reference_seconds:.0f} s",
          file=sys.stderr)

    trials, kills = [], 0
    while kills < args.kills or not trials:
        out = os.path.join(work, f"trial{len(trials)}")
        shutil.rmtree(out, ignore_errors=True)
        trial = run_trial(args, command_for, out, args.kills - kills, rng, logs)
        kills += trial["kills"]
        trials.append(trial)
        print(f"trial {len(trials) - 1}: {trial['kills']} kill(s), "
              f"{trial.get('best', trial['failed'])}", file=sys.stderr)

    finished = [t["best"] for t in trials if t["failed"] is None]
    differences = [abs(score - reference["best"]) for score in finished]
    summary = {
        "kills": kills,
        "trials": len(trials),
        "processes": sum(t["processes"] for t in trials),
        "kills_leaving_half_written_files": sum(t["torn_writes"] for t in trials),
        "kills_after_a_checkpoint": sum(bool(s) for t in trials for s in t["steps_at_kills"]),
        "checkpoint_steps_at_kills": [t["steps_at_kills"] for t in trials],
        "warnings_on_resume": sum(t["warnings"] for t in trials),
        "unrecoverable_trials": sum(t["failed"] is not None for t in trials),
        "reference_best_dev_accuracy": reference["best"],
        "max_abs_difference": max(differences) if differences else None,
        "max_relative_difference_percent": (100 * max(differences) / reference["best"]
                                            if differences else None),
        "reference_seconds": round(reference_seconds, 1),
        "settings": {k: v for k, v in vars(args).items() if k not in ("report", "work")},
        "failures": [t["failed"] for t in trials if t["failed"]],
        "work": work,
    }
    text = json.dumps(summary, indent=2, sort_keys=True)
    print(text)
    if args.report:
        from data.files import atomic_write_bytes

        atomic_write_bytes(args.report, (text + "\n").encode("utf-8"))
    return 0 if summary["unrecoverable_trials"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
