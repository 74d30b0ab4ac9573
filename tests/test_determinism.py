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
    # Weights, optimizer slots and random-generator states, bit for bit: every tensor of
    # the last checkpoint but the seconds trained, which wall time sets.
    states = [checkpoint_tensors(out) for out in outs]
    assert len(states[0]) > 10 and "seconds/.ATTRIBUTES/VARIABLE_VALUE" not in states[0]
    for other in states[1:]:
        assert other.keys() == states[0].keys()
        for name, value in states[0].items():
            assert other[name].tobytes() == value.tobytes(), name


def checkpoint_tensors(out):
    """``{name: array}`` of the run's newest checkpoint, less its timing variables."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(out / "checkpoints")))
    timing = {"seconds/.ATTRIBUTES/VARIABLE_VALUE", "epoch_seconds/.ATTRIBUTES/VARIABLE_VALUE"}
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name not in timing and not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}
