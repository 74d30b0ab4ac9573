"""The table of a search's trials: printed, and saved as ``results.csv`` / ``results.json``."""

import csv
import io
import os

from data.files import atomic_write_bytes, atomic_write_json

FIXED_COLUMNS = ["trial", "status", "objective", "seconds", "rss_mb"]


def format_value(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def trial_rows(oracle, space_names):
    """One dict per trial, in trial order: fixed columns, then hyperparameters."""
    rows = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        metrics = trial.metrics
        row = {
            "trial": trial_id,
            "status": trial.status,
            "objective": trial.score,
            "seconds": metrics.get_last_value("seconds") if metrics.exists("seconds") else None,
            "rss_mb": metrics.get_last_value("rss_mb") if metrics.exists("rss_mb") else None,
        }
        values = trial.hyperparameters.values
        for name in [*space_names, *sorted(k for k in values if k not in space_names)]:
            row[name] = values.get(name)
        rows.append(row)
    return rows


def columns_of(rows):
    names = list(FIXED_COLUMNS)
    for row in rows:
        names.extend(k for k in row if k not in names)
    return names


def render_table(rows, objective):
    """A plain-text table, best trial marked with ``*``."""
    columns = columns_of(rows)
    header = [objective if c == "objective" else c for c in columns]
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(header)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


def save_results(directory, rows, objective, direction, best_trial):
    """Write ``results.csv`` and ``results.json`` into ``directory`` atomically."""
    columns = columns_of(rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    atomic_write_bytes(os.path.join(directory, "results.csv"), text.getvalue().encode("utf-8"))
    atomic_write_json(os.path.join(directory, "results.json"), {
        "objective": objective,
        "direction": direction,
        "best_trial": best_trial,
        "trials": [{**{c: row.get(c) for c in FIXED_COLUMNS},
                    "hyperparameters": {k: v for k, v in row.items()
                                        if k not in FIXED_COLUMNS and v is not None}}
                   for row in rows],
    })
