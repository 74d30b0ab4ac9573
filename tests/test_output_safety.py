"""Nothing a user runs destroys their work: output folders, one writer per folder, resume
checks its data, and only damage counts as damage (issue 28, first half)."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from applications.autoencoder.commands import AutoencoderCommands
from applications.core import checkpoints, file_targets, outputs
from applications.core.plots import new_figure, write_png
from applications.pos_tagger.commands import TaggerCommands
from applications.pos_tagger.sample_data import generate_sentences, write_two_column
from data.errors import InputError
from tests.helpers import REPO, cli, error_lines

APP = TaggerCommands()
TINY = ["--set", "word_dim=8", "--set", "char_dim=4", "--set", "encoder.filters=[8]",
        "--set", "char_encoder.filters=[8]", "--batch-size", "16", "--seed", "1",
        "--set", "save_every_steps=3"]
TUNE = ["--seed", "1", "--max-trials", "1", "--epochs", "1"]


def snapshot(folder):
    """Every file under ``folder`` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def one_error(code, err):
    lines = error_lines(err)
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err)
    return lines[0]


def fake_saved_model(folder):
    os.makedirs(os.path.join(folder, "variables"))
    with open(os.path.join(folder, "saved_model.pb"), "wb") as handle:
        handle.write(b"graph")


# --- Output folders -------------------------------------------------------------------------

def test_export_into_the_runs_folder_or_the_model_is_refused(tmp_path):
    runs = tmp_path / "runs"
    for name in ("tagger", "classifier"):
        (runs / name / "checkpoints").mkdir(parents=True)
        (runs / name / "model.keras").write_bytes(b"a trained model")
    before = snapshot(runs)
    for out in (runs, runs / "tagger", runs / "tagger" / "export", tmp_path):
        line = one_error(*cli(APP, "export", "--model", runs / "tagger", "--out", out)[:3:2])
        assert line.startswith(f"error: {out}:") and "model folder" in line, line
    assert snapshot(runs) == before


def test_export_refuses_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"jpeg")
    model = tmp_path / "model"
    model.mkdir()
    line = one_error(*cli(APP, "export", "--model", model, "--out", mine)[:3:2])
    assert line.startswith(f"error: {mine}: exists and is not a SavedModel"), line
    assert snapshot(mine) == {"holiday.jpg": b"jpeg"}
    with pytest.raises(InputError, match="not a SavedModel"):
        outputs.write_export(fake_saved_model, str(mine), "PosTagger")
    assert snapshot(mine) == {"holiday.jpg": b"jpeg"}


def test_export_replaces_its_own_earlier_export_and_leaves_nothing_beside(tmp_path):
    out = tmp_path / "export"
    outputs.write_export(fake_saved_model, str(out), "PosTagger")
    assert outputs.is_export(out)

    def newer(folder):
        fake_saved_model(folder)
        with open(os.path.join(folder, "saved_model.pb"), "wb") as handle:
            handle.write(b"graph 2")

    outputs.write_export(newer, str(out), "PosTagger")
    assert (out / "saved_model.pb").read_bytes() == b"graph 2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_a_kill_between_the_two_renames_is_recovered(tmp_path, monkeypatch):
    out = tmp_path / "export"
    outputs.write_export(fake_saved_model, str(out), "PosTagger")
    real_replace = os.replace

    def killed_after_first_rename(src, dst):
        if src == f"{out}.tmp":
            assert os.path.exists(f"{out}.old")  # the first rename has happened
            raise KeyboardInterrupt  # the process dies here: old moved away, new not in
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", killed_after_first_rename)
    with pytest.raises(KeyboardInterrupt):
        outputs.write_export(fake_saved_model, str(out), "PosTagger")
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    assert not out.exists() and outputs.is_export(f"{out}.old")
    assert outputs.is_export(f"{out}.tmp")

    outputs.prepare_export(str(out))  # what the next export does first
    assert outputs.is_export(out) and (out / "saved_model.pb").read_bytes() == b"graph"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_leftovers_beside_an_export_are_removed_only_when_ours(tmp_path):
    out = tmp_path / "export"
    stranger = tmp_path / "export.tmp"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an export of this package"):
        outputs.write_export(fake_saved_model, str(out), "PosTagger")
    assert (stranger / "notes.txt").read_text() == "mine" and not out.exists()
    shutil.rmtree(stranger)
    half = tmp_path / "export.old"
    outputs.write_export(fake_saved_model, str(half), "PosTagger")  # an old export of ours
    outputs.write_export(fake_saved_model, str(out), "PosTagger")
    assert outputs.is_export(out) and not half.exists()


def test_train_refuses_a_folder_that_is_not_its_run(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "config.json").write_text('{"mine": true}')
    line = one_error(*cli(APP, "train", "--out", folder, *TINY)[:3:2])
    assert line.startswith(f"error: {folder}: holds config.json but is not a pos_tagger run")
    assert snapshot(folder) == {"config.json": b'{"mine": true}'}
    other = tmp_path / "classifier"
    (other / "checkpoints").mkdir(parents=True)
    (other / "checkpoints" / "application.json").write_text('{"application": '
                                                            '"text_classifier"}')
    line = one_error(*cli(APP, "train", "--out", other, *TINY)[:3:2])
    assert "holds a run of text_classifier, not pos_tagger" in line


def test_ensemble_out_over_a_member_or_a_stranger_is_refused(tmp_path):
    members = [tmp_path / "runs" / name for name in ("a", "b")]
    for member in members:
        member.mkdir(parents=True)
    for out in (tmp_path / "runs", members[0] / "sub"):
        line = one_error(*cli(APP, "ensemble", "--models", *members, "--out", out)[:3:2])
        assert "is one of the members, or lies inside or above" in line, line
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "model.keras").write_bytes(b"someone's model")
    with pytest.raises(InputError, match="not an ensemble of PosTagger"):
        outputs.check_ensemble_target(str(stranger), "PosTagger")
    (stranger / "ensemble.json").write_text('{"application": "TextClassifier"}')
    with pytest.raises(InputError, match="not an ensemble of PosTagger"):
        outputs.check_ensemble_target(str(stranger), "PosTagger")
    (stranger / "ensemble.json").write_text('{"application": "PosTagger"}')
    outputs.check_ensemble_target(str(stranger), "PosTagger")  # an earlier ensemble: fine


def test_tune_dir_and_export_best_refuse_what_they_did_not_write(tmp_path):
    results = tmp_path / "analysis"
    results.mkdir()
    (results / "results.csv").write_text("my own numbers\n")
    line = one_error(*cli(APP, "tune", "--dir", results, *TUNE)[:3:2])
    assert line.startswith(f"error: {results}: holds results.csv but is not a search folder")
    assert (results / "results.csv").read_text() == "my own numbers\n"
    best = tmp_path / "best"
    best.mkdir()
    (best / "model.keras").write_bytes(b"keep me")
    line = one_error(*cli(APP, "tune", "--dir", tmp_path / "search", "--export-best", best,
                          *TUNE)[:3:2])
    assert line.startswith(f"error: {best}: holds model.keras but is not an earlier "
                           "--export-best of pos_tagger")
    # A train run's folder (its record names the training data) is not replaced either;
    # an earlier export (no data named) is.
    (best / "model.keras").unlink()
    (best / "checkpoints").mkdir()
    (best / "checkpoints" / "application.json").write_text(
        '{"application": "pos_tagger", "config": {}, "data": {}}')
    with pytest.raises(InputError, match="not an earlier --export-best of pos_tagger"):
        outputs.check_export_target(str(best), "pos_tagger")
    (best / "checkpoints" / "application.json").write_text(
        '{"application": "pos_tagger", "config": {}}')
    outputs.check_export_target(str(best), "pos_tagger")
    line = one_error(*cli(APP, "tune", "--dir", tmp_path / "s2", "--export-best",
                          tmp_path / "s2" / "best", *TUNE)[:3:2])
    assert "--export-best" in line and "--dir" in line
    assert not (tmp_path / "search").exists() and not (tmp_path / "s2").exists()


def test_encode_and_plots_replace_only_their_own_kind_of_file(tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("name,phone\nAda,123\n")
    line = one_error(*cli(AutoencoderCommands(), "encode", "--model", tmp_path / "none",
                          "--input", tmp_path, "--out", notes)[:3:2])
    assert line.startswith(f"error: {notes}: exists and is not a .csv this package wrote")
    assert notes.read_text() == "name,phone\nAda,123\n"
    figure = new_figure(1, 1)
    picture = tmp_path / "plot.png"
    picture.write_text("not a picture")
    with pytest.raises(InputError, match="not a .png this package wrote"):
        write_png(figure, picture)
    assert picture.read_text() == "not a picture"
    picture.unlink()
    write_png(figure, picture)
    write_png(figure, picture)  # an earlier PNG is replaced
    assert picture.read_bytes()[:4] == b"\x89PNG"


# --- One writer per folder, resume checks its data, damage ------------------------------------

@pytest.fixture
def corpus(tmp_path):
    write_two_column(generate_sentences(60, seed=3), tmp_path / "train.tsv")
    write_two_column(generate_sentences(20, seed=4), tmp_path / "dev.tsv")
    return tmp_path / "train.tsv", tmp_path / "dev.tsv"


def train(corpus, out, *extra, epochs=1):
    return cli(APP, "train", "--train", corpus[0], "--dev", corpus[1], "--out", out,
               "--epochs", epochs, *TINY, *extra)


@pytest.mark.integration
def test_a_live_writer_blocks_a_second_train_and_a_killed_one_does_not(corpus, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom applications.core.locks import acquire\n"
         f"acquire({str(out)!r})\nprint('locked', flush=True)\ntime.sleep(600)\n"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = one_error(*train(corpus, out)[:3:2])
        assert line == (f"error: {out} is in use by process {holder.pid}; wait for it to end "
                        "or write to another folder"), line
        assert not (out / "checkpoints").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    code, _, err = train(corpus, out)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 1


@pytest.mark.integration
def test_resume_checks_the_training_data_by_content(corpus, tmp_path):
    out = tmp_path / "run"
    assert train(corpus, out)[0] == 0
    moved = tmp_path / "moved" / "renamed.tsv"
    moved.parent.mkdir()
    shutil.copy(corpus[0], moved)
    code, _, err = train((moved, corpus[1]), out, epochs=2)  # same bytes: resumes
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 2

    changed = tmp_path / "train2.tsv"  # the same tags and words, in other bytes
    changed.write_text(corpus[0].read_text() * 2)
    before = snapshot(out)
    line = one_error(*train((changed, corpus[1]), out, epochs=3)[:3:2])
    assert line.startswith(f"error: {out} holds a run trained on other data (--train was "), \
        line
    assert "--restart" in line
    assert snapshot(out) == before

    code, _, err = train((changed, corpus[1]), out, "--restart", epochs=1)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 1
    state = json.loads((out / "checkpoints" / "application.json").read_text())
    assert state["application"] == "pos_tagger"
    assert state["data"]["train"]["bytes"] == changed.stat().st_size


@pytest.mark.integration
@pytest.mark.parametrize("victim", ["index", "list"])
def test_an_unreadable_checkpoint_is_reported_and_nothing_is_deleted(corpus, tmp_path,
                                                                     monkeypatch, victim):
    out = tmp_path / "run"
    assert train(corpus, out)[0] == 0
    folder = out / "checkpoints"
    newest = checkpoints.checkpoints_on_disk(str(folder))[0]
    target = newest + ".index" if victim == "index" else str(folder / "checkpoint")
    # The run's record and config.json are rewritten (epochs 1 -> 2); the rest must stay.
    kept = lambda: {k: v for k, v in snapshot(out).items()
                    if k not in ("checkpoints/application.json", "config.json")}
    before = kept()
    assert len([k for k in before if k.startswith("checkpoints/ckpt-")]) >= 4
    real_open = open

    def no_permission(path, *args, **kwargs):
        # As chmod 000 would for a user who is not root (these tests run as root).
        if os.fspath(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "open", no_permission, raising=False)
    line = one_error(*train(corpus, out, epochs=2)[:3:2])
    assert line.startswith(f"error: {target}: cannot read this file (Permission denied)"), line
    assert kept() == before  # every checkpoint, the list and the model, byte for byte


def test_evaluation_report_replaces_only_an_earlier_report(tmp_path):
    report = tmp_path / "evaluation.json"
    file_targets.check_report_target(report)  # nothing there yet
    report.write_text('{"budget": 12}\n')
    with pytest.raises(InputError, match="not an evaluation report this package wrote"):
        file_targets.check_report_target(report)
    assert report.read_text() == '{"budget": 12}\n'
    report.write_text(json.dumps({"accuracy": 0.5, "examples": 4, "data": "dev.idx"}))
    file_targets.check_report_target(report)  # an earlier report may be replaced


def test_a_file_or_folder_in_the_way_of_an_output_is_one_line(tmp_path):
    from data.files import atomic_write_bytes

    blocker = tmp_path / "f"
    blocker.write_text("precious")
    folder = tmp_path / "u"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    # A folder output (--plot DIR, --midi DIR) where a file stands, or below one.
    for path in (blocker, blocker / "plots"):
        with pytest.raises(InputError) as caught:
            outputs.make_folder(str(path), "--plot")
        assert str(caught.value).startswith(f"{path}: --plot ")
    # A file output (a plot, a report) where a folder stands, or below a file.
    with pytest.raises(InputError, match="is a folder: name a file"):
        atomic_write_bytes(str(folder), b"png")
    with pytest.raises(InputError, match=f"cannot be written: {blocker} is a file"):
        atomic_write_bytes(str(blocker / "report.png"), b"png")
    assert blocker.read_text() == "precious" and (folder / "notes.txt").read_text() == "keep"
    assert sorted(os.listdir(tmp_path)) == ["f", "u"] and os.listdir(folder) == ["notes.txt"]
    made = outputs.make_folder(str(tmp_path / "new" / "plots"), "--plot")
    assert os.path.isdir(made)
