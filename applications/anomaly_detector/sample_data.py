"""The embedded default series: a daily cycle with noise, and a copy with a jump in it.

Generated with fixed seeds, so every machine gets the same files and ``train`` and
``evaluate`` run with no download. Five-minute steps and a 288-point (one day) period
mirror NAB's artificial ``art_daily_*`` series.
"""

import datetime
import os

import numpy as np

from data.files import atomic_write_bytes, atomic_write_json

START = datetime.datetime(2014, 4, 1)


def generate_series(points=4032, period=288, noise=1.0, seed=0, jump=None, step_minutes=5):
    """``(timestamps, values)``: ``20 + 10 sin(2 pi t / period)`` plus Gaussian noise.

    Args:
        points: series length.
        period: points per cycle.
        noise: standard deviation of the noise.
        seed: random seed.
        jump: optional ``(first, length, height)``: ``height`` is added to that stretch.
        step_minutes: minutes between timestamps.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    values = 20.0 + 10.0 * np.sin(2 * np.pi * t / period) + rng.normal(0.0, noise, points)
    if jump is not None:
        first, length, height = jump
        values[first:first + length] += height
    stamps = [timestamp(i, step_minutes) for i in range(points)]
    return stamps, values


def timestamp(index, step_minutes=5):
    return (START + datetime.timedelta(minutes=step_minutes * index)).strftime("%Y-%m-%d %H:%M:%S")


def write_series(path, stamps, values):
    rows = "".join(f"{s},{v:.6f}\n" for s, v in zip(stamps, values))
    atomic_write_bytes(path, ("timestamp,value\n" + rows).encode("utf-8"))


def jump_labels(first, length, margin, step_minutes=5):
    """A NAB-style label window around a jump: ``[start, end]`` timestamps with a margin."""
    return [timestamp(max(first - margin, 0), step_minutes) + ".000000",
            timestamp(first + length - 1 + margin, step_minutes) + ".000000"]


def write_labelled_series(folder, train, test, windows):
    """Write ``train.csv``, ``test.csv`` and ``labels.json`` (NAB's format, ``windows`` for
    the test file) into ``folder``; returns their paths as ``train``, ``test``, ``labels``.

    ``train`` and ``test`` are ``(timestamps, values)``; ``windows`` is ``[[start, end]]``.
    """
    paths = _labelled_paths(folder)
    write_series(paths["train"], *train)
    write_series(paths["test"], *test)
    atomic_write_json(paths["labels"], {"sample/test.csv": windows})
    return paths


def sample_paths(folder=None):
    """Write (once) and return the embedded ``train``, ``test`` and ``labels`` paths."""
    folder = folder or os.path.join(os.path.expanduser("~"), ".cache", "encore",
                                    "anomaly_sample")
    paths = _labelled_paths(folder)
    if not all(os.path.exists(p) for p in paths.values()):
        jump = (2900, 144, 15.0)
        write_labelled_series(folder, generate_series(seed=1), generate_series(seed=2, jump=jump),
                              [jump_labels(*jump[:2], 100)])
    return paths


def _labelled_paths(folder):
    return {name: os.path.join(str(folder), file) for name, file in (
        ("train", "train.csv"), ("test", "test.csv"), ("labels", "labels.json"))}
