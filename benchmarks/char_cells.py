"""Tiny Shakespeare: which units of the default character model track simple text properties.

Runs the package's own command line, as the README's language-model command does:

    python benchmarks/char_cells.py --text ../shared/data/tinyshakespeare/input.txt \\
        --out /tmp/char_cells --minutes 15

1. ``train`` the default model (2 x 256 GRU) on the file (the last 10 % held out) within
   ``--minutes``; or ``--model DIR`` to inspect a model trained before.
2. ``inspect`` over the first ``--chars`` characters of the held-out part: the units best
   correlated with being on a speaker-name line (``ROMEO:``; Shakespeare has no quotes or
   brackets to speak of), with the position in the line and with being inside a word, and
   one HTML page per property coloured by its best unit.

Prints a Markdown table and writes it, with the raw reports, to ``OUT/results.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time

PAGES = ("speaker_line", "line_position", "inside_word")


def cli(*args):
    result = subprocess.run([sys.executable, "-m", "applications.language_model",
                             *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stderr[-3000:]}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default="../shared/data/tinyshakespeare/input.txt")
    parser.add_argument("--out", default="/tmp/char_cells")
    parser.add_argument("--minutes", type=float, default=15.0, help="training time budget")
    parser.add_argument("--model", help="inspect this trained model instead of training")
    parser.add_argument("--chars", type=int, default=20000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model, train_seconds = args.model, None
    if model is None:
        model = os.path.join(args.out, "model")
        started = time.time()
        cli("train", "--train", args.text, "--out", model, "--epochs", 100, "--set",
            f"time_budget_minutes={args.minutes}")
        train_seconds = round(time.time() - started, 1)
    metrics = json.load(open(os.path.join(model, "metrics.json")))
    with open(args.text, encoding="utf-8") as handle:
        whole = handle.read()
    held_out = whole[len(whole) - round(len(whole) * 0.1):]
    sample = os.path.join(args.out, "held_out_sample.txt")
    with open(sample, "w", encoding="utf-8") as handle:
        handle.write(held_out[:args.chars])
    reports = {}
    for prop in PAGES:  # one page per property, each coloured by its best unit
        page = os.path.join(args.out, f"{prop}.html")
        reports[prop] = json.loads(cli("inspect", "--model", model, "--text", sample,
                                       "--max-chars", args.chars, "--property", prop,
                                       "--html", page, "--json", "--top", 5))
    first = reports[PAGES[0]]
    results = {"model": model, "train_seconds": train_seconds,
               "epochs": metrics["epochs_completed"], "best_val_loss": metrics["best"],
               "characters": first["characters"], "units": first["units"],
               "best": first["best"], "pages": {p: r["page"] for p, r in reports.items()}}
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"model {model}: best val_loss {metrics['best']:.4f} nats/char after "
          f"{metrics['epochs_completed']} epochs; {results['characters']} held-out characters, "
          f"{results['units']} units")
    print("| property | best unit (layer:unit) | r | next best |")
    print("| --- | --- | --- | --- |")
    for prop, units in results["best"].items():
        others = ", ".join(f"{u['unit']} {u['r']:+.3f}" for u in units[1:3])
        print(f"| {prop} | {units[0]['unit']} | {units[0]['r']:+.3f} | {others} |")
    print("pages: " + ", ".join(results["pages"].values()))


if __name__ == "__main__":
    main()
