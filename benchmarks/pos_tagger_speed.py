"""Tagger training speed: Encore's pipeline against a plain Keras ``fit`` script.

Both train the same architecture (word embedding + per-word character encoder + 2-layer
BiLSTM + softmax, sizes from the default TaggerConfig) for the same number of epochs on the
same corpus, each in its own process so peak memory is measured separately.

- ours:  ``applications.pos_tagger`` as the CLI runs it (tf.data, length buckets, sparse
         labels, prefetch, the shared train step).
- plain: a functional Keras model fed shuffled batches padded to each batch's longest
         sentence with one-hot targets (the notes' "load all batches"), ``model.fit``.

Reports real (non-padding) tokens per second, dev accuracy after the last epoch and peak RSS.

    python benchmarks/pos_tagger_speed.py --train ../shared/data/ud_english_ewt/train.conllu \\
        --dev ../shared/data/ud_english_ewt/dev.conllu --epochs 3
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(args, config_overrides):
    import tempfile

    from applications.core.config import load_config
    from applications.pos_tagger.commands import TaggerCommands
    from applications.pos_tagger.config import TaggerConfig

    app = TaggerCommands()
    config = load_config(TaggerConfig, None, config_overrides)
    config.epochs, config.patience = args.epochs, args.epochs + 1
    ns = argparse.Namespace(train=args.train, dev=args.dev)
    import keras

    keras.utils.set_random_seed(config.seed)
    from data.epoch_order import EpochOrder

    order = EpochOrder()
    metadata, train_ds, dev_ds = app.read_training_data(ns, config, order=order)
    model = app.model_class(config.to_dict(), metadata)
    tokens = sum(float(w.numpy().sum()) for _, _, w in train_ds)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        history = model.train(train_ds, dev_ds, out, config.epochs, verbose=0, order=order)
        seconds = time.perf_counter() - start
    return {"tokens_per_second": tokens * args.epochs / seconds, "seconds": seconds,
            "dev_accuracy": history["val_accuracy"][-1], "peak_rss_mb": peak_rss_mb()}


def run_plain(args, config_overrides):
    """A plain Keras script: functional model, Python batches padded per batch, one-hot Y."""
    import keras

    from applications.core.config import load_config
    from applications.pos_tagger.config import TaggerConfig
    from data import TaggingMetadata, encode_sentences, load_all_batches, read_tagged

    config = load_config(TaggerConfig, None, config_overrides)
    keras.utils.set_random_seed(config.seed)
    train = read_tagged(args.train)
    meta = TaggingMetadata.from_sentences(train)
    train_ex = encode_sentences(train, meta)
    dev_ex = encode_sentences(read_tagged(args.dev), meta)
    num_tags = len(meta.tags)

    class Batches(keras.utils.PyDataset):
        def __init__(self, examples, shuffle, epoch_seed=0):
            super().__init__()
            self.examples, self.shuffle, self.epoch = examples, shuffle, epoch_seed
            self.batches = list(load_all_batches(examples, config.batch_size, num_tags,
                                                 shuffle, self.epoch))

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, i):
            x, y = self.batches[i]
            return x, y, (x["words"] > 0).astype("float32")

        def on_epoch_end(self):
            if self.shuffle:
                self.epoch += 1
                self.batches = list(load_all_batches(self.examples, config.batch_size,
                                                     num_tags, True, self.epoch))

    L = keras.layers
    enc = config.char_encoder

    class PlainTagger(keras.Model):
        """The same network written as a plain Keras model, no Encore code."""

        def __init__(self):
            super().__init__()
            self.words = L.Embedding(len(meta.words), config.word_dim)
            self.chars = L.Embedding(len(meta.chars), config.char_dim)
            if enc["name"] == "rnn":
                rnn = {"lstm": L.LSTM, "gru": L.GRU, "simple": L.SimpleRNN}[enc["cell"]]
                self.char_layers = [L.Bidirectional(rnn(enc["nodes"][-1]))]
            else:
                self.char_layers = [L.Conv1D(enc["filters"][-1], k, padding="same",
                                             activation="relu") for k in enc["kernel_sizes"]]
            self.drop = L.Dropout(config.embedding_dropout)
            self.lstms = [L.Bidirectional(L.LSTM(n, return_sequences=True))
                          for n in config.encoder["nodes"]]
            self.lstm_drop = L.Dropout(config.encoder["dropout"])
            self.out = L.Dense(num_tags, activation="softmax")

        def call(self, x, training=False):
            ops = keras.ops
            words, chars = x["words"], x["chars"]
            shape = ops.shape(chars)
            flat = ops.reshape(chars, (-1, shape[2]))
            c = self.chars(flat)
            if enc["name"] == "rnn":
                c = self.char_layers[0](c, mask=flat > 0)
            else:
                c = ops.max(ops.concatenate([conv(c) for conv in self.char_layers], -1), axis=1)
            c = ops.reshape(c, (shape[0], shape[1], -1))
            h = self.drop(ops.concatenate([self.words(words), c], -1), training=training)
            for lstm in self.lstms:
                h = self.lstm_drop(lstm(h, mask=words > 0, training=training), training=training)
            return self.out(h)

    model = PlainTagger()
    model.compile(keras.optimizers.Adam(config.learning_rate, global_clipnorm=config.clipnorm),
                  "categorical_crossentropy", weighted_metrics=["categorical_accuracy"])
    train_data = Batches(train_ex, shuffle=True)
    model(train_data[0][0])  # subclassed: build the variables eagerly before fit traces it
    tokens = sum(len(labels) for _, labels in train_ex)
    start = time.perf_counter()
    history = model.fit(train_data, epochs=args.epochs, verbose=0,
                        validation_data=Batches(dev_ex, shuffle=False))
    seconds = time.perf_counter() - start
    return {"tokens_per_second": tokens * args.epochs / seconds, "seconds": seconds,
            "dev_accuracy": history.history["val_categorical_accuracy"][-1],
            "peak_rss_mb": peak_rss_mb()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--dev", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--mode", choices=["ours", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        from applications.core.runtime import configure_process

        configure_process()  # as the command line sets the process up (malloc arenas, quiet TF)
        result = (run_ours if args.mode == "ours" else run_plain)(args, args.set)
        print(json.dumps(result))
        return
    results = {}
    for mode in ("ours", "plain"):
        cmd = [sys.executable, __file__, "--mode", mode, "--train", args.train, "--dev", args.dev,
               "--epochs", str(args.epochs)] + [a for s in args.set for a in ("--set", s)]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if proc.returncode != 0:
            sys.exit(f"{mode} run failed:\n{proc.stderr[-3000:]}")
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{mode:>5}: {results[mode]['tokens_per_second']:8.0f} real tokens/s  "
              f"dev acc {results[mode]['dev_accuracy']:.4f}  "
              f"peak RSS {results[mode]['peak_rss_mb']:.0f} MB  "
              f"({results[mode]['seconds']:.0f} s)", flush=True)
    ratio = results["ours"]["tokens_per_second"] / results["plain"]["tokens_per_second"]
    print(f"speed-up: {ratio:.2f}x")
    print(json.dumps({"epochs": args.epochs, "ratio": ratio, **results}))


if __name__ == "__main__":
    main()
