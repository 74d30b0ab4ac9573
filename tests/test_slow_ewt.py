"""Full-size tagger run on UD English EWT (needs ../shared/data; about 9 minutes)."""

import json
import os

import pytest

from tests.helpers import REPO, cli_subprocess

EWT = os.path.join(os.path.dirname(REPO), "shared", "data", "ud_english_ewt")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,  # trains through the command line
    pytest.mark.skipif(not os.path.isdir(EWT), reason="../shared/data/ud_english_ewt missing"),
]


def test_ewt_upos_accuracy(tmp_path):
    out = tmp_path / "ewt"
    train = cli_subprocess("pos_tagger", "train", "--train", f"{EWT}/train.conllu",
                           "--dev", f"{EWT}/dev.conllu", "--out", out, "--epochs", 30,
                           "--set", "time_budget_minutes=9")
    assert train.returncode == 0, train.stderr[-2000:]
    result = cli_subprocess("pos_tagger", "evaluate", "--model", out, "--data",
                            f"{EWT}/dev.conllu", "--json")
    scores = json.loads(result.stdout)
    # Regression floor at the level measured here (94.7 %); the goal is 95.5 %.
    assert scores["accuracy"] >= 0.94, scores
