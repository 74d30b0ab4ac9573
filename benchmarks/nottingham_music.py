"""Nottingham folk tunes: a character model of ABC tunes, and how well its tunes hold together.

Runs the package's own command line, so the figures are what a user gets:

    python benchmarks/nottingham_music.py --data ../shared/data/nottingham_abc \\
        --out /tmp/nottingham --minutes 12

1. ``train`` the default 2 x 256 GRU on the folder (one corpus of tunes; a seeded 10 % of
   the tunes is validation, drawn from every file, not the last files), windows of 128
   characters inside each tune in batches of 32: on a CPU, short windows and small batches
   give more updates in the time budget than whole tunes in batches of 64 (char-rnn's
   defaults are windows of 50 in batches of 50).
2. ``evaluate --held-out``: validation loss (nats per character), and the share of the
   validation tunes that parse and of their bars that match the metre in force
   (:func:`data.abc.check_tune`).
3. ``generate --count N --midi`` at each ``--temperature``: the same two shares for the
   generated tunes (a tune cut at the length limit does not count as parsing), and how
   many music21 reads and renders to MIDI.

Prints a Markdown table and writes it, with the raw results, to ``OUT/results.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from applications.language_model.tunes import split_tunes_for_validation, tune_texts  # noqa: E402
from data.abc import split_tunes  # noqa: E402
from applications.language_model.tunes import check_whole_tunes  # noqa: E402
from data.abc_check import check_tunes  # noqa: E402


def cli(*args):
    result = subprocess.run([sys.executable, "-m", "applications.language_model",
                             *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stderr[-3000:]}")
    return result.stdout, result.stderr


def music21_share(tunes):
    """Share of tunes music21 reads without an error and with at least one note."""
    try:
        import music21
    except ImportError:
        return None
    good = 0
    for tune in tunes:
        try:
            good += len(music21.converter.parse(tune, format="abc").flatten().notes) > 0
        except Exception:  # music21 raises many kinds on a malformed tune
            pass
    return good / len(tunes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/nottingham_abc")
    parser.add_argument("--out", default="/tmp/nottingham")
    parser.add_argument("--minutes", type=float, default=12.0, help="training time budget")
    parser.add_argument("--window", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tunes", type=int, default=100)
    parser.add_argument("--temperature", type=float, action="append",
                        help="sampling temperatures (default: 1.0, 0.8 and 0.6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], help="extra train options")
    args = parser.parse_args()
    temperatures = args.temperature or [1.0, 0.8, 0.6]
    model = os.path.join(args.out, "model")
    started = time.time()
    cli("train", "--train", args.data, "--out", model, "--epochs", 200, "--seed", args.seed,
        "--batch-size", args.batch_size,
        "--set", f"window={args.window}", "--set", f"time_budget_minutes={args.minutes}",
        *(f"--set={s}" for s in args.set))
    train_seconds = time.time() - started
    metrics = json.load(open(os.path.join(model, "metrics.json")))
    held_out = json.loads(cli("evaluate", "--model", model, "--data", args.data, "--held-out",
                              "--json")[0])
    validation = split_tunes_for_validation(tune_texts(args.data), 0.1, args.seed)[1]
    rows = [{"set": "validation", "count": len(validation), **check_tunes(validation),
             "music21": music21_share(validation)}]
    for temperature in temperatures:
        midi = os.path.join(args.out, f"midi_t{temperature}")
        out, err = cli("generate", "--model", model, "--count", args.tunes, "--temperature",
                       temperature, "--seed", args.seed, "--midi", midi)
        with open(os.path.join(args.out, f"generated_t{temperature}.abc"), "w") as handle:
            handle.write(out)
        tunes = [t.text for t in split_tunes(out)]
        rows.append({"set": f"generated, T={temperature}", "count": len(tunes),
                     **check_whole_tunes(tunes), "music21": music21_share(tunes),
                     "midi_files": len(os.listdir(midi)), "check_line": err.strip()[-300:]})
    results = {"train_seconds": round(train_seconds, 1),
               "epochs": metrics["epochs_completed"], "best_val_loss": metrics["best"],
               "held_out": held_out, "rows": rows, "args": vars(args)}
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"validation loss {held_out['loss']:.4f} nats/char "
          f"({held_out['bits_per_char']:.3f} bits/char), {metrics['epochs_completed']} epochs, "
          f"{train_seconds / 60:.1f} min")
    print("| tunes | count | parse (own check) | bars in metre | music21 reads |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        share = "n/a" if row["music21"] is None else f"{row['music21']:.1%}"
        print(f"| {row['set']} | {row['count']} | {row['parse_share']:.1%} | "
              f"{row['in_metre_share']:.1%} ({row['bars_in_metre']}/{row['bars']}) | {share} |")


if __name__ == "__main__":
    main()
