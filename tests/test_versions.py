"""The tested Keras and Keras Tuner series are checked where private internals are patched."""

import logging
import os
import subprocess
import sys

import keras
import keras_tuner
import pytest

from applications.core import compat
from tests.helpers import REPO


@pytest.fixture
def fresh(monkeypatch, caplog):
    monkeypatch.setattr(compat, "_warned", set())
    caplog.set_level(logging.WARNING, logger="encore")
    return caplog


def test_series_parses_release_and_pre_release_versions():
    assert compat.series("3.15.1") == (3, 15)
    assert compat.series("3.16.0rc1") == (3, 16)
    assert compat.series("1.4.8.dev0") == (1, 4)
    assert compat.series("3") == (3, -1)


@pytest.mark.parametrize("version", ["3.15.0", "3.15.1", "3.15.9"])
def test_tested_keras_series_is_silent(fresh, monkeypatch, version):
    monkeypatch.setattr(keras, "__version__", version)
    assert compat.check_keras() is None
    assert not fresh.records


@pytest.mark.parametrize("version", ["3.16.0", "3.14.2", "4.0.0"])
def test_other_keras_warns_once_in_one_line(fresh, monkeypatch, version):
    monkeypatch.setattr(keras, "__version__", version)
    message = compat.check_keras()
    assert message == (f"keras {version} is untested here: Encore patches its private "
                       "internals and is tested with keras 3.15.x")
    compat.check_keras()  # a second module importing it says nothing more
    assert [r.getMessage() for r in fresh.records] == [message]
    assert "\n" not in message


def test_other_keras_tuner_warns(fresh, monkeypatch):
    monkeypatch.setattr(keras_tuner, "__version__", "1.5.0")
    assert "tested with keras-tuner 1.4.x" in compat.check_keras_tuner()
    assert len(fresh.records) == 1
    monkeypatch.setattr(keras_tuner, "__version__", "1.4.8")
    assert compat.check_keras_tuner() is None


def test_importing_the_patching_modules_checks_the_versions():
    # A fresh Python with newer Keras and Keras Tuner version strings: importing the
    # modules that patch their internals prints one line each on stderr, nothing more.
    script = ("import keras, keras_tuner\n"
              "keras.__version__ = '3.99.0'\n"
              "keras_tuner.__version__ = '1.99.0'\n"
              "import applications.core.base, applications.core.distributed\n"
              "import tuning.tuners, tuning.distributed\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [l for l in result.stderr.splitlines() if "untested here" in l]
    assert lines == [
        "keras 3.99.0 is untested here: Encore patches its private internals and is tested "
        "with keras 3.15.x",
        "keras-tuner 1.99.0 is untested here: Encore patches its private internals and is "
        "tested with keras-tuner 1.4.x"], result.stderr[-2000:]
