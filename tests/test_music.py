"""ABC tunes: the reader, the bar-by-bar metre check, tune windows and whole-tune generation."""

from fractions import Fraction

import numpy as np
import pytest

from applications.language_model.commands import LanguageModelCommands
from applications.language_model.tunes import (CUT_MARK, check_whole_tunes,
                                               split_tunes_for_validation, tune_prompt,
                                               tune_windows)
from data.abc import (default_unit, header_fields, length_multiplier, parse_metre, read_tunes,
                      split_tunes)
from data.abc_check import check_tune, check_tunes
from data.errors import InputError
from tests.helpers import cli

TWO_TUNES = """% a file header, not a tune
X: 1
T:The First
% Nottingham-style comment
M:6/8
K:G
f|"G"g2g B^AB|d2d G3|[1"D7"ABc "G"B2:|
 [2"D7"ABc "G"G3||

X: 2
T:The Second
M:4/4
L:1/8
K:D
P:A
A>B c2 d4|(3ABc d2 [DF]4|z8|]
"""


def test_reads_two_tunes_with_their_headers(tmp_path):
    path = tmp_path / "two.abc"
    path.write_text(TWO_TUNES)
    tunes = read_tunes(path)
    assert [t.line for t in tunes] == [2, 10]
    assert tunes[0].text.startswith("X: 1\nT:The First\n") and tunes[0].text.endswith("G3||\n")
    assert header_fields(tunes[0].text) == {"X": "1", "T": "The First", "M": "6/8", "K": "G"}
    assert header_fields(tunes[1].text)["L"] == "1/8"
    assert [check_tune(t.text).parsed for t in tunes] == [True, True]
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.abc").write_text(TWO_TUNES)
    (folder / "b.abc").write_text("X:3\nK:C\nCDEF|\n")
    (folder / "notes.txt").write_text("X:9\nK:C\nC|\n")  # not .abc: not read
    assert len(read_tunes(folder)) == 3
    with pytest.raises(InputError, match="no tunes"):
        (tmp_path / "none.abc").write_text("T:no number\n")
        read_tunes(tmp_path / "none.abc")


def test_note_lengths_metres_and_default_unit():
    assert length_multiplier("") == 1 and length_multiplier("3") == 3
    assert length_multiplier("/") == Fraction(1, 2) and length_multiplier("//") == Fraction(1, 4)
    assert length_multiplier("3/2") == Fraction(3, 2) and length_multiplier("/4") == Fraction(1, 4)
    assert parse_metre("6/8") == Fraction(3, 4) and parse_metre("C|") == 1
    assert parse_metre("(2+3)/8") == Fraction(5, 8) and parse_metre("none") is None
    assert default_unit(Fraction(2, 4)) == Fraction(1, 16)
    assert default_unit(Fraction(3, 4)) == Fraction(1, 8)


@pytest.mark.parametrize("body, bars, in_metre", [
    ("M:3/4\nL:1/4\nK:C\nC2D|E3|F>G A|(3ABc A|G3|]\n", 5, 5),   # broken rhythm, triplet
    ("M:2/4\nK:C\nC4 D4|E8|\n", 2, 2),                        # no L: under 2/4 -> 1/16
    ("M:4/4\nL:1/8\nK:C\nA2|B8|[CEG]4 c4|[M:3/4]d6|e6|]\n", 5, 5),  # pick-up, chord, M: change
    ("M:4/4\nL:1/8\nK:C\nA8|B7|c8|d6:|\n", 4, 3),                # a short bar mid-tune
    ("M:6/8\nK:D\nA|dcd f2e|[1 gfe d2:|[2 gfe d3||\n", 4, 4),    # endings, section pick-up
    ("M:4/4\nL:1/4\nK:C\nC D/E/ F2|{g}A B z c|C/2C/2C/2C/2 D2|\n", 3, 3),  # grace notes, /2
    ("M:none\nK:C\nCDE|FGABc|\n", 0, 0),
])
def test_bars_against_the_metre(body, bars, in_metre):
    result = check_tune("X:1\n" + body)
    assert result.parsed, result.error
    assert (result.bars, result.bars_in_metre) == (bars, in_metre)


def test_unparseable_tunes_name_the_line():
    assert check_tune("X:1\nM:4/4\nK:C\nCDEF|G&AB|\n").error == "line 4: unexpected '&'"
    assert "K:" in check_tune("X:1\nM:4/4\nCDEF|\n").error
    assert not check_tune("X:1\nM:4/4\nK:C\n\"G CDEF|\n").parsed
    assert not check_tune("X:1\nM:9/0\nK:C\nCDEF|\n").parsed
    totals = check_tunes(["X:1\nM:2/4\nL:1/4\nK:C\nCD|E|FG|\n", "X:2\nK:C\n&\n"])
    assert totals["parsed"] == 1 and totals["parse_share"] == 0.5
    assert (totals["bars"], totals["bars_in_metre"]) == (3, 2)  # E is short, mid-tune
    cut = "X:3\nM:2/4\nL:1/4\nK:C\nCD|\n" + CUT_MARK + "\n"
    assert check_tune(cut).parsed  # a comment line, but the tune never ended:
    assert check_whole_tunes([cut])["parsed"] == 0 and check_whole_tunes([cut])["cut"] == 1


def test_windows_stay_inside_a_tune_and_the_split_is_seeded():
    tunes = [[1, 2, 3, 4, 5], [6, 7, 8]]
    inputs, targets, weights = tune_windows(tunes, 3)
    assert inputs.tolist() == [[1, 2, 3], [4, 0, 0], [6, 7, 0]]
    assert targets.tolist() == [[2, 3, 4], [5, 0, 0], [7, 8, 0]]
    assert weights.sum() == 4 + 2  # every next token scored once, none across tunes
    names = [f"t{i}" for i in range(50)]
    train, dev = split_tunes_for_validation(names, 0.1, 7)
    assert len(dev) == 5 and set(train) | set(dev) == set(names)
    assert split_tunes_for_validation(names, 0.1, 7)[1] == dev
    assert dev != names[-5:]
    assert tune_prompt("M:6/8\\nK:D") == "\nX: 1\nM:6/8\nK:D\n"
    assert tune_prompt("") == "\nX:"


@pytest.mark.integration
def test_train_and_generate_whole_tunes(tmp_path):
    pytest.importorskip("music21")
    tune = "X:{n}\nT:Tune {n}\nM:4/4\nL:1/8\nK:G\nGABc d2B2|c2A2 G4|]\n"
    path = tmp_path / "tunes.abc"
    path.write_text("\n".join(tune.format(n=n) for n in range(1, 41)))
    app = LanguageModelCommands()
    code, _, err = cli(app, "train", "--train", path, "--out", tmp_path / "lm", "--epochs", 10,
                       "--seed", 1, "--set", "encoder.nodes=[48]", "--set", "window=64",
                       "--set", "embedding_dim=16", "--set", "learning_rate=0.02",
                       "--set", "encoder.dropout=0.0", "--batch-size", 8)
    assert code == 0, err
    code, out, err = cli(app, "generate", "--model", tmp_path / "lm", "--count", 2,
                         "--temperature", 0, "--prompt", "M:4/4\\nL:1/8\\nK:G\\n",
                         "--midi", tmp_path / "midi", "--max-length", 300)
    assert code == 0, err
    tunes = split_tunes(out)
    assert [t.text.splitlines()[0] for t in tunes] == ["X: 1", "X: 2"]
    assert all(check_tune(t.text).parsed for t in tunes), out
    assert "2/2 whole tunes parse" in err
    assert sorted(p.name for p in (tmp_path / "midi").iterdir()) == ["tune_001.mid",
                                                                     "tune_002.mid"]
    assert (tmp_path / "midi" / "tune_001.mid").read_bytes()[:4] == b"MThd"
    # MIDI files already there are never replaced.
    code, _, err = cli(app, "generate", "--model", tmp_path / "lm", "--midi", tmp_path / "midi")
    assert code == 2 and "tune_001.mid: exists" in err
    code, out, err = cli(app, "evaluate", "--model", tmp_path / "lm", "--data", path,
                         "--held-out", "--json")
    assert code == 0, err
    assert '"tunes": 4' in out and np.isfinite(float(out.split('"loss": ')[1].split(",")[0]))
    code, _, err = cli(app, "evaluate", "--model", tmp_path / "lm", "--data", path,
                       "--stride", 4)
    assert code == 2 and "tunes are scored window by window" in err, err


def test_tune_runs_refuse_what_cannot_be_held_out_or_windowed(tmp_path):
    tune = "X:{n}\nT:Tune {n}\nM:4/4\nL:1/8\nK:G\nGABc d2B2|c2A2 G4|]\n"
    five, one = tmp_path / "five.abc", tmp_path / "one.abc"
    five.write_text("\n".join(tune.format(n=n) for n in range(1, 6)))
    one.write_text(tune.format(n=1))
    app = LanguageModelCommands()
    # The Transformer's plain-text recipe (an epoch of 250 random windows) does not stop
    # a tune run, and the same command resumes it.
    small = ["--set", 'encoder={"name": "transformer", "width": 16, "num_layers": 1, '
             '"num_heads": 2}', "--set", "window=16", "--batch-size", 4]
    for epochs in (1, 2):
        code, _, err = cli(app, "train", "--train", five, "--out", tmp_path / "lm",
                           "--epochs", epochs, *small)
        assert code == 0, err
    # Five tunes hold none out at 10 %: --held-out says so.
    code, _, err = cli(app, "evaluate", "--model", tmp_path / "lm", "--data", five,
                       "--held-out")
    assert code == 2 and "holds out none of its tunes" in err, err
    for settings, message in ((["--set", "dev_fraction=0.6"], "none is left to train on"),
                              (["--set", "cross_tunes=true", "--set", "dev_fraction=0",
                                "--set", "window=128"], "shorter than one window")):
        code, _, err = cli(app, "train", "--train", one, "--out", tmp_path / "never",
                           *settings)
        assert code == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "never").exists()
