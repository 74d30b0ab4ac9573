"""Image classifier training speed: Encore's pipeline against a plain Keras ``fit`` script.

Both train the same network (the default ``ImageClassifierConfig``: augmentation layers,
``CNN_Encoder`` blocks with batch norm, dense head; the parameter counts are printed and
must match) with the same batch size and epochs on the same images, each in its own
process, alternating ours / plain for ``--rounds`` rounds on a shared machine.

- ours:  ``applications.image_classifier`` as the CLI runs it: uint8 images held in memory,
         index shuffling + one gather per batch in ``tf.data``, cast and scale inside the
         model's graph, prefetch, the shared train step, checkpoints and the best model.
- plain: a functional Keras model on the notes' ``x_train.astype("float32") / 255`` arrays,
         ``model.fit(x, y, batch_size, shuffle=True)``.

Reports training images per second (images x epochs / wall time of the training call,
graph tracing included for both), images per CPU-second of the process (steadier than
wall time when other jobs share the machine), peak RSS, and the ratios ours / plain.

    python benchmarks/image_classifier_speed.py \\
        --train ../shared/data/mnist/train-images-idx3-ubyte.gz \\
        --train-labels ../shared/data/mnist/train-labels-idx1-ubyte.gz --epochs 2 --rounds 2
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.pos_tagger_speed import peak_rss_mb  # noqa: E402
MNIST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                     "shared", "data", "mnist")


def load(args):
    """Config, metadata and the (possibly truncated) training images, as the CLI reads them."""
    import numpy as np

    from applications.core.config import load_config
    from applications.image_classifier.config import ImageClassifierConfig
    from applications.image_classifier.pipeline import ImageMetadata
    from data.images import read_images

    config = load_config(ImageClassifierConfig, None, args.set)
    config.epochs, config.patience = args.epochs, args.epochs + 1
    if args.batch_size:
        config.batch_size = args.batch_size
    data = read_images(args.train, args.train_labels)
    if args.limit:
        keep = np.arange(min(args.limit, len(data.images)))
        data = data._replace(images=data.images[keep], labels=[data.labels[i] for i in keep])
    meta = ImageMetadata.from_images(data, config.class_names)
    return config, meta, data


def run_ours(args):
    import tempfile

    import keras

    from applications.image_classifier.model import ImageClassifier
    from data.epoch_order import EpochOrder
    from data.image_batches import image_batches

    config, meta, data = load(args)
    keras.utils.set_random_seed(config.seed)
    order = EpochOrder()
    train_ds = image_batches(data.images, meta.encode_labels(data), config.batch_size,
                             shuffle=True, seed=config.seed, order=order)
    model = ImageClassifier(config.to_dict(), meta.get_config())
    with tempfile.TemporaryDirectory() as out:
        start, cpu = time.perf_counter(), time.process_time()
        history = model.train(train_ds, None, out, config.epochs, verbose=0, order=order)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"images_per_second": len(data.images) * args.epochs / seconds, "seconds": seconds,
            "images_per_cpu_second": len(data.images) * args.epochs / cpu,
            "train_accuracy": history["accuracy"][-1], "parameters": model.count_params(),
            "peak_rss_mb": peak_rss_mb()}


def plain_model(config, meta):
    """The default network as a functional Keras model, written out layer by layer."""
    import keras

    from encoders.cnn_encoder import _DEFAULTS, PRESETS

    L = keras.layers
    enc = {**_DEFAULTS, **PRESETS.get(config.encoder.get("preset"), {}),
           **{k: v for k, v in config.encoder.items() if k not in ("name", "preset")}}
    inputs = keras.Input(meta.shape)
    x = inputs
    if config.augment_flip:
        x = L.RandomFlip(config.augment_flip)(x)
    if config.augment_rotation:
        x = L.RandomRotation(config.augment_rotation, fill_mode="constant")(x)
    if config.augment_zoom:
        x = L.RandomZoom(config.augment_zoom, fill_mode="constant")(x)
    if config.augment_translation:
        t = config.augment_translation
        x = L.RandomTranslation(t, t, fill_mode="constant")(x)
    pads = enc["padding"]
    for i, filters in enumerate(enc["filters"]):
        for j in range(enc["convs_per_block"]):
            x = L.Conv2D(filters, enc["kernel_size"], strides=enc["strides"] if j == 0 else 1,
                         padding=pads if isinstance(pads, str) else pads[i],
                         use_bias=not enc["batch_norm"])(x)
            if enc["batch_norm"]:
                x = L.BatchNormalization()(x)
            x = L.Activation(enc["activation"])(x)
        if enc["pooling"]:
            x = (L.MaxPooling2D if enc["pooling"] == "max" else L.AveragePooling2D)(2)(x)
        x = L.Dropout(enc["dropout"])(x)
    x = {"flatten": L.Flatten(), "global_avg": L.GlobalAveragePooling2D(),
         "global_max": L.GlobalMaxPooling2D()}[enc["summary"]](x)
    for size in enc["dense"]:
        x = L.Dropout(enc["dropout"])(L.Dense(size, activation=enc["activation"])(x))
    if not config.hidden:
        x = L.Dropout(config.dropout)(x)
    for size in config.hidden:
        x = L.Dropout(config.dropout)(L.Dense(size, activation="relu")(x))
    return keras.Model(inputs, L.Dense(len(meta.labels))(x))


def run_plain(args):
    import keras
    import numpy as np

    config, meta, data = load(args)
    keras.utils.set_random_seed(config.seed)
    x_train = data.images.astype("float32") / 255.0
    y_train = meta.encode_labels(data)
    model = plain_model(config, meta)
    steps = int(np.ceil(len(x_train) / config.batch_size)) * config.epochs
    rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
    model.compile(keras.optimizers.Adam(rate, global_clipnorm=config.clipnorm),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start, cpu = time.perf_counter(), time.process_time()
    history = model.fit(x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
                        shuffle=True, verbose=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"images_per_second": len(x_train) * args.epochs / seconds, "seconds": seconds,
            "images_per_cpu_second": len(x_train) * args.epochs / cpu,
            "train_accuracy": history.history["accuracy"][-1],
            "parameters": model.count_params(), "peak_rss_mb": peak_rss_mb()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=os.path.join(MNIST, "train-images-idx3-ubyte.gz"))
    parser.add_argument("--train-labels",
                        default=os.path.join(MNIST, "train-labels-idx1-ubyte.gz"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images")
    parser.add_argument("--rounds", type=int, default=1, help="ours/plain pairs to run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--mode", choices=["ours", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        from applications.core.runtime import configure_process

        configure_process()  # as the command line sets the process up (malloc arenas, quiet TF)
        print(json.dumps((run_ours if args.mode == "ours" else run_plain)(args)))
        return
    results = {"ours": [], "plain": []}
    for round_number in range(args.rounds):
        # Alternate which goes first, so a slow spell on a shared machine hits both.
        for mode in (("ours", "plain") if round_number % 2 == 0 else ("plain", "ours")):
            cmd = [sys.executable, __file__, "--mode", mode, "--train", args.train,
                   "--train-labels", args.train_labels, "--epochs", str(args.epochs),
                   "--limit", str(args.limit)]
            cmd += ["--batch-size", str(args.batch_size)] if args.batch_size else []
            cmd += [a for s in args.set for a in ("--set", s)]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            if proc.returncode != 0:
                sys.exit(f"{mode} run failed:\n{proc.stderr[-3000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            results[mode].append(result)
            print(f"{mode:>5}: {result['images_per_second']:8.0f} images/s  "
                  f"{result['images_per_cpu_second']:6.0f} per CPU-second  "
                  f"train acc {result['train_accuracy']:.4f}  params {result['parameters']}  "
                  f"peak RSS {result['peak_rss_mb']:.0f} MB  ({result['seconds']:.0f} s)",
                  flush=True)

    def ratio(key, pick):
        ours, plain = (pick([r[key] for r in results[m]]) for m in ("ours", "plain"))
        return ours / plain

    summary = {"ratio_best": ratio("images_per_second", max),
               "ratio_mean": ratio("images_per_second", lambda v: sum(v) / len(v)),
               "ratio_per_cpu_second": ratio("images_per_cpu_second", lambda v: sum(v) / len(v))}
    print(f"ratio ours/plain (images/s): best {summary['ratio_best']:.3f}, mean "
          f"{summary['ratio_mean']:.3f}; per CPU-second {summary['ratio_per_cpu_second']:.3f}")
    print(json.dumps({"epochs": args.epochs, **summary, **results}))


if __name__ == "__main__":
    main()
