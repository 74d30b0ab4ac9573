"""Language-model training throughput and model FLOPs utilisation (MFU) on this machine.

Trains ``applications.language_model`` exactly as the CLI does (same tf.data windows, the
shared train step) for a fixed number of steps and reports:

- characters (or word tokens) per second over the timed steps, after warm-up steps that
  include tracing;
- the FLOPs of one train step, counted from the matmul sizes: per token and RNN layer
  ``2 * (d_in + h) * gates * h`` (GRU 3 gates, LSTM 4, SimpleRNN 1), plus ``2 * h * V``
  for the output layer; the backward pass is counted as twice the forward, so a train step
  is 3x the forward FLOPs (embeddings, activations and the optimizer are left out);
- the measured matmul peak: the best of several timed float32 ``tf.matmul`` calls on large
  square matrices;
- MFU = step FLOPs / step time / peak.

    python benchmarks/language_model_speed.py --train ../shared/data/tinyshakespeare/input.txt \\
        --steps 30 [--set encoder.nodes=[512] --batch-size 64 ...]
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GATES = {"simple": 1, "gru": 3, "lstm": 4}


def matmul_peak(size=2048, repeats=10):
    """Best observed float32 matmul rate in FLOP/s (one warm-up call first)."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    tf.matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tf.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best


def train_step_flops(config, vocab_size):
    """Matmul FLOPs of one train step (forward + backward = 3x forward)."""
    encoder = config["encoder"]
    gates = GATES[encoder.get("cell", "gru")]
    per_token, d_in = 0, config["embedding_dim"]
    for units in encoder["nodes"]:
        per_token += 2 * (d_in + units) * gates * units
        d_in = units
    per_token += 2 * d_in * vocab_size
    return 3 * per_token * config["batch_size"] * config["window"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", help="UTF-8 text file (default: the embedded corpus)")
    parser.add_argument("--steps", type=int, default=30, help="timed train steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    from applications.core.runtime import configure_process

    configure_process()  # as the command line sets the process up (malloc arenas, quiet TF)

    import keras

    from applications.core.config import load_config
    from applications.language_model.commands import LanguageModelCommands
    from applications.language_model.config import LanguageModelConfig

    app = LanguageModelCommands()
    config = load_config(LanguageModelConfig, None, args.set)
    if args.batch_size:
        config.batch_size = args.batch_size
    config.dev_fraction = 0.0
    keras.utils.set_random_seed(config.seed)
    metadata, train_ds, _ = app.read_training_data(
        argparse.Namespace(train=args.train, dev=None), config)
    model = app.model_class(config.to_dict(), metadata)

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    timer = StepTimer()
    steps = args.warmup + args.steps
    with tempfile.TemporaryDirectory() as out:
        model.train(train_ds.repeat().take(steps), None, out, 1, callbacks=[timer], verbose=0)
    timed = timer.ends[args.warmup - 1:] if args.warmup else timer.ends
    seconds_per_step = (timed[-1] - timed[0]) / (len(timed) - 1)

    vocab_size = len(metadata["vocabulary"]["items"]) + 2
    flops = train_step_flops(config.to_dict(), vocab_size)
    peak = matmul_peak()
    unit = "characters" if config.level == "char" else "tokens"
    print(json.dumps({
        f"{unit}_per_second": round(config.batch_size * config.window / seconds_per_step, 1),
        "seconds_per_step": round(seconds_per_step, 4),
        "train_step_gflops": round(flops / 1e9, 3),
        "achieved_gflops_per_second": round(flops / seconds_per_step / 1e9, 2),
        "matmul_peak_gflops_per_second": round(peak / 1e9, 2),
        "mfu": round(flops / seconds_per_step / peak, 4),
        "batch_size": config.batch_size, "window": config.window,
        "encoder": config.encoder, "vocabulary": vocab_size,
    }, indent=2))


if __name__ == "__main__":
    main()
