"""A real SIGKILL lands on ``train`` in the middle of an epoch; the resumed run ends with the
same weights and dev scores as a run never interrupted.

Both runs are processes of their own (``--threads 1 --deterministic``, so their sums are
made in the same order); the kill comes once a mid-epoch checkpoint of epoch 2 is listed.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from applications.core.base import load_model
from applications.pos_tagger.sample_data import generate_sentences, write_two_column
from data.sequence_batches import TaggingMetadata, bucketed_dataset, encode_sentences
from data.tagged_text import read_two_column
from tests.helpers import REPO

TINY = ["--set", "word_dim=8", "--set", "char_dim=4", "--set", "encoder.filters=[12]",
        "--set", "char_encoder.filters=[8]", "--set", "learning_rate=0.02", "--batch-size", "8",
        "--seed", "4", "--deterministic", "--threads", "1", "--set", "save_every_steps=2",
        "--set", "batch_tokens=0", "--epochs", "2", "--quiet"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def train(corpus, out, log):
    """Start ``train`` in a process of its own; its stderr goes to the file ``log``."""
    with open(log, "w") as handle:  # a file, not a pipe nobody reads while it runs
        return subprocess.Popen(
            [sys.executable, "-m", "applications.pos_tagger", "train", "--train",
             str(corpus[0]), "--dev", str(corpus[1]), "--out", str(out), *TINY],
            cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=handle)


def batches_per_epoch(path):
    sentences = read_two_column(path)
    examples = encode_sentences(sentences, TaggingMetadata.from_sentences(sentences))
    return int(bucketed_dataset(examples, 8).cardinality())


def listed_checkpoints(out):
    """The checkpoint numbers (optimizer steps) the checkpoint list names."""
    try:
        text = (out / "checkpoints" / "checkpoint").read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    return [int(line.rsplit("-", 1)[1].rstrip('"')) for line in text.splitlines()
            if line.startswith("all_model_checkpoint_paths")]


@pytest.mark.integration
def test_sigkill_mid_epoch_then_resume_matches_the_uninterrupted_run(tmp_path):
    corpus = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    write_two_column(generate_sentences(64, seed=21), corpus[0])
    write_two_column(generate_sentences(24, seed=22), corpus[1])
    steps = batches_per_epoch(corpus[0])
    whole = train(corpus, tmp_path / "whole", tmp_path / "whole.log")  # runs alongside
    killed_out = tmp_path / "killed"
    killed = train(corpus, killed_out, tmp_path / "killed.log")
    # Wait until a checkpoint taken inside epoch 2 is listed, then kill at once.
    target = steps + 2
    deadline = time.monotonic() + 240
    while max(listed_checkpoints(killed_out), default=0) < target:
        assert killed.poll() is None, (tmp_path / "killed.log").read_text()
        assert time.monotonic() < deadline, "no mid-epoch checkpoint appeared"
        time.sleep(0.01)
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    newest = max(listed_checkpoints(killed_out))
    assert newest % steps, f"checkpoint {newest} is at an epoch's end ({steps} steps each)"
    assert not (killed_out / "metrics.json").exists()

    resumed = train(corpus, killed_out, tmp_path / "resumed.log")
    assert resumed.wait(timeout=300) == 0, (tmp_path / "resumed.log").read_text()
    assert whole.wait(timeout=300) == 0, (tmp_path / "whole.log").read_text()

    expected = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    got = json.loads((killed_out / "metrics.json").read_text())
    assert got["epochs_completed"] == expected["epochs_completed"] == 2
    # The resumed run logs the epoch it finished (the killed one), as the uninterrupted
    # run logged it.
    assert got["history"]["val_accuracy"] == expected["history"]["val_accuracy"][-1:]
    assert got["best"] == expected["best"]
    for a, b in zip(load_model(killed_out).get_weights(),
                    load_model(tmp_path / "whole").get_weights()):
        np.testing.assert_array_equal(a, b)
