"""The ``encore`` command (and ``python -m applications``): one launcher for every application."""

import os
import shutil
import subprocess
import sys

import pytest

from applications.core.registry import application_names
from applications.main import main, overview
from tests.helpers import REPO

SEVEN = ("pos_tagger", "text_classifier", "language_model", "anomaly_detector",
         "image_classifier", "autoencoder", "translator")
# The verb each application adds to the shared five.
EXTRA = {"pos_tagger": ["ensemble", "attention"], "text_classifier": ["ensemble", "attention"],
         "anomaly_detector": ["detect"], "language_model": ["generate", "inspect", "attention"],
         "translator": ["translate", "attention"], "autoencoder": ["encode"]}


def run(command, *argv):
    """Run ``command`` (a list) with ``argv`` as a user would; returns the CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([*command, *argv], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)


def test_applications_are_found_from_the_package():
    names = application_names()
    assert set(SEVEN) <= set(names) and "core" not in names, names


def test_encore_help_lists_every_application_and_its_verbs():
    encore = shutil.which("encore")
    if encore is None:
        pytest.skip("the encore script is not installed (pip install -e .)")
    result = run([encore], "--help")
    assert result.returncode == 0, result.stderr
    # TensorFlow's start-up lines stay off the terminal.
    assert result.stderr == "", result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "usage: encore APPLICATION VERB [options]"
    for name in SEVEN:
        row = next(line.split() for line in lines if line.split()[:1] == [name])
        assert row[1:] == ["train", "evaluate", "predict", "export", "tune",
                           *EXTRA.get(name, [])], row


def test_application_help_lists_its_verbs(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["pos_tagger", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: encore pos_tagger ")
    assert "{train,evaluate,predict,export,tune,ensemble,attention}" in out, out
    with pytest.raises(SystemExit):
        main(["anomaly_detector", "tune", "--help"])
    assert "--max-trials" in capsys.readouterr().out


def test_overview_matches_the_command_line():
    text = overview("python -m applications")
    assert text.startswith("usage: python -m applications APPLICATION VERB")
    assert all(f"  {name} " in text for name in SEVEN)


def test_unknown_application_is_one_line_and_exit_2():
    result = run([sys.executable, "-m", "applications"], "no_such_app", "train")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: unknown application 'no_such_app'; known: {', '.join(application_names())}"]
    assert result.stdout == ""


def test_no_arguments_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("usage: encore APPLICATION VERB")
