"""The embedded default table: customers with a number and a class to predict.

Generated with fixed seeds, so every machine gets the same files and ``train`` and
``evaluate`` run with no download. Columns: ``age`` (some missing, ``?``), ``income``
(skewed), ``city`` and ``plan`` (categories, some missing), ``visits``; targets ``spend``
(a number) and ``churn`` (``yes`` / ``no``), both depending on the inputs with noise.
"""

import os

import numpy as np

from data.files import atomic_write_bytes

COLUMNS = ["age", "income", "city", "plan", "visits", "spend", "churn"]
TARGETS = ["spend", "churn"]
CITIES = ["Lisbon", "Oslo", "Lima", "Pune", "Accra"]
PLANS = ["basic", "plus", "pro"]


def generate_rows(count, seed=0):
    """``count`` rows of the sample table as lists of strings (header not included)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, count)
    income = np.round(np.exp(rng.normal(10.3, 0.6, count)), -2)
    city = rng.integers(0, len(CITIES), count)
    plan = rng.choice(len(PLANS), count, p=[0.5, 0.3, 0.2])
    visits = rng.poisson(3 + 2 * plan)
    spend = (20 + 0.002 * income + 15 * plan + 4 * visits - 0.2 * (age - 45)
             + 6 * (city == 1) + rng.normal(0, 5, count))
    logit = -0.5 + 1.2 * (plan == 0) - 0.25 * visits + 0.03 * (age - 45) + 0.8 * (city == 3)
    churn = rng.random(count) < 1 / (1 + np.exp(-logit))
    rows = []
    for i in range(count):
        rows.append([
            "?" if rng.random() < 0.05 else str(int(age[i])),
            f"{income[i]:.0f}",
            "" if rng.random() < 0.03 else CITIES[city[i]],
            PLANS[plan[i]],
            str(int(visits[i])),
            f"{spend[i]:.2f}",
            "yes" if churn[i] else "no",
        ])
    return rows


def write_table(path, rows, header=True):
    lines = ([",".join(COLUMNS)] if header else []) + [",".join(row) for row in rows]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def sample_paths(folder=None):
    """Write (once) and return the paths of the embedded train and dev files."""
    folder = folder or os.path.join(os.path.expanduser("~"), ".cache", "encore",
                                    "tabular_sample")
    paths = {"train": os.path.join(folder, "train.csv"), "dev": os.path.join(folder, "dev.csv")}
    if not all(os.path.exists(p) for p in paths.values()):
        write_table(paths["train"], generate_rows(2000, seed=1))
        write_table(paths["dev"], generate_rows(400, seed=2))
    return paths
