"""The image classifier's part of the shared command line, and transfer learning."""

import itertools
import os
import sys

import numpy as np

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from applications.core.evaluation import UNSEEN_ID, warn_unseen
from applications.core.image_inputs import add_image_data_arguments
from applications.core.file_targets import check_report_target
from applications.core.optimizers import check_schedule
from applications.image_classifier.config import FLIPS, ImageClassifierConfig
from applications.image_classifier.model import ImageClassifier
from applications.image_classifier.pipeline import (ImageMetadata, class_batches,
                                                    evaluation_data, read_train_and_dev)
from data.files import atomic_write_json
from data.image_sets import iter_unlabelled
from encoders.backbones import has_pretrained_weights

CHUNK = 512  # images per serving call


class ImageClassifierCommands(AppCommands):
    """``train | evaluate | predict | export`` for images (IDX, ``.npz`` or class folders).

    Example:
        >>> from applications.core.cli import main
        >>> main(ImageClassifierCommands(), ["train", "--out", "runs/shapes"])  # doctest: +SKIP
        0
    """

    name = "image_classifier"
    config_class = ImageClassifierConfig
    model_class = ImageClassifier

    def add_arguments(self, verb, parser):
        add_image_data_arguments(verb, parser)
        if verb == "train":
            parser.add_argument("--init-from", metavar="MODEL_DIR",
                                help="start from this trained model's encoder (transfer "
                                     "learning); the run uses fine_tune_learning_rate")
            parser.add_argument("--freeze-encoder", action="store_true",
                                help="with --init-from: keep the encoder fixed, train the head")

    def read_training_data(self, args, config, metadata=None, order=None):
        _check_options(config)
        if getattr(args, "init_from", None):
            config.init_from = args.init_from
        if getattr(args, "freeze_encoder", False):
            config.freeze_encoder = True
        if config.freeze_encoder and not (config.init_from
                                          or has_pretrained_weights(config.encoder)):
            raise UsageError("--freeze-encoder needs --init-from MODEL_DIR or an encoder "
                             "backbone with weights (e.g. encoder.weights=imagenet)")
        self.source = None
        shape = None
        if metadata is not None:  # resuming: the input size and classes of the first run
            meta = ImageMetadata.from_config(metadata)
            shape = meta.shape
        elif config.init_from:
            self.source = _load_source(config.init_from)
            config.encoder = dict(self.source.config["encoder"])
            if has_pretrained_weights(config.encoder):
                config.encoder["weights"] = None  # the source's replace them: none to fetch
            if isinstance(self.source, ImageClassifier):
                config.hidden = list(self.source.config["hidden"])
            shape = _shape_of(self.source)
        with progress.stage(f"reading {progress.file_label(args.train or 'samples')}",
                            unit="images") as step:
            train, dev = read_train_and_dev(args, config, shape)
            step.count = len(train.images) + (0 if dev is None else len(dev.images))
        if metadata is None:
            meta = ImageMetadata.from_images(train, config.class_names)
        meta.check_shape(train)
        if dev is not None:
            meta.check_shape(dev)
        train_ds, dev_ds = class_batches(meta, train, dev, config, order)
        return meta.get_config(), train_ds, dev_ds

    def prepare_model(self, model, args, config):
        """Copy the ``--init-from`` model's encoder (and its head, if the classes match)."""
        if self.source is None:
            return
        model(np.zeros((1, *_shape_of(model)), np.uint8))
        copied = _copy_weights(self.source.encoder, model.encoder, config.init_from, "encoder")
        parts = ["encoder"]
        if (isinstance(self.source, ImageClassifier)
                and self.source.metadata["labels"] == model.metadata["labels"]
                and self.source.config["hidden"] == model.config["hidden"]):
            for mine, theirs in zip([*model.hidden, model.head],
                                    [*self.source.hidden, self.source.head]):
                mine.set_weights(theirs.get_weights())
            parts.append("head")
        state = "frozen" if config.freeze_encoder else "trainable"
        print(f"initialised the {' and '.join(parts)} from {config.init_from} ({copied} "
              f"tensors); encoder {state}", file=sys.stderr)
        self.source = None

    def evaluate(self, model, args):
        from applications.image_classifier.plots import confusion_matrix, plot_confusion_matrix

        meta = ImageMetadata.from_config(model.metadata)
        with progress.stage(f"reading {progress.file_label(args.data or 'samples')}",
                            unit="images") as step:
            data = evaluation_data(args, meta)
            step.count = len(data.images)
        truth = meta.encode_labels(data, unseen_id=UNSEEN_ID)
        known = truth != UNSEEN_ID  # an unseen label is a miss, outside the matrix
        probabilities = classify(model.serving_module(), data.images,
                                 f"classifying {progress.file_label(data.path)}")
        predicted = probabilities.argmax(axis=-1)
        matrix = confusion_matrix(truth[known], predicted[known], len(meta.labels))
        per_class = np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)
        precision = np.diag(matrix) / np.maximum(matrix.sum(axis=0), 1)
        f1 = 2 * precision * per_class / np.maximum(precision + per_class, 1e-12)
        results = {
            "accuracy": float((predicted == truth).mean()),
            "examples": int(len(truth)),
            "macro_f1": float(f1.mean()),
            "class_accuracy": {n: float(a) for n, a in zip(meta.class_names, per_class)},
            "unseen_labels": int((~known).sum()),
        }
        warn_unseen(data.path, results["unseen_labels"], "image", "label",
                    sorted({l for l, k in zip(data.labels, known) if not k}, key=str))
        report = args.report or args.model
        json_path = os.path.join(report, "evaluation.json")
        check_report_target(json_path)  # before the plot: nothing is written if refused
        png_path = os.path.join(report, "confusion_matrix.png")
        plot_confusion_matrix(png_path, matrix, meta.class_names,
                              f"{data.path}: accuracy {results['accuracy']:.4f}")
        atomic_write_json(json_path, {**results, "data": data.path,
                                      "confusion_matrix": matrix.tolist(),
                                      "class_names": meta.class_names})
        results["report"] = json_path
        results["confusion_matrix_png"] = png_path
        return results

    def predict(self, model, args, out):
        meta = ImageMetadata.from_config(model.metadata)
        server = model.serving_module()
        # Images are decoded, classified and written a chunk at a time: memory does not
        # grow with their number.
        chunks = iter_unlabelled(args.input, meta, CHUNK)
        first = next(chunks)
        out.write("\t".join(["source", "predicted", *meta.class_names]) + "\n")
        for names, images in progress.track(itertools.chain([first], chunks),
                                            f"classifying {progress.file_label(args.input)}",
                                            unit="images", size=lambda part: len(part[0])):
            probabilities = server.classify_pixels(images)["probabilities"].numpy()
            for name, row in zip(names, probabilities):
                best = meta.class_names[int(row.argmax())]
                out.write("\t".join([name, best, *(f"{p:.6f}" for p in row)]) + "\n")


def classify(server, images, label="classifying"):
    """``[N, K]`` probabilities for uint8 images, in chunks through the serving function
    (progress shown as a stage named ``label``)."""
    starts = range(0, len(images), CHUNK)
    chunks = [server.classify_pixels(images[s:s + CHUNK])["probabilities"].numpy()
              for s in progress.track(starts, label, total=len(images), unit="images",
                                      size=lambda s: len(images[s:s + CHUNK]))]
    return np.concatenate(chunks)


def _check_options(config):
    if config.augment_flip not in FLIPS:
        raise UsageError(f"augment_flip must be one of {', '.join(map(repr, FLIPS))}, "
                         f"not {config.augment_flip!r}")
    if config.test_time_flip and not config.augment_flip:
        raise UsageError("test_time_flip needs augment_flip (the mirror images it averages over)")
    check_schedule(config)
    for name in ("augment_translation", "augment_rotation", "augment_zoom", "dropout"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise UsageError(f"{name} must be in [0, 1), not {getattr(config, name)}")


def _load_source(path):
    from applications.core.base import load_model

    source = load_model(path)
    if not hasattr(source, "encoder") or "encoder" not in source.config:
        raise UsageError(f"--init-from {path}: not an image model with a CNN encoder")
    if source.config["encoder"].get("name") != "cnn":
        raise UsageError(f"--init-from {path}: its encoder is not a CNN_Encoder")
    return source


def _shape_of(model):
    meta = model.metadata
    return (meta["height"], meta["width"], meta["channels"])


def _copy_weights(source, target, path, part):
    theirs, mine = source.get_weights(), target.get_weights()
    shapes = [w.shape for w in theirs], [w.shape for w in mine]
    if shapes[0] != shapes[1]:
        raise UsageError(f"--init-from {path}: its {part} does not fit this model's "
                         f"({len(theirs)} tensors vs {len(mine)})")
    target.set_weights(theirs)
    return len(theirs)
