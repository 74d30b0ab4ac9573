"""``--seed S --deterministic`` gives identical results in separate processes on CPU."""

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.integration  # three training processes

TINY = ["--set", "word_dim=16", "--set", "char_dim=8", "--set", "encoder.filters=[24]",
        "--set", "char_encoder.filters=[16]", "--batch-size", "32"]


def test_three_processes_train_the_same_tagger(tmp_path):
    # The embedded sample corpus, one epoch; the three run side by side, as separate users'
    # runs would, so thread scheduling differs between them.
    outs = [tmp_path / f"run{i}" for i in range(3)]
    runs = [subprocess.Popen(
        [sys.executable, "-m", "applications.pos_tagger", "train", "--out", str(out),
         "--epochs", "1", "--seed", "7", "--deterministic", *TINY],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for out in outs]
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-2000:]
    histories = [json.loads((out / "metrics.json").read_text())["history"] for out in outs]
    assert set(histories[0]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert histories[0] == histories[1] == histories[2], histories
    # Weights, optimizer slots and random-generator states, byte for byte.
    states = [[p.read_bytes() for p in sorted((out / "checkpoints").glob("ckpt-*.data-*"))]
              for out in outs]
    assert states[0] and states[0] == states[1] == states[2]
