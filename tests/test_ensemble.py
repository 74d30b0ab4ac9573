"""Ensembles of separately trained models (applications.core.ensemble), on the tagger, and the
``--threads`` option that lets members train side by side."""

import json
import subprocess
import sys

import numpy as np
import pytest

from applications.core.base import load_model
from applications.core.config import UsageError
from applications.core.ensemble import Ensemble, build_ensemble
from applications.pos_tagger.model import PosTagger
from data.sequence_batches import TaggingMetadata, stack_examples
from data.tagged_text import read_tagged
from tests.helpers import (REPO, check_ensemble_verb_refusals, cli,
                           load_saved_model_without_package)
# The tagger tests' tiny network and corpus (a module-scoped fixture, written again here).
from tests.test_pos_tagger import APP, TINY, corpus  # noqa: F401


@pytest.fixture(scope="module")
def members(corpus, tmp_path_factory):
    """Two taggers that differ only in their seed."""
    train, dev = corpus
    dirs = []
    for seed in (1, 2):
        out = tmp_path_factory.mktemp("member") / f"seed{seed}"
        code, _, err = cli(APP, "train", "--train", train, "--dev", dev, "--out", out,
                           "--epochs", 2, "--seed", seed, *TINY)
        assert code == 0, err
        dirs.append(out)
    return dirs


@pytest.mark.integration
def test_tagger_ensemble_averages_members_and_serves_like_one(members, corpus, tmp_path):
    _, dev = corpus
    out = tmp_path / "both"
    code, _, err = cli(APP, "ensemble", "--models", *members, "--out", out)
    assert code == 0, err
    record = json.loads((out / "ensemble.json").read_text())
    assert record["members"] == [str(m) for m in members]
    assert [c["seed"] for c in record["member_configs"]] == [1, 2]
    ensemble, singles = load_model(out), [load_model(m) for m in members]
    assert isinstance(ensemble, Ensemble) and len(ensemble.members) == 2

    meta = TaggingMetadata.from_config(ensemble.metadata)
    sentences = read_tagged(dev)[:6]
    x, _ = stack_examples([(meta.encode_tokens(s.tokens), np.zeros(len(s.tokens)))
                           for s in sentences])
    logits = [np.asarray(m(x, training=False)) for m in singles]
    assert np.abs(logits[0] - logits[1]).max() > 1e-3  # the members do differ
    np.testing.assert_allclose(np.asarray(ensemble(x, training=False)),
                               (logits[0] + logits[1]) / 2, atol=1e-5)

    # The shared verbs work on it unchanged, and the export matches predict.
    code, text, err = cli(APP, "evaluate", "--model", out, "--data", dev, "--json")
    assert code == 0, err
    assert json.loads(text)["tokens"] == sum(len(s.tokens) for s in read_tagged(dev))
    sentence = "The old man saw a dog in London ."
    code, text, err = cli(APP, "predict", "--model", out, stdin=sentence + "\n")
    assert code == 0, err
    predicted = [line.split("\t")[1] for line in text.strip().splitlines()]
    assert len(predicted) == 9
    code, _, err = cli(APP, "export", "--model", out, "--out", tmp_path / "export")
    assert code == 0, err
    exported = load_saved_model_without_package(tmp_path / "export", (
        f"out = model.signatures['serve'](sentences=tf.constant([{sentence!r}]))\n"
        "print(json.dumps([t.decode() for t in out['tags'].numpy()[0]]))"))
    assert exported == predicted


@pytest.mark.integration
def test_ensemble_refuses_bad_members(members, tmp_path):
    check_ensemble_verb_refusals(APP, members, tmp_path)

    first, second = load_model(members[0]), load_model(members[1])
    words = first.metadata["words"]
    other_vocab = dict(first.metadata, words=dict(words, items=words["items"][:-1]))
    with pytest.raises(UsageError, match="different vocabulary"):
        build_ensemble([first, PosTagger(first.config, other_vocab)])
    wider = dict(first.config, encoder=dict(first.config["encoder"], filters=[32]))
    with pytest.raises(UsageError, match="encoder differs"):
        build_ensemble([first, PosTagger(wider, first.metadata)], must_match=("encoder",))
    pair = build_ensemble([first, second])
    with pytest.raises(UsageError, match="already an ensemble"):
        build_ensemble([pair, first])


def test_threads_option_limits_tensorflow_pools():
    # A fresh process: the pools can only be sized before TensorFlow's runtime starts.
    script = ("from applications.core.train_run import set_cpu_threads\n"
              "set_cpu_threads(1)\n"
              "import tensorflow as tf\n"
              "t = tf.config.threading\n"
              "print(t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads())")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1", "1"]

    import tensorflow as tf

    from applications.core.train_run import set_cpu_threads

    tf.constant(1.0) + 1.0  # this process's runtime has started
    with pytest.raises(UsageError, match="already started"):
        set_cpu_threads(tf.config.threading.get_intra_op_parallelism_threads() + 3)
    code, _, err = cli(APP, "train", "--out", "unused", "--threads", 0)
    assert code == 2 and err.strip() == "error: --threads must be 1 or more, not 0"
