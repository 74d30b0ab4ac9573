"""Tiny Shakespeare: held-out loss (nats per character) against training time, GRU and Transformer.

Runs the language model's own command line for each model, one after the other, so each has
the whole machine:

    python benchmarks/language_model_curve.py --text ../shared/data/tinyshakespeare/input.txt \\
        --out runs/lm-curve --minutes 15 --first-seconds 74

For each of the default GRU and ``--set 'encoder={"name": "transformer"}'`` (its recipe, see
``LanguageModelConfig.ENCODER_RECIPES``), both with ``time_budget_minutes`` and otherwise
default options:

1. ``train`` within ``--minutes`` on the file, whose last 10 % is held out;
2. the curve: dev loss after every epoch, from the run's TensorBoard log, against the seconds
   since training began (dev scoring included);
3. ``evaluate --held-out --json`` of the best model: ``loss`` with every character scored
   after at least half a window of context (evaluate's default), ``window_loss`` with
   windows side by side (``--stride`` = the window), as the dev curve scores;
4. a second run with a budget of ``--first-seconds``, scored the same way.

Writes ``OUT/results.json`` and prints a Markdown summary.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.char_cells import cli  # noqa: E402

MODELS = {"gru": [], "transformer": ["--set", 'encoder={"name": "transformer"}']}


def dev_curve(model_dir):
    """``[(seconds since training began, dev loss), ...]``, one point per epoch."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with open(os.path.join(model_dir, "metrics.json")) as handle:
        seconds = json.load(handle)["train_seconds_this_run"]
    # metrics.json is written as soon as training returns, train_seconds_this_run after it.
    began = os.path.getmtime(os.path.join(model_dir, "metrics.json")) - seconds
    events = EventAccumulator(os.path.join(model_dir, "logs", "validation"),
                              size_guidance={"tensors": 0})
    events.Reload()
    return [(round(e.wall_time - began, 1), round(float(tf.make_ndarray(e.tensor_proto)), 4))
            for e in events.Tensors("epoch_loss")]


def trained_and_scored(args, name, minutes):
    out = os.path.join(args.out, f"{name}-{minutes:g}min")
    cli("train", "--train", args.text, "--out", out, "--set", f"time_budget_minutes={minutes}",
        *MODELS[name])
    with open(os.path.join(out, "config.json")) as handle:
        config = json.load(handle)
    scores, side_by_side = (
        json.loads(cli("evaluate", "--model", out, "--data", args.text, "--held-out", "--json",
                       *stride)) for stride in ([], ["--stride", str(config["window"])]))
    return out, {"loss": round(scores["loss"], 4),
                 "window_loss": round(side_by_side["loss"], 4), "epochs": len(dev_curve(out)),
                 "config": {k: config[k] for k in ("encoder", "window", "batch_size",
                                                   "steps_per_epoch", "learning_rate")}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default="../shared/data/tinyshakespeare/input.txt")
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=15.0, help="training time budget")
    parser.add_argument("--first-seconds", type=float, default=74.0,
                        help="budget of the short run (nanoGPT's CPU reference time)")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = {}
    for name in args.models.split(","):
        out, long_run = trained_and_scored(args, name, args.minutes)
        curve = dev_curve(out)
        early = [loss for seconds, loss in curve if seconds <= args.first_seconds]
        _, short_run = trained_and_scored(args, name, args.first_seconds / 60)
        results[name] = {"long": long_run, "short": short_run, "curve": curve,
                         "best_dev_loss_within_first_seconds": min(early) if early else None}
        with open(os.path.join(args.out, "results.json"), "w") as handle:
            json.dump(results, handle, indent=2)
    print(f"| model | loss after {args.first_seconds:g} s (own run) | best dev loss by "
          f"{args.first_seconds:g} s (long run) | loss after {args.minutes:g} min | epochs |")
    print("|---|---|---|---|---|")
    for name, result in results.items():
        short, long = result["short"], result["long"]
        print(f"| {name} | {short['loss']} ({short['window_loss']}) | "
              f"{result['best_dev_loss_within_first_seconds']} | {long['loss']} "
              f"({long['window_loss']}) | {long['epochs']} |")
    print("Losses in brackets: windows side by side, as the dev curve scores them.")


if __name__ == "__main__":
    main()
