"""The tabular application against scikit-learn on the same split, in the same run.

For each data set a seeded 80/20 split of the training file is written out
(``numpy.random.RandomState(0).permutation``, first 80 % to train; the files' own test parts
stay unused). Encore trains on the 80 % through its command line with the default
configuration (``--seed``, no per-dataset options; its own 10 % of that part is held out for
early stopping) and is scored with ``evaluate --json`` on the 20 %. scikit-learn's
``HistGradientBoosting*`` (native categories and missing values) and ``MLP*`` (one-hot
categories, median-imputed standardised numbers, standardised regression target) train on
the same 80 % and are scored on the same 20 %::

    pip install -e ".[benchmark]"    # scikit-learn
    python benchmarks/tabular.py --data ../shared/data --seed 1 --out runs/tabular-bench

Abalone trains one Encore model with two heads (``rings`` and ``sex``) and, for comparison,
one model per target. Prints each score, each ratio Encore / baseline (above 1 is better for
accuracy, F1, AUC and R², below 1 for RMSE and MAE) and the training times; writes
``OUT/benchmark.json``. ``--only NAME`` runs one data set.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from applications.tabular.table import MISSING, read_table  # noqa: E402

ADULT = ("age,workclass,fnlwgt,education,education-num,marital-status,occupation,"
         "relationship,race,sex,capital-gain,capital-loss,hours-per-week,native-country,income")
ABALONE = "sex,length,diameter,height,whole,shucked,viscera,shell,rings"
DATASETS = {
    "adult": dict(file="adult/adult-train.csv", names=ADULT, targets=["income"]),
    "california_housing": dict(file="california_housing/train.csv", names=None,
                               targets=["median_house_value"]),
    "abalone": dict(file="abalone/abalone.csv", names=ABALONE, targets=["rings", "sex"]),
}
HIGHER_IS_BETTER = {"accuracy", "macro_f1", "auc", "r2"}


def split_files(path, names, folder):
    """Write the seeded 80/20 parts of ``path`` (header kept on both); returns their paths."""
    with open(path, encoding="utf-8") as handle:
        lines = [line.rstrip("\r\n") for line in handle if line.strip()]
    header = [] if names else lines[:1]
    rows = lines[len(header):]
    order = np.random.RandomState(0).permutation(len(rows))
    cut = int(len(rows) * 0.8)
    parts = {}
    for part, indices in (("train", order[:cut]), ("valid", order[cut:])):
        parts[part] = os.path.join(folder, f"{part}.csv")
        with open(parts[part], "w", encoding="utf-8") as handle:
            handle.write("\n".join(header + [rows[i] for i in indices]) + "\n")
    return parts


def encore(parts, names, targets, out, seed):
    """Train with the defaults and score the validation part; ``(scores, seconds)``."""
    flags = ["--names", names] if names else []
    for target in targets:
        flags += ["--target", target]
    started = time.time()
    run("train", "--train", parts["train"], "--out", out, "--seed", seed, "--quiet", *flags)
    seconds = time.time() - started
    flags = ["--names", names] if names else []
    scores = json.loads(run("evaluate", "--model", out, "--data", parts["valid"], "--json",
                            "--quiet", *flags))
    return (scores if len(targets) > 1 else {targets[0]: scores}), seconds


def run(*args):
    result = subprocess.run([sys.executable, "-m", "applications.tabular", *map(str, args)],
                            capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stderr[-3000:]}")
    return result.stdout


def features(train, valid, target, ignore):
    """scikit-learn inputs: per part, numeric columns (NaN missing) and category strings."""
    columns = [c for c in train.columns if c != target and c not in ignore]
    numeric = []
    for name in columns:
        try:
            [float(v) for v in train.values[name] + valid.values[name] if v not in MISSING]
            numeric.append(name)
        except ValueError:
            pass
    categorical = [c for c in columns if c not in numeric]

    def part(table):
        nums = np.array([[np.nan if v in MISSING else float(v) for v in table.values[c]]
                         for c in numeric], np.float64).T
        cats = np.array([[v if v not in MISSING else "?" for v in table.values[c]]
                         for c in categorical], object).T
        return nums.reshape(len(table), len(numeric)), cats.reshape(len(table), len(categorical))

    return part(train), part(valid)


def baselines(train, valid, target, task, ignore, seed):
    """HistGradientBoosting and MLP scores on ``valid``: ``{name: (scores, seconds)}``."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (FunctionTransformer, OneHotEncoder, OrdinalEncoder,
                                       StandardScaler)

    (train_num, train_cat), (valid_num, valid_cat) = features(train, valid, target, ignore)
    y_train, y_valid = target_values(train, target, task), target_values(valid, target, task)
    keep_train, keep_valid = present(y_train), present(y_valid)
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    if train_cat.shape[1]:
        ordinal.fit(train_cat)
    codes = lambda cats: ordinal.transform(cats) if cats.shape[1] else cats.astype(float)
    hgb_x = [np.hstack([n, codes(c)]) for n, c in ((train_num, train_cat),
                                                    (valid_num, valid_cat))]
    mask = [False] * train_num.shape[1] + [True] * train_cat.shape[1]
    mixed = [np.hstack([n.astype(object), c]) for n, c in ((train_num, train_cat),
                                                           (valid_num, valid_cat))]
    width = train_num.shape[1]
    prepare = ColumnTransformer([
        ("numbers", make_pipeline(FunctionTransformer(_as_float),
                                  SimpleImputer(strategy="median"), StandardScaler()),
         list(range(width))),
        ("categories", OneHotEncoder(handle_unknown="ignore"),
         list(range(width, width + train_cat.shape[1])))])
    if task == "classification":
        models = {"HistGradientBoosting": HistGradientBoostingClassifier(
                      categorical_features=mask, random_state=seed),
                  "MLP": make_pipeline(prepare, MLPClassifier(random_state=seed))}
    else:
        models = {"HistGradientBoosting": HistGradientBoostingRegressor(
                      categorical_features=mask, random_state=seed),
                  "MLP": make_pipeline(prepare, TransformedTargetRegressor(
                      MLPRegressor(random_state=seed), transformer=StandardScaler()))}
    results = {}
    for name, model in models.items():
        x_train, x_valid = hgb_x if name == "HistGradientBoosting" else mixed
        started = time.time()
        model.fit(x_train[keep_train], y_train[keep_train])
        seconds = time.time() - started
        results[name] = (score(model, x_valid[keep_valid], y_valid[keep_valid], task), seconds)
    return results


def _as_float(columns):
    return np.asarray(columns, np.float64)


def target_values(table, target, task):
    values = table.values[target]
    if task == "regression":
        return np.array([np.nan if v in MISSING else float(v) for v in values])
    return np.array([None if v in MISSING else v for v in values], object)


def present(y):
    return np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) for v in y])


def score(model, x, y, task):
    from applications.tabular.scoring import classification_scores, regression_scores

    if task == "regression":
        return regression_scores(y.astype(float), model.predict(x))
    classes = list(model.classes_)
    return classification_scores(np.array([classes.index(v) for v in y]),
                                 model.predict_proba(x))


def ratios(ours, theirs):
    return {k: round(ours[k] / theirs[k], 4) for k in ours
            if ours.get(k) is not None and theirs.get(k) not in (None, 0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data"))
    parser.add_argument("--out", default=os.path.join(REPO, "runs", "tabular-bench"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=sorted(DATASETS))
    args = parser.parse_args()
    report = {}
    for name, spec in DATASETS.items():
        if args.only and name != args.only:
            continue
        folder = os.path.join(args.out, name)
        os.makedirs(folder, exist_ok=True)
        parts = split_files(os.path.join(args.data, spec["file"]), spec["names"], folder)
        names = spec["names"].split(",") if spec["names"] else None
        train, valid = read_table(parts["train"], names), read_table(parts["valid"], names)
        entry = report[name] = {"rows": {"train": len(train), "valid": len(valid)}}
        together, seconds = encore(parts, spec["names"], spec["targets"],
                                   os.path.join(folder, "encore"), args.seed)
        entry["encore_seconds"] = round(seconds, 1)
        for target in spec["targets"]:
            task = "regression" if "rmse" in together[target] else "classification"
            ignore = [t for t in spec["targets"] if t != target]
            result = entry[target] = {"encore": together[target]}
            if len(spec["targets"]) > 1:  # the same target trained alone
                alone, alone_seconds = encore(parts, spec["names"], [target],
                                              os.path.join(folder, f"encore_{target}"),
                                              args.seed)
                result["encore_alone"] = alone[target]
                result["encore_alone_seconds"] = round(alone_seconds, 1)
            for baseline, (scores, fit_seconds) in baselines(train, valid, target, task,
                                                             ignore, args.seed).items():
                result[baseline] = scores
                result[f"{baseline}_seconds"] = round(fit_seconds, 1)
                result[f"ratio_encore_to_{baseline}"] = ratios(together[target], scores)
            print(f"{name} / {target}: " + json.dumps(result, sort_keys=True), flush=True)
    with open(os.path.join(args.out, "benchmark.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
    print(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
