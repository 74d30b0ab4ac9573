"""Data-parallel training on this host: 1 worker against 2 workers (MultiWorkerMirroredStrategy).

Trains the POS tagger (default sizes, dropout off so that the two runs can match exactly) on
the embedded sample corpus with the same global batch and seed, three ways, each in its own
processes:

- ``one``:  ``--distribute none`` (Keras ``fit``), TensorFlow's default threads.
- ``two``:  ``--distribute multi_worker``, 2 worker processes on 127.0.0.1, one thread each,
            each computing half of every global batch and all-reducing the gradients.
- ``half``: the same loop as ``two`` with 1 worker, one thread, batch / 2: one worker's own
            work with nothing to exchange.

Prints the per-epoch losses of ``one`` and ``two`` side by side, training throughput
(examples/s, epochs after the first, which pays for tracing), and the communication cost per
step two ways: ``two``'s step time minus ``half``'s, and a direct timing of one all-reduce of
the model's gradients between the two workers.

    python benchmarks/distributed_throughput.py [--epochs 3] [--batch-size 64]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

NO_DROPOUT = ["word_dropout=0", "embedding_dropout=0", "encoder.dropout=0"]


def epoch_timer():
    """A Keras callback timing the training part of each epoch (validation excluded)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self._start = [], None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_test_begin(self, logs=None):
            if self._start is not None:
                self.seconds.append(time.perf_counter() - self._start)
                self._start = None

    return EpochTimer()


def worker(args):
    """One training process; writes a JSON report to ``args.report``."""
    from applications.core.runtime import configure_process

    configure_process()  # as the command line sets the process up (malloc arenas, quiet TF)
    import tensorflow as tf

    if args.one_thread:  # before the runtime starts, as the strategy must be too
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from applications.core.distributed import create_strategy, scope, worker_role

    strategy = create_strategy(args.mode)
    role = worker_role(args.mode)
    import keras

    from applications.core.config import load_config
    from applications.pos_tagger.commands import TaggerCommands
    from applications.pos_tagger.config import TaggerConfig

    app = TaggerCommands()
    config = load_config(TaggerConfig, None, NO_DROPOUT)
    config.epochs, config.patience, config.batch_size = args.epochs, args.epochs + 1, args.batch
    keras.utils.set_random_seed(config.seed)
    from data.epoch_order import EpochOrder

    order = EpochOrder()
    metadata, train_ds, dev_ds = app.read_training_data(
        argparse.Namespace(train=None, dev=None), config, order=order)
    with scope(strategy):
        model = app.model_class(config.to_dict(), metadata)
    timer = epoch_timer()
    history = model.train(train_ds, dev_ds, args.out, args.epochs, callbacks=[timer],
                          verbose=0, strategy=strategy, role=role, order=order)
    report = {"history": history, "seconds": timer.seconds,
              "steps": int(train_ds.cardinality()),
              "examples": int(sum(int(b[1].shape[0]) for b in train_ds)),
              "parameters": int(sum(v.numpy().size for v in model.trainable_variables))}
    if strategy is not None and role.workers > 1:
        report["all_reduce_ms"] = all_reduce_ms(strategy, model)
    if role.chief:
        with open(args.report, "w") as handle:
            json.dump(report, handle)


def all_reduce_ms(strategy, model, repeats=30):
    """Milliseconds for one all-reduce of gradient-shaped tensors, as the optimizer does."""
    import tensorflow as tf

    shapes = [v.shape for v in model.trainable_variables]

    @tf.function
    def exchange():
        def replica():
            grads = [tf.ones(shape) for shape in shapes]
            reduced = tf.distribute.get_replica_context().all_reduce("SUM", grads)
            return tf.add_n([tf.reduce_sum(g) for g in reduced])

        return strategy.reduce("SUM", strategy.run(replica), axis=None)

    for _ in range(3):
        exchange().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        exchange().numpy()
    return 1000 * (time.perf_counter() - start) / repeats


def run(mode, workers, batch, epochs, one_thread):
    """Start ``workers`` processes; returns the chief's report and the wall time."""
    from applications.core.distributed import free_local_ports

    folder = tempfile.mkdtemp(prefix="encore-bench-")
    report = os.path.join(folder, "report.json")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_local_ports(workers)]}
    procs, started = [], time.perf_counter()
    for index in range(workers):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if mode == "multi_worker":
            env["TF_CONFIG"] = json.dumps({"cluster": cluster,
                                           "task": {"type": "worker", "index": index}})
        argv = [sys.executable, os.path.abspath(__file__), "--worker", "--mode", mode,
                "--out", os.path.join(folder, "out"), "--report", report,
                "--batch-size", str(batch), "--epochs", str(epochs)]
        procs.append(subprocess.Popen(argv + (["--one-thread"] if one_thread else []),
                                      cwd=REPO, env=env, stderr=subprocess.PIPE, text=True))
    errors = [proc.communicate()[1] for proc in procs]
    if any(proc.returncode for proc in procs):
        sys.exit(f"{mode} x{workers} failed:\n" + "\n".join(e[-2000:] for e in errors))
    with open(report) as handle:
        return json.load(handle), time.perf_counter() - started


def per_step_ms(report):
    seconds = report["seconds"][1:] or report["seconds"]  # epoch 1 pays for tracing
    return 1000 * sum(seconds) / (len(seconds) * report["steps"])


def examples_per_second(report):
    seconds = report["seconds"][1:] or report["seconds"]
    return report["examples"] * len(seconds) / sum(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="none", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    parser.add_argument("--one-thread", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.batch = args.batch_size
    if args.worker:
        return worker(args)

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    one, one_wall = run("none", 1, args.batch, args.epochs, one_thread=False)
    two, two_wall = run("multi_worker", 2, args.batch, args.epochs, one_thread=True)
    half, half_wall = run("multi_worker", 1, args.batch // 2, args.epochs, one_thread=True)
    print(f"tagger, default sizes, {one['parameters']:,} parameters; sample corpus "
          f"{one['examples']} sentences, global batch {args.batch}, {one['steps']} steps/epoch")
    print("\nepoch  loss 1 worker   loss 2 workers  rel.diff   val_loss 1     val_loss 2")
    for epoch, (a, b) in enumerate(zip(one["history"]["loss"], two["history"]["loss"])):
        va, vb = one["history"]["val_loss"][epoch], two["history"]["val_loss"][epoch]
        print(f"{epoch + 1:>5}  {a:.9f}    {b:.9f}     {abs(a - b) / abs(a):.1e}    "
              f"{va:.9f}    {vb:.9f}")
    print("\nrun                                   ms/step  examples/s  wall s")
    for name, report, wall in [("1 worker, fit, default threads", one, one_wall),
                               ("2 workers, 1 thread each", two, two_wall),
                               ("1 worker, 1 thread, batch / 2", half, half_wall)]:
        print(f"{name:<36} {per_step_ms(report):>8.1f}  {examples_per_second(report):>10.0f}"
              f"  {wall:>6.0f}")
    speed = examples_per_second(two) / examples_per_second(one)
    # One worker's own work in a 2-worker step: half of that step's examples, at the
    # single-thread rate of the run that had nothing to exchange.
    own_ms = 1000 * (two["examples"] / two["steps"] / 2) / examples_per_second(half)
    gap = per_step_ms(two) - own_ms
    print(f"\n2 workers / 1 worker throughput: {speed:.2f}x")
    print(f"communication + synchronisation per step, from step times: {per_step_ms(two):.1f} "
          f"ms per 2-worker step - {own_ms:.1f} ms of one worker's own half = {gap:.1f} ms "
          f"({gap / per_step_ms(two):.0%} of the step)")
    print(f"one all-reduce of the gradients ({4 * two['parameters'] / 1e6:.2f} MB float32) "
          f"between the 2 workers, timed alone: {two['all_reduce_ms']:.1f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
