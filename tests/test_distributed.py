"""``train --distribute``: batch splitting and loss shares in process; real worker processes
on 127.0.0.1 (free ports, one TF_CONFIG each) for 2-vs-1 equality and preemption."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from applications.core.distributed import (free_local_ports, read_tf_config, share_rule,
                                      split_batches, worker_role)
from applications.core.distributed_loop import RESTART_EXIT_CODE
from applications.pos_tagger.commands import TaggerCommands
from applications.pos_tagger.sample_data import generate_sentences, write_two_column
from data.sequence_batches import TaggingMetadata, bucketed_dataset, encode_sentences
from data.tagged_text import TaggedSentence
from tests.helpers import REPO, cli

APP = TaggerCommands()
# Tiny, and without dropout: dropout masks depend on how a batch is split, nothing else does.
TINY = ["--batch-size", 8, "--seed", 3, "--set", "word_dim=16", "--set", "char_dim=8",
        "--set", "learning_rate=0.01", "--set", "word_dropout=0",
        "--set", "embedding_dropout=0",
        "--set", 'encoder={"name": "rnn", "cell": "gru", "nodes": [16], "bidirectional": false}',
        "--set", 'char_encoder={"name": "cnn", "mode": "1d", "filters": [8], '
                  '"kernel_sizes": [3]}']
EPOCHS = 2


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    train, dev = folder / "train.tsv", folder / "dev.tsv"
    write_two_column(generate_sentences(150, seed=21), train)
    write_two_column(generate_sentences(40, seed=22), dev)
    return ["--train", train, "--dev", dev, *TINY]


def start_workers(outs, argv, logs):
    """One ``train --distribute multi_worker`` process per entry of ``outs``."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_local_ports(len(outs))]}
    procs = []
    for index, out in enumerate(outs):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "PYTHONUNBUFFERED": "1",
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        with open(logs / f"w{index}.out", "w") as out_log, \
                open(logs / f"w{index}.err", "w") as err_log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "applications.pos_tagger", "train", "--out", str(out),
                 "--distribute", "multi_worker", "--epochs", str(EPOCHS), *map(str, argv)],
                cwd=REPO, env=env, stdout=out_log, stderr=err_log))
    return procs


def wait_all(procs, logs, timeout=600):
    deadline = time.time() + timeout
    for proc in procs:
        proc.wait(timeout=max(1, deadline - time.time()))
    return [proc.returncode for proc in procs], (logs / "w0.err").read_text()


def losses(out):
    return json.loads((out / "metrics.json").read_text())["history"]


def checkpoint_counters(folder):
    path = tf.train.latest_checkpoint(str(folder))
    read = lambda key: int(tf.train.load_variable(path, f"{key}/.ATTRIBUTES/VARIABLE_VALUE"))
    return {"steps": read("optimizer/_iterations"), "epoch": read("epoch"),
            "batch": read("step")}


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """The same training with 1 worker (``--distribute none``, in this process) and with 2
    worker processes, the latter started first so that the two overlap."""
    folder = tmp_path_factory.mktemp("runs")
    one, two = folder / "one", folder / "two"
    procs = start_workers([two, two], corpus, folder)
    # The workers leave the tagger's default weight averaging out (not supported across
    # workers), so the one-process run does too.
    code, _, err = cli(APP, "train", "--out", one, "--epochs", EPOCHS, *corpus,
                       "--set", "ema_momentum=0")
    codes, worker_err = wait_all(procs, folder)
    assert code == 0, err
    assert codes == [0, 0], worker_err[-3000:]
    assert "weight averaging off" in worker_err
    return one, two


@pytest.fixture(scope="module")
def one_worker(runs):
    return runs[0]


@pytest.fixture(scope="module")
def two_workers(runs):
    return runs[1]


# -- in process: splitting, shares, configuration -------------------------------------------

def _tagged(count, batch_size):
    """``count`` generated sentences as one bucket's global batches of ``batch_size``."""
    sentences = [TaggedSentence([t for t, _ in pairs], [g for _, g in pairs], None)
                 for pairs in generate_sentences(count, seed=5)]
    meta = TaggingMetadata.from_sentences(sentences)
    return bucketed_dataset(encode_sentences(sentences, meta), batch_size, shuffle=False,
                            boundaries=[1000])


@pytest.mark.parametrize("replicas", [2, 3])
def test_every_global_batch_is_split_not_duplicated(replicas):
    global_ds = _tagged(13, 13)
    parts = [list(split_batches(global_ds, replicas, r, 1, "weights")) for r in range(replicas)]
    (features, tags, weights), = list(global_ds)
    pieces = [parts[r][0] for r in range(replicas)]
    rows = [int(p[0][1].shape[0]) for p in pieces]
    assert sum(rows) == 13 and max(rows) - min(rows) <= 1
    np.testing.assert_array_equal(np.concatenate([p[0][1] for p in pieces]), tags)
    np.testing.assert_array_equal(np.concatenate([p[0][0]["words"] for p in pieces]),
                                  features["words"])
    # Each scale is replicas x the replica's share of the real tokens; they add up to replicas.
    scales = [float(p[1]) for p in pieces]
    own = [float(np.sum(p[0][2])) for p in pieces]
    np.testing.assert_allclose(scales, [replicas * w / float(np.sum(weights)) for w in own],
                               rtol=1e-6)
    assert sum(scales) == pytest.approx(replicas)
    # One worker of two local replicas gets the same parts, one after the other.
    local = list(split_batches(global_ds, replicas, 0, 2, "weights"))
    np.testing.assert_array_equal(local[1][0][1], pieces[1][0][1])


def test_batch_smaller_than_replicas_gets_weightless_stand_in():
    ds = _tagged(1, 4)
    pieces = [list(split_batches(ds, 2, r, 1, "weights"))[0] for r in range(2)]
    real, stand_in = sorted(pieces, key=lambda p: -float(p[1]))
    assert float(real[1]) == pytest.approx(2.0) and np.sum(real[0][2]) > 0
    # The replica with no row runs a copy of row 0 that adds no loss and no metric.
    assert stand_in[0][1].shape[0] == 1
    assert float(stand_in[1]) == 0.0 and np.sum(stand_in[0][2]) == 0


def test_share_rule_follows_the_loss_reduction():
    import keras

    class Holder:
        loss = keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")

    assert share_rule(Holder) == "weights"
    Holder.loss = keras.losses.MeanSquaredError()
    assert share_rule(Holder) == "rows"
    Holder.loss = keras.losses.MeanSquaredError(reduction="sum")
    assert share_rule(Holder) == "sum"


def test_tf_config_roles_and_mistakes(monkeypatch, tmp_path):
    cluster = {"worker": ["a:1", "b:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 1}}))
    role = worker_role("multi_worker")
    assert not role.chief and role.workers == 2
    assert role.private_dir("out") == os.path.join("out", "workertemp_worker1")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {**cluster, "chief": ["c:3"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert not worker_role("multi_worker").chief  # a chief job outranks worker 0
    assert worker_role("mirrored").chief and worker_role("none").private_dir("o") == "o"

    from applications.core.config import UsageError

    for bad, words in [("", "needs TF_CONFIG"), ("{", "not valid JSON"),
                       ('{"cluster": {"ps": ["a:1"]}, "task": {}}', "not supported"),
                       ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", '
                        '"index": 3}}', "out of range")]:
        with pytest.raises(UsageError, match=words):
            read_tf_config(bad)
    # Through the command line: one line, exit 2, nothing written.
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a"]}}')
    code, _, err = cli(APP, "train", "--out", tmp_path / "x", "--distribute", "multi_worker")
    assert code == 2 and err.startswith("error: TF_CONFIG") and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()
    # Weight averaging asked for explicitly is refused rather than left out.
    monkeypatch.delenv("TF_CONFIG")
    code, _, err = cli(APP, "train", "--out", tmp_path / "y", "--distribute", "mirrored",
                       "--set", "ema_momentum=0.9")
    assert code == 2 and "ema_momentum is not supported with --distribute" in err
    assert not (tmp_path / "y").exists()
    # An encoder recipe's average is a default: left out, as the application's own.
    from applications.core.config import load_config
    from applications.core.train_run import default_averages
    from applications.language_model.commands import LanguageModelCommands
    from applications.language_model.config import LanguageModelConfig

    transformer = load_config(LanguageModelConfig, None, ['encoder={"name": "transformer"}'])
    assert transformer.ema_momentum in default_averages(LanguageModelCommands(), transformer)
    assert 0.9 not in default_averages(LanguageModelCommands(), transformer)


# -- separate worker processes ----------------------------------------------------------------

@pytest.mark.integration
def test_two_workers_match_one_worker(one_worker, two_workers):
    one, two = losses(one_worker), losses(two_workers)
    assert len(one["loss"]) == len(two["loss"]) == EPOCHS
    for key in ("loss", "val_loss", "accuracy"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, err_msg=key)
    # The chief wrote the application directory; worker 1 only its private checkpoints
    # (and the lock that makes it that folder's one writer).
    assert (two_workers / "model.keras").is_file() and (two_workers / "logs").is_dir()
    private = two_workers / "workertemp_worker1"
    assert sorted(p.name for p in private.iterdir()) == [".encore.lock", "checkpoints",
                                                         "model.keras"]
    steps = checkpoint_counters(two_workers / "checkpoints")["steps"]
    assert checkpoint_counters(private / "checkpoints")["steps"] == steps
    assert steps == checkpoint_counters(one_worker / "checkpoints")["steps"]


@pytest.mark.integration
@pytest.mark.slow
def test_sigterm_mid_epoch_then_restart_counts_every_step_once(corpus, two_workers,
                                                               tmp_path):
    # Separate --out per worker: hosts that share no storage resume from their own copies.
    outs = [tmp_path / "chief", tmp_path / "other"]
    procs = start_workers(outs, corpus, tmp_path)
    log, deadline = tmp_path / "w0.out", time.time() + 600
    while "loss:" not in log.read_text():  # the first epoch has ended
        assert all(p.poll() is None for p in procs), (tmp_path / "w0.err").read_text()[-3000:]
        assert time.time() < deadline, "no epoch ended in 10 minutes"
        time.sleep(0.1)
    procs[1].send_signal(signal.SIGTERM)
    codes, err = wait_all(procs, tmp_path)
    assert codes == [RESTART_EXIT_CODE] * 2, err[-3000:]
    assert "preempted: checkpoint saved at epoch 2, batch " in err
    saved = checkpoint_counters(outs[0] / "checkpoints")
    steps_per_epoch = checkpoint_counters(two_workers / "checkpoints")["steps"] // EPOCHS
    assert saved["epoch"] == 1 and 0 < saved["batch"] < steps_per_epoch
    assert saved["steps"] == steps_per_epoch + saved["batch"]
    private = outs[1] / "workertemp_worker1" / "checkpoints"
    assert checkpoint_counters(private) == saved

    codes, err = wait_all(start_workers(outs, corpus, tmp_path), tmp_path)
    assert codes == [0, 0], err[-3000:]
    final = checkpoint_counters(outs[0] / "checkpoints")
    assert final == {"steps": EPOCHS * steps_per_epoch, "epoch": EPOCHS, "batch": 0}
    assert checkpoint_counters(private) == final
    # The interrupted epoch, finished after the restart, is the uninterrupted run's epoch.
    resumed, whole = losses(outs[0]), losses(two_workers)
    np.testing.assert_allclose(resumed["loss"], whole["loss"][-1:], rtol=1e-6)
    np.testing.assert_allclose(resumed["val_loss"], whole["val_loss"][-1:], rtol=1e-6)


@pytest.mark.integration
@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_worker(corpus, one_worker, tmp_path):
    out = tmp_path / "tagger"
    result = subprocess.run(
        [sys.executable, "-m", "applications.pos_tagger", "train", "--out", str(out),
         "--distribute", "mirrored", "--epochs", str(EPOCHS), *map(str, corpus)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(losses(out)["loss"], losses(one_worker)["loss"], rtol=1e-5)
