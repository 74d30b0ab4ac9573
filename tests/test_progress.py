"""Progress on stderr: one line per stage off a terminal, Keras' bar on one, none with --quiet."""

import argparse
import io
import json
import re
import warnings

import pytest

from applications.core import progress
from applications.core.config import load_config
from applications.pos_tagger.commands import TaggerCommands
from applications.pos_tagger.config import TaggerConfig
from applications.pos_tagger.sample_data import generate_sentences, write_two_column
from tests.helpers import cli

APP = TaggerCommands()
TINY = ["word_dim=8", "char_dim=4", "encoder.filters=[8]", "char_encoder.filters=[4]"]
LINE = re.compile(r"^(?P<label>[^:]+): (?P<count>[\d,]+) (?P<unit>\w+) in \d+\.\d s$")


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def progress_on():
    before = progress.enabled()
    progress.set_enabled(True)
    yield
    progress.set_enabled(before)


def stage_lines(text):
    """``[(label, count, unit)]`` of the stage lines in ``text``; fails on any other line."""
    found = []
    for line in text.splitlines():
        match = LINE.match(line)
        assert match, f"not a stage line: {line!r}"
        found.append((match["label"], int(match["count"].replace(",", "")), match["unit"]))
    return found


def test_a_stage_off_a_terminal_is_one_line(capsys):
    with progress.stage("reading train.conllu", unit="sentences") as step:
        step.count = 12543
    for _ in progress.track([[1, 2], [3]], "scoring", total=3, unit="rows", size=len):
        pass
    captured = capsys.readouterr()
    assert captured.out == ""
    assert stage_lines(captured.err) == [("reading train.conllu", 12543, "sentences"),
                                         ("scoring", 3, "rows")]


def test_a_failed_stage_reports_nothing(capsys):
    with pytest.raises(ValueError):
        with progress.stage("reading bad.txt", unit="lines"):
            raise ValueError("bad line")
    assert capsys.readouterr().err == ""


def test_quiet_silences_stages_lines_and_keras_fit(capsys):
    progress.set_enabled(False)
    with progress.stage("reading x", unit="lines") as step:
        step.count = 3
    list(progress.track(range(3), "scoring"))
    progress.line("saved model.keras")
    assert capsys.readouterr() == ("", "")
    assert progress.fit_verbose() == 0 and not progress.interactive()


def test_muted_block_shows_nothing_and_restores_the_setting(capsys):
    with progress.muted():
        with progress.stage("reading again.txt", unit="lines") as step:
            step.count = 3
    assert capsys.readouterr().err == "" and progress.enabled()
    progress.set_enabled(False)
    with progress.muted():
        pass
    assert not progress.enabled()  # a quiet run stays quiet after the block


def test_on_a_terminal_the_stage_shows_keras_progress_bar(monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert progress.interactive()
    for _ in progress.track(list(range(5)), "tagging input.txt", unit="sentences"):
        pass
    shown = terminal.getvalue()
    assert capsys.readouterr().out == ""  # the bar is redirected off stdout
    assert shown.startswith("tagging input.txt\n")
    assert "5/5" in shown and "\r" in shown  # Progbar's count, redrawn in place
    assert shown.count("5/5") == 1 and shown.endswith("\n")  # the last state, once
    assert not LINE.search(shown.splitlines()[-1])  # the bar, not the one-line summary


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    """An untrained tiny tagger saved to a directory (no training: evaluate/predict only)."""
    from applications.pos_tagger.model import PosTagger

    folder = tmp_path_factory.mktemp("progress")
    train, dev = folder / "train.tsv", folder / "dev.tsv"
    write_two_column(generate_sentences(40, seed=3), train)
    write_two_column(generate_sentences(12, seed=4), dev)
    config = load_config(TaggerConfig, None, TINY)
    metadata, train_ds, _ = APP.read_training_data(argparse.Namespace(train=str(train),
                                                                      dev=None), config)
    model = PosTagger(config.to_dict(), metadata)
    model.compile_for_training(jit_compile=False)
    model.build_from_batch(next(iter(train_ds)))
    out = folder / "tagger"
    out.mkdir()
    model.save_to(str(out))
    text = folder / "input.txt"
    text.write_text("The old man saw a dog .\nA small cat sleeps .\n")
    return out, dev, text


def test_evaluate_off_a_terminal_prints_one_line_per_stage(tagger):
    model, dev, _ = tagger
    code, out, err = cli(APP, "evaluate", "--model", model, "--data", dev, "--json")
    assert code == 0, err
    tokens = json.loads(out)["tokens"]  # stdout is the JSON object alone
    assert stage_lines(err) == [("reading dev.tsv", 12, "sentences"),
                                ("tagging dev.tsv", 12, "sentences")]
    assert tokens == sum(1 for line in dev.read_text().splitlines() if line.strip())


def test_predict_off_a_terminal_prints_one_line_per_stage(tagger):
    model, _, text = tagger
    code, out, err = cli(APP, "predict", "--model", model, "--input", text)
    assert code == 0, err
    assert stage_lines(err) == [("tagging input.txt", 2, "sentences")]
    rows = [line.split("\t") for line in out.splitlines() if line]
    assert [row[0] for row in rows] == "The old man saw a dog . A small cat sleeps .".split()


@pytest.mark.parametrize("verb", ["evaluate", "predict"])
def test_quiet_run_prints_nothing_on_stderr(tagger, verb):
    model, dev, text = tagger
    data = ["--data", dev, "--json"] if verb == "evaluate" else ["--input", text]
    with warnings.catch_warnings():  # Python warnings from Keras are not our progress
        warnings.simplefilter("ignore")
        code, out, err = cli(APP, verb, "--model", model, *data, "--quiet")
    assert code == 0 and err == "", err
    assert out.strip()
    assert progress.enabled() is False  # the CLI turned the process setting off


def test_quiet_is_a_flag_of_every_verb():
    from applications.core.cli import build_parser
    from tuning.verb import TUNE

    parser, _ = build_parser(APP, added_verbs=[TUNE])
    verbs = parser._subparsers._group_actions[0].choices
    assert {"train", "evaluate", "predict", "export", "tune", "ensemble"} <= set(verbs)
    for name, sub in verbs.items():
        assert any("--quiet" in action.option_strings for action in sub._actions), name
