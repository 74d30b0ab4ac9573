"""Crash safety: resuming mid-epoch, torn checkpoint files, and atomic writes everywhere.

A run is cut short in process here (the batch callback raises as a kill would land); the
real SIGKILL loop is ``benchmarks/kill_resume.py`` and the slow test at the end.
"""

import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from applications.core.base import load_model
from applications.pos_tagger.commands import TaggerCommands
from applications.pos_tagger.sample_data import generate_sentences, write_two_column
from applications.core.training_state import TrainingState, save_model_atomically
from data.errors import InputError
from data.files import atomic_write_bytes
from data.sequence_batches import TaggingMetadata, bucketed_dataset, encode_sentences
from data.tagged_text import read_two_column
from tests.helpers import REPO, assert_input_error, cli

APP = TaggerCommands()
TINY = ["--set", "word_dim=16", "--set", "char_dim=8", "--set", "encoder.filters=[24]",
        "--set", "char_encoder.filters=[16]", "--set", "learning_rate=0.01", "--batch-size", "16",
        "--seed", "3", "--deterministic", "--set", "save_every_steps=5"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    write_two_column(generate_sentences(160, seed=11), folder / "train.tsv")
    write_two_column(generate_sentences(40, seed=12), folder / "dev.tsv")
    return folder / "train.tsv", folder / "dev.tsv"


def train_args(corpus, out, epochs=2):
    return ["train", "--train", corpus[0], "--dev", corpus[1], "--out", out,
            "--epochs", epochs, *TINY]


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "tagger"
    code, _, err = cli(APP, *train_args(corpus, out))
    assert code == 0, err
    return out


@contextlib.contextmanager
def interrupted_after(batches):
    """Make training stop as a kill would, right after its ``batches``-th batch."""
    original, seen = TrainingState.on_train_batch_end, []

    def cut_short(self, batch, logs=None):
        original(self, batch, logs)
        seen.append(batch)
        if len(seen) == batches:
            raise KeyboardInterrupt

    TrainingState.on_train_batch_end = cut_short
    try:
        yield
    finally:
        TrainingState.on_train_batch_end = original


def saved_step(out):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(out / "checkpoints")))
    return int(reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE")), \
        int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


def batches_per_epoch(path):
    sentences = read_two_column(path)
    examples = encode_sentences(sentences, TaggingMetadata.from_sentences(sentences))
    return int(bucketed_dataset(examples, 16).cardinality())


@pytest.mark.integration
def test_resume_mid_epoch_matches_the_uninterrupted_run(corpus, uninterrupted, tmp_path):
    out = tmp_path / "tagger"
    with interrupted_after(batches_per_epoch(corpus[0]) + 7):  # in epoch 2, after batch 7
        code, _, err = cli(APP, *train_args(corpus, out))
    assert code == 130, err
    assert saved_step(out) == (1, 5)  # the last save: epoch 2 (index 1), 5 batches done
    code, _, err = cli(APP, *train_args(corpus, out))
    assert code == 0, err
    whole = json.loads((uninterrupted / "metrics.json").read_text())
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["epochs_completed"] == 2 and len(resumed["history"]["val_accuracy"]) == 1
    # Same batches in the same order, same dropout masks, same optimizer state: same model.
    assert resumed["history"]["val_accuracy"][-1] == whole["history"]["val_accuracy"][-1]
    for a, b in zip(load_model(out).get_weights(), load_model(uninterrupted).get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.integration
def test_resume_mid_epoch_with_weight_averaging_matches(corpus, tmp_path):
    # fit() ends by copying the averaged weights into the model; epochs after a resumed
    # half epoch must still go on from the raw weights, as the uninterrupted run does.
    args = {name: train_args(corpus, tmp_path / name, epochs=3) + ["--set", "ema_momentum=0.9"]
            for name in ("whole", "resumed")}
    assert cli(APP, *args["whole"])[0] == 0
    with interrupted_after(7):  # in epoch 1, after batch 7
        assert cli(APP, *args["resumed"])[0] == 130
    assert cli(APP, *args["resumed"])[0] == 0
    whole, resumed = (json.loads((tmp_path / name / "metrics.json").read_text())
                      for name in ("whole", "resumed"))
    assert resumed["history"]["val_accuracy"] == whole["history"]["val_accuracy"]
    for a, b in zip(load_model(tmp_path / "resumed").get_weights(),
                    load_model(tmp_path / "whole").get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.integration
def test_several_steps_per_call_train_and_resume_like_one(corpus, uninterrupted, tmp_path):
    # 13 batches an epoch: calls of 5, 5 and 3. Cut after the second call of epoch 2
    # (batch 10 of it, saved there); the resumed run must end as the one-step run did.
    assert batches_per_epoch(corpus[0]) == 13
    out = tmp_path / "tagger"
    args = train_args(corpus, out) + ["--set", "steps_per_execution=5"]
    with interrupted_after(5):
        assert cli(APP, *args)[0] == 130
    assert saved_step(out) == (1, 10)
    assert cli(APP, *args)[0] == 0
    for a, b in zip(load_model(out).get_weights(), load_model(uninterrupted).get_weights()):
        np.testing.assert_array_equal(a, b)
    code, _, err = cli(APP, *train_args(corpus, tmp_path / "other"),
                       "--set", "steps_per_execution=2")
    assert code == 2 and "save_every_steps (5) must be a multiple of steps_per_execution" in err


def saved_seconds(out):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(out / "checkpoints")))
    return float(reader.get_tensor("seconds/.ATTRIBUTES/VARIABLE_VALUE"))


@pytest.mark.integration
def test_a_time_budget_spans_resumes(corpus, tmp_path):
    out = tmp_path / "tagger"
    args = train_args(corpus, out, epochs=4) + ["--set", "time_budget_minutes=0.0001"]
    code, _, err = cli(APP, *args)  # a 6 ms budget: spent by the first epoch
    assert code == 0, err
    assert saved_step(out) == (1, 0)
    spent = saved_seconds(out)
    assert spent > 0.006
    code, _, err = cli(APP, *args)  # resumed: nothing of the budget is left to train in
    assert code == 0, err
    assert saved_step(out) == (1, 0) and saved_seconds(out) == spent
    # A resumed run may be given a larger budget; its seconds add to the earlier run's.
    code, _, err = cli(APP, *train_args(corpus, out, epochs=2),
                       "--set", "time_budget_minutes=60")
    assert code == 0, err
    assert saved_step(out) == (2, 0) and saved_seconds(out) > spent


@pytest.mark.integration
def test_an_epoch_resumed_part_way_counts_as_a_whole_one(corpus, tmp_path, monkeypatch):
    # A clock where each of the epoch's 13 batches takes 10 s: two 130 s epochs fit a
    # 300 s budget, a third does not, also when the second was cut and resumed.
    import types

    from applications.core import training_state

    clock = [0]
    monkeypatch.setattr(training_state, "time",
                        types.SimpleNamespace(monotonic=lambda: 10.0 * clock[0]))
    original = TrainingState.on_train_batch_end

    def tick(self, batch, logs=None):
        clock[0] += 1
        original(self, batch, logs)

    monkeypatch.setattr(TrainingState, "on_train_batch_end", tick)
    out = tmp_path / "tagger"
    args = train_args(corpus, out, epochs=4) + ["--set", "time_budget_minutes=5"]
    with interrupted_after(13 + 12):
        assert cli(APP, *args)[0] == 130
    assert saved_step(out) == (1, 10) and saved_seconds(out) == 230.0
    assert cli(APP, *args)[0] == 0
    assert saved_step(out) == (2, 0) and saved_seconds(out) == 260.0


@pytest.mark.integration
def test_mid_epoch_saves_go_on_when_their_interval_changes_on_resume(corpus, tmp_path):
    out = tmp_path / "tagger"
    with interrupted_after(7):
        assert cli(APP, *train_args(corpus, out))[0] == 130
    assert saved_step(out) == (0, 5)
    # Every 4 batches now, 2 per call: the calls end at batches 7 and 9, and 9 passes 8.
    with interrupted_after(2):
        assert cli(APP, *train_args(corpus, out), "--set", "save_every_steps=4",
                   "--set", "steps_per_execution=2")[0] == 130
    assert saved_step(out) == (0, 9)


@pytest.mark.integration
def test_a_finished_run_run_again_changes_nothing(corpus, uninterrupted, tmp_path):
    out = tmp_path / "tagger"
    shutil.copytree(uninterrupted, out)
    before = {name: (out / name).read_bytes() for name in ("model.keras", "metrics.json")}
    code, _, err = cli(APP, *train_args(corpus, out))
    assert code == 0 and f"nothing left to train in {out}" in err, err
    assert {name: (out / name).read_bytes() for name in before} == before


@pytest.fixture(scope="module")
def three_checkpoints(tmp_path_factory, uninterrupted):
    """A checkpoint folder holding ckpt-10 (epoch 1) and ckpt-20 (epoch 2), plus a model."""
    model = load_model(uninterrupted)
    model.compile_for_training()
    model.optimizer.build(model.trainable_variables)
    out = tmp_path_factory.mktemp("three") / "run"
    state = TrainingState(str(out), "val_accuracy", "max").attach(model)
    for epoch in (1, 2):
        state.epoch.assign(epoch)
        model.optimizer.iterations.assign(10 * epoch)
        state.save()
    save_model_atomically(model, out / "model.keras")
    return model, out


def restore_copy(three_checkpoints, tmp_path, damage):
    model, pristine = three_checkpoints
    out = tmp_path / "copy"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(pristine, out)
    damage(out / "checkpoints")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        state = TrainingState(str(out), "val_accuracy", "max").attach(model)
        epoch = state.restore()
    return epoch, [line for line in stderr.getvalue().splitlines() if line.strip()], out


def cut(path, at):
    payload = path.read_bytes()
    path.write_bytes(payload[:at(len(payload))])


CUTS = [lambda n: 0, lambda n: 1, lambda n: n // 2, lambda n: n - 1]


@pytest.mark.integration
@pytest.mark.parametrize("suffix", [".index", ".data-00000-of-00001"])
def test_torn_newest_checkpoint_falls_back_to_the_previous(three_checkpoints, tmp_path, suffix):
    for at in CUTS:
        torn = None

        def damage(folder):
            nonlocal torn
            torn = folder / f"ckpt-20{suffix}"
            cut(torn, at)

        epoch, lines, out = restore_copy(three_checkpoints, tmp_path, damage)
        assert epoch == 1, lines
        assert len(lines) == 1 and lines[0].startswith(f"warning: {torn}: unreadable"), lines
        assert not torn.exists()
        assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-10")


@pytest.mark.integration
def test_torn_list_of_checkpoints_is_rebuilt_from_the_files(three_checkpoints, tmp_path):
    for at in CUTS[:3]:
        epoch, lines, out = restore_copy(
            three_checkpoints, tmp_path, lambda folder: cut(folder / "checkpoint", at))
        assert epoch == 2, lines
        listed = out / "checkpoints" / "checkpoint"
        assert len(lines) == 1 and lines[0].startswith(f"warning: {listed}: unreadable"), lines
        assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-20")


@pytest.mark.integration
def test_no_readable_checkpoint_is_one_error_line(three_checkpoints, tmp_path):
    def tear_all(folder):
        for path in folder.glob("ckpt-*.index"):
            path.write_bytes(b"")

    with pytest.raises(InputError) as caught:
        restore_copy(three_checkpoints, tmp_path, tear_all)
    assert "none of the 2 checkpoint(s) here reads back" in str(caught.value)


@pytest.mark.integration
def test_cli_exits_2_when_nothing_can_be_resumed(corpus, uninterrupted, tmp_path):
    out = tmp_path / "tagger"
    shutil.copytree(uninterrupted, out)
    for path in (out / "checkpoints").glob("ckpt-*.data-*"):
        cut(path, lambda n: n // 3)
    model_before = (out / "model.keras").read_bytes()
    assert_input_error(APP, train_args(corpus, out, epochs=3), out / "checkpoints")
    assert (out / "model.keras").read_bytes() == model_before


@pytest.mark.integration
def test_torn_run_record_is_one_error_line(corpus, uninterrupted, tmp_path):
    out = tmp_path / "tagger"
    shutil.copytree(uninterrupted, out)
    record = out / "checkpoints" / "application.json"
    for at in CUTS[:3]:
        shutil.copy(uninterrupted / "checkpoints" / "application.json", record)
        cut(record, at)
        before = (out / "model.keras").read_bytes()
        assert_input_error(APP, train_args(corpus, out, epochs=3), record)
        assert (out / "model.keras").read_bytes() == before


@pytest.mark.integration
def test_torn_best_model_is_replaced_and_stale_temporaries_go(three_checkpoints, tmp_path):
    def damage(folder):
        cut(folder.parent / "model.keras", lambda n: n // 2)
        (folder.parent / ".tmp-123-model.keras").write_bytes(b"half a model")
        (folder / "ckpt-30_temp").mkdir()

    epoch, lines, out = restore_copy(three_checkpoints, tmp_path, damage)
    assert epoch == 2 and len(lines) == 1
    assert lines[0].startswith(f"warning: {out / 'model.keras'}: unreadable"), lines
    assert load_model(out).count_params() > 0
    assert not list(out.glob(".tmp-*")) and not list(out.glob("checkpoints/*_temp"))


@pytest.mark.integration
def test_atomic_writes_leave_the_old_file_when_they_fail(tmp_path, monkeypatch, uninterrupted):
    target = tmp_path / "metrics.json"
    target.write_text("old")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    model = load_model(uninterrupted)
    with pytest.raises(OSError):
        save_model_atomically(model, tmp_path / "model.keras")
    monkeypatch.undo()
    assert target.read_text() == "old" and not (tmp_path / "model.keras").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


WRITES = re.compile(r"open\([^)]*['\"][wax]b?\+?['\"]|\.save\(|savefig\(|json\.dump\(|"
                    r"np\.save|write_text\(|write_bytes\(|to_csv\(|tofile\(|write_out\(")


def test_every_file_the_package_writes_is_written_atomically():
    """A static audit: each write goes to a buffer, a temporary name or a checkpoint manager."""
    allowed = re.compile(r"buffer|tmp|manager\.save\(|\.save\(\)|atomic_write")
    found, offending = 0, []
    for package in ("applications", "data", "encoders", "tuning"):
        for root, _, names in os.walk(os.path.join(REPO, package)):
            for name in names:
                path = os.path.join(root, name)
                if not name.endswith(".py") or path.endswith(os.path.join("data", "files.py")):
                    continue
                with open(path, encoding="utf-8") as handle:
                    for number, line in enumerate(handle, 1):
                        if WRITES.search(line) and not line.lstrip().startswith("#"):
                            found += 1
                            if not allowed.search(line):
                                offending.append(f"{path}:{number}: {line.strip()}")
    assert found >= 5, "the audit no longer finds the package's writes"
    assert not offending, "\n".join(offending)


@pytest.mark.integration
@pytest.mark.slow
def test_sigkill_during_training_then_resume(corpus, tmp_path):
    out = tmp_path / "tagger"
    args = [sys.executable, "-m", "applications.pos_tagger",
            *map(str, train_args(corpus, out, epochs=3))]
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list(out.glob("checkpoints/ckpt-3[0-9].index")) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    code, _, err = cli(APP, *train_args(corpus, out, epochs=3))
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 3
