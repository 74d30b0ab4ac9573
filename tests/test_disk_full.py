"""A full disk while writing a checkpoint, the best model, an export or a tuning record:
exit code 2, one line on stderr, and every file that was there before unchanged.

The write is made to fail with ``ENOSPC`` by patching it at each point; the last test fills a
real tmpfs (where ``mount`` is allowed: root on Linux) so that TensorFlow's own C++ writer
meets the full disk.
"""

import errno
import math
import os
import shutil
import subprocess
import uuid

import keras
import pytest
import tensorflow as tf

from applications.anomaly_detector.commands import DetectorCommands
from applications.pos_tagger.commands import TaggerCommands
from applications.pos_tagger.sample_data import generate_sentences, write_two_column
from data import files
from data.files import DiskFullError, atomic_write_json
from tests.helpers import cli, error_lines

TAGGER = TaggerCommands()
TINY = ["--set", "word_dim=8", "--set", "char_dim=4", "--set", "encoder.filters=[8]",
        "--set", "char_encoder.filters=[8]", "--set", "learning_rate=0.05", "--batch-size", "16",
        "--seed", "3", "--set", "save_every_steps=4"]
NO_SPACE = os.strerror(errno.ENOSPC)


def snapshot(folder):
    """Every file's bytes, except the lock file (it records the last holder's pid)."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            if name != ".encore.lock":
                path = os.path.join(root, name)
                with open(path, "rb") as handle:
                    found[os.path.relpath(path, folder)] = handle.read()
    return found


def assert_unchanged(before, folder):
    """Every file of ``before`` is still in ``folder`` with the same bytes."""
    after = snapshot(folder)
    changed = [name for name, payload in before.items() if after.get(name) != payload]
    assert not changed, changed


def one_disk_full_line(code, err, where):
    """Exit 2 and one error line, ``error: WHERE...: no space left on device; ...`` (a
    resumed search's progress notes may come before it)."""
    lines = [line for line in error_lines(err) if not line.startswith(
        ("Reloading Tuner from", "resuming the search in"))]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {where}"), lines[0]
    assert lines[0].endswith(": no space left on device; the previous file is unchanged"), \
        lines[0]
    return lines[0]


def test_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    atomic_write_json(path, {"accuracy": 0.5})
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, NO_SPACE)

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(DiskFullError) as caught:
        atomic_write_json(path, {"accuracy": 0.9})
    assert str(caught.value) == f"{path}: no space left on device; the previous file is unchanged"
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["metrics.json"]  # no temporary file left


def test_disk_full_is_told_apart_from_other_errors():
    assert files.is_disk_full(OSError(errno.ENOSPC, NO_SPACE))
    assert files.is_disk_full(OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)))
    assert files.is_disk_full(tf.errors.ResourceExhaustedError(
        None, None, f"ckpt-4_temp/part-00000: {NO_SPACE}"))
    assert not files.is_disk_full(PermissionError(errno.EACCES, "Permission denied"))
    assert not files.is_disk_full(tf.errors.ResourceExhaustedError(None, None, "OOM"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch tagger run (checkpoints and model.keras) and the arguments to resume it."""
    folder = tmp_path_factory.mktemp("tagger")
    write_two_column(generate_sentences(96, seed=1), folder / "train.tsv")
    write_two_column(generate_sentences(32, seed=2), folder / "dev.tsv")
    args = ["train", "--train", folder / "train.tsv", "--dev", folder / "dev.tsv", *TINY]
    code, _, err = cli(TAGGER, *args, "--out", folder / "run", "--epochs", 1)
    assert code == 0, err
    return folder / "run", args


def resumed_copy(trained, tmp_path):
    """A copy of the trained run, the arguments that resume it for two more epochs, and its
    files before: all but the two that record the options (--epochs grows on resuming)."""
    run, args = trained
    out = tmp_path / "run"
    shutil.copytree(run, out)
    before = snapshot(out)
    for name in ("config.json", os.path.join("checkpoints", "application.json")):
        before.pop(name)
    return out, [*args, "--out", out, "--epochs", 3], before


@pytest.mark.integration
def test_checkpoint_write_on_a_full_disk(trained, tmp_path, monkeypatch):
    out, args, before = resumed_copy(trained, tmp_path)

    def full(self, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{self.directory}/ckpt-9_temp/part-00000-of-00001.data: {NO_SPACE}")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full)
    code, _, err = cli(TAGGER, *args)
    one_disk_full_line(code, err, out / "checkpoints")
    assert_unchanged(before, out)


@pytest.mark.integration
def test_best_model_write_on_a_full_disk(trained, tmp_path, monkeypatch):
    out, args, before = resumed_copy(trained, tmp_path)
    args.extend(["--set", "save_every_steps=0"])  # the best model is the first write
    calls = []
    real_save = keras.Model.save

    def full(self, path, *args, **kwargs):
        calls.append(path)
        real_save(self, path, *args, **kwargs)  # the file is written, then the disk fills
        with open(path, "ab") as handle:
            handle.write(b"torn")
        raise OSError(errno.ENOSPC, NO_SPACE, path)

    monkeypatch.setattr(keras.Model, "save", full)
    code, _, err = cli(TAGGER, *args)
    assert calls, "no best model was saved: the resumed epochs did not improve on dev"
    one_disk_full_line(code, err, out / "model.keras")
    assert_unchanged(before, out)
    assert not list(out.glob(".tmp-*"))  # the half-written model is gone


@pytest.mark.integration
def test_export_on_a_full_disk_keeps_the_earlier_export(trained, tmp_path, monkeypatch):
    run, _ = trained
    export = tmp_path / "export"
    code, _, err = cli(TAGGER, "export", "--model", run, "--out", export)
    assert code == 0, err
    before = snapshot(export)

    def full(self, folder, *args, **kwargs):
        with open(os.path.join(folder, "saved_model.pb"), "wb") as handle:
            handle.write(b"half")
        raise OSError(errno.ENOSPC, NO_SPACE)

    # ExportArchive() makes an object of the backend's own subclass; that class writes.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", full)
    code, _, err = cli(TAGGER, "export", "--model", run, "--out", export)
    one_disk_full_line(code, err, export)
    assert_unchanged(before, export)
    assert sorted(os.listdir(tmp_path)) == ["export"]  # no .tmp or .old left beside it


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """A finished one-trial search of a tiny anomaly detector, and the arguments to go on."""
    folder = tmp_path_factory.mktemp("search")
    series = folder / "series.csv"
    series.write_text("timestamp,value\n" + "".join(
        f"{i},{math.sin(i / 8):.4f}\n" for i in range(300)))
    args = ["tune", "--train", series, "--dev", series, "--epochs", 1, "--set", "window=16",
            "--space", "encoder.units=4", "--space", "decoder_units=4",
            "--space", "batch_size=32", "--seed", 5]
    code, _, err = cli(DetectorCommands(), *args, "--dir", folder / "dir", "--max-trials", 1)
    assert code == 0, err
    return folder / "dir", args


@pytest.mark.integration
@pytest.mark.parametrize("records", [None, ("trial.json", "oracle.json", "tuner0.json")])
def test_tuning_record_on_a_full_disk(search, tmp_path, monkeypatch, records):
    folder = tmp_path / "dir"
    shutil.copytree(search[0], folder)
    before = snapshot(folder)
    if records:  # the search settings may be rewritten (max_trials grows) before a trial
        before.pop("tune.json")
    real_replace = os.replace

    def full(source, target):
        name = os.path.basename(target)
        if name.endswith(".json") and (records is None or name in records):
            raise OSError(errno.ENOSPC, NO_SPACE, target)
        real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", full)
    code, _, err = cli(DetectorCommands(), *search[1], "--dir", folder, "--max-trials", 2)
    one_disk_full_line(code, err, folder)
    assert_unchanged(before, folder)


def _mount_tmpfs(folder, size):
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                            capture_output=True)
    return result.returncode == 0


@pytest.mark.integration
def test_real_full_tmpfs_during_training(trained, tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("mounting a tmpfs needs root")
    try:
        out, args, before = resumed_copy(trained, disk)
        filler = disk / f"filler-{uuid.uuid4().hex}"
        with open(filler, "wb", buffering=0) as handle:
            with pytest.raises(OSError) as full:
                while True:
                    handle.write(b"\0" * 4096)
        assert full.value.errno == errno.ENOSPC
        # Room for the run's small JSON records, not for a checkpoint (about 60 kB): the
        # full disk is met by TensorFlow's own checkpoint writer.
        os.truncate(filler, os.path.getsize(filler) - 16 * 1024)
        code, _, err = cli(TAGGER, *args)
        one_disk_full_line(code, err, out / "checkpoints")
        assert_unchanged(before, out)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
