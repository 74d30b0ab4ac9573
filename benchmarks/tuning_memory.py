"""Does a long search leak memory? RSS after trial 2 against RSS after the last trial.

Runs ``--trials`` tiny trials (1 epoch each) of one application's search in this process,
on data written here, and reads the resident memory each trial recorded (``rss_mb`` in
``results.json``). The goal: RSS after 20 trials at most 20 % above RSS after 2.

    python benchmarks/tuning_memory.py                        # POS tagger, 20 trials
    python benchmarks/tuning_memory.py --app anomaly_detector --trials 20 --json

Exit code 1 when the growth is above ``--limit`` percent.
"""

import argparse
import contextlib
import io
import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TINY = {
    "pos_tagger": ["--set", "char_dim=8", "--space", "word_dim=16", "--space",
                   "encoder.units=8,16", "--space", "char_encoder.units=8",
                   "--space", "batch_size=32,64"],
    "anomaly_detector": ["--set", "window=16", "--space", "encoder.units=4,8",
                         "--space", "decoder_units=4,8", "--space", "batch_size=32"],
}


def write_data(app, folder):
    """Small training and dev files for ``app``; returns the ``--train/--dev`` flags."""
    if app == "pos_tagger":
        from applications.pos_tagger.sample_data import generate_sentences, write_two_column

        train, dev = os.path.join(folder, "train.tsv"), os.path.join(folder, "dev.tsv")
        write_two_column(generate_sentences(200, seed=1), train)
        write_two_column(generate_sentences(40, seed=2), dev)
    else:
        train = dev = os.path.join(folder, "series.csv")
        with open(train, "w") as handle:
            handle.write("timestamp,value\n")
            handle.writelines(f"{i},{math.sin(i / 8):.4f}\n" for i in range(400))
    return ["--train", train, "--dev", dev]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=sorted(TINY), default="pos_tagger")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--limit", type=float, default=20.0, help="allowed growth, percent")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from applications.core.runtime import configure_process
    from applications.main import find_commands, run_commands

    configure_process()  # as the command line sets the process up (malloc arenas, quiet TF)

    with tempfile.TemporaryDirectory() as folder:
        search_dir = os.path.join(folder, "search")
        with contextlib.redirect_stdout(io.StringIO()):  # the results table
            code = run_commands(find_commands(args.app), [
                "tune", *write_data(args.app, folder), "--dir", search_dir, "--epochs", "1",
                "--max-trials", str(args.trials), "--seed", "1", *TINY[args.app]])
        if code != 0:
            return code
        with open(os.path.join(search_dir, "results.json")) as handle:
            trials = json.load(handle)["trials"]
    rss = [t["rss_mb"] for t in trials]
    growth = 100.0 * (rss[-1] - rss[1]) / rss[1]
    report = {"app": args.app, "trials": len(rss), "rss_mb_after_2": rss[1],
              "rss_mb_after_last": rss[-1], "growth_percent": round(growth, 1),
              "rss_mb_per_trial": rss}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.app}: RSS after trial 2 {rss[1]:.0f} MB, after trial {len(rss)} "
              f"{rss[-1]:.0f} MB ({growth:+.1f} %; limit {args.limit:g} %)")
        print("per trial:", " ".join(f"{r:.0f}" for r in rss))
    return 0 if growth <= args.limit else 1


if __name__ == "__main__":
    sys.exit(main())
