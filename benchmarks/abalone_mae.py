"""Abalone rings: what a mean absolute error of 1.50 takes on the tabular benchmark's split.

The same seeded 80/20 split as ``benchmarks/tabular.py``. Trains, on the 80 %, Encore's
default two-head model (``rings`` and ``sex``), the same with the ``mae`` and with the
``distribution`` loss for rings,
and scikit-learn regressors for rings alone: HistGradientBoosting with squared and with
absolute error, a random forest and an RBF support-vector regression (standardised inputs,
one-hot sex). Scores each on the 20 %: the MAE of its predictions as they are and rounded
to whole rings (the target is a count), their RMSE, and the Encore models' sex accuracy::

    pip install -e ".[benchmark]"    # scikit-learn
    python benchmarks/abalone_mae.py --data ../shared/data --seed 1 --out runs/abalone-mae

Writes ``OUT/abalone_mae.json`` and prints a Markdown table.
"""

import argparse
import csv
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.tabular import ABALONE, run, split_files  # noqa: E402


def read_rows(path):
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    inputs = np.array([[float(v) for v in row[1:8]] + [float(row[0] == sex) for sex in "MFI"]
                       for row in rows])
    return inputs, np.array([float(row[8]) for row in rows])


def encore_rings(parts, out, seed, extra, sexes):
    """Rings predicted for the validation part by an Encore model trained with ``extra``;
    the accuracy of its sex head goes into ``sexes[out]``."""
    run("train", "--train", parts["train"], "--names", ABALONE, "--target", "rings",
        "--target", "sex", "--out", out, "--seed", seed, "--quiet", *extra)
    table = run("predict", "--model", out, "--input", parts["valid"], "--names", ABALONE,
                "--quiet")
    rows = list(csv.reader(table.splitlines()))
    column, sex = rows[0].index("rings_prediction"), rows[0].index("sex_prediction")
    sexes[out] = float(np.mean([row[sex] == row[0] for row in rows[1:]]))
    return np.array([float(row[column]) for row in rows[1:]])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    os.makedirs(args.out, exist_ok=True)
    parts = split_files(os.path.join(args.data, "abalone", "abalone.csv"), ABALONE, args.out)
    x_train, y_train = read_rows(parts["train"])
    x_valid, y_valid = read_rows(parts["valid"])
    models = {
        "HGB, squared error": HistGradientBoostingRegressor(random_state=args.seed),
        "HGB, absolute error": HistGradientBoostingRegressor(loss="absolute_error",
                                                             random_state=args.seed),
        "random forest": RandomForestRegressor(500, min_samples_leaf=5,
                                               random_state=args.seed),
        "SVR (C=3)": make_pipeline(StandardScaler(), SVR(C=3.0, epsilon=0.5)),
    }
    sexes = {}
    encore = {"Encore default": ("default", []),
              "Encore, mae loss": ("mae", ["--set", 'losses={"rings": "mae"}']),
              "Encore, distribution loss": ("distribution",
                                            ["--set", 'losses={"rings": "distribution"}'])}
    predictions, sex_accuracy = {}, {}
    for name, (folder, extra) in encore.items():
        out = os.path.join(args.out, folder)
        predictions[name] = encore_rings(parts, out, args.seed, extra, sexes)
        sex_accuracy[name] = sexes[out]
    for name, model in models.items():
        predictions[name] = model.fit(x_train, y_train).predict(x_valid)
    results = {name: {"mae": float(np.abs(p - y_valid).mean()),
                      "mae_rounded": float(np.abs(np.round(p) - y_valid).mean()),
                      "rmse": float(np.sqrt(np.mean((p - y_valid) ** 2))),
                      "sex_accuracy": sex_accuracy.get(name)}
               for name, p in predictions.items()}
    with open(os.path.join(args.out, "abalone_mae.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    print("| rings model | MAE | MAE, rounded to whole rings | RMSE | sex accuracy |\n"
          "|---|---|---|---|---|")
    for name, scores in results.items():
        sex = "-" if scores["sex_accuracy"] is None else f"{scores['sex_accuracy']:.1%}"
        print(f"| {name} | {scores['mae']:.3f} | {scores['mae_rounded']:.3f} | "
              f"{scores['rmse']:.3f} | {sex} |")


if __name__ == "__main__":
    main()
