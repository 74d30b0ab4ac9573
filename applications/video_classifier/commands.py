"""The video classifier's part of the shared command line."""

import os

import numpy as np

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from applications.core.evaluation import UNSEEN_ID, warn_unseen
from applications.core.image_inputs import check_image_size
from applications.core.optimizers import check_schedule
from applications.core.file_targets import check_report_target
from applications.video_classifier.config import VideoClassifierConfig
from applications.video_classifier.model import VideoClassifier
from applications.video_classifier.pipeline import (SAMPLES, batches, check_dev_labels,
                                                    in_memory_set, metadata_from,
                                                    read_options, read_train_and_dev,
                                                    targets)
from applications.video_classifier.sample_data import sample_sets
from applications.video_classifier.serving import classify_batches, clip_results
from data.files import atomic_write_json
from data.video_sets import read_video_set

EVAL_BATCH = 32
UNSEEN = UNSEEN_ID - 1  # -1 already marks an unlabelled frame


class VideoClassifierCommands(AppCommands):
    """``train | evaluate | predict | export`` for clips: video files, frame folders, arrays.

    Example:
        >>> from applications.core.cli import main
        >>> main(VideoClassifierCommands(), ["train", "--out", "runs/squares"])  # doctest: +SKIP
        0
    """

    name = "video_classifier"
    config_class = VideoClassifierConfig
    model_class = VideoClassifier

    def add_arguments(self, verb, parser):
        label_help = ("CSV of clip,label or clip,frame,label rows (not needed for an .npz "
                      "with labels or for class folders)")
        if verb == "train":
            parser.add_argument("--labels", help="labels of --train: " + label_help)
            parser.add_argument("--dev-labels", help="labels of --dev: " + label_help)
        if verb == "evaluate":
            parser.add_argument("--labels", help="labels of --data: " + label_help)
            parser.add_argument("--report", metavar="DIR",
                                help="where evaluation.json and confusion_matrix.png go "
                                     "(default: the model's directory)")

    def read_training_data(self, args, config, metadata=None, order=None):
        check_schedule(config)
        for name in ("augment_translation", "augment_brightness", "dropout"):
            if not 0.0 <= getattr(config, name) < 1.0:
                raise UsageError(f"{name} must be in [0, 1), not {getattr(config, name)}")
        check_image_size(config.frame_size, "frame_size")
        if config.channels not in (0, 1, 3):
            raise UsageError(f"channels must be 1, 3 or 0 (from the data), not "
                             f"{config.channels}")
        if config.frames < 0 or config.fps < 0:
            raise UsageError(f"frames and fps must be 0 (all, the file's rate) or more, not "
                             f"{config.frames} and {config.fps}")
        with progress.stage(f"reading {progress.file_label(args.train or SAMPLES)}",
                            unit="clips") as step:
            train, dev = read_train_and_dev(args, config, metadata)
            step.count = len(train) + (0 if dev is None else len(dev))
        meta = metadata or metadata_from(train, None if args.dev else dev)
        if dev is not None:
            check_dev_labels(dev, meta)
        train_ds = batches(train, meta, config.batch_size, shuffle=True, seed=config.seed,
                           order=order)
        dev_ds = None if dev is None else batches(dev, meta, max(config.batch_size, EVAL_BATCH))
        return meta, train_ds, dev_ds

    def evaluate(self, model, args):
        from applications.video_classifier.plots import plot_confusion_matrices

        meta = model.metadata
        videos = evaluation_set(args, model)
        frame_truth, clip_truth = targets(videos, meta, unseen=UNSEEN)
        frame_pred, clip_pred = [], []
        label = f"classifying {progress.file_label(videos.path)}"
        served = classify_batches(model.serving_module().classify_clips,
                                  batches(videos, meta, EVAL_BATCH, labelled=False))
        for lengths, out in progress.track(served, label, total=len(videos), unit="clips",
                                           size=lambda part: len(part[0])):
            if "frame_probabilities" in out:
                frame_pred.extend(row for row in out["frame_probabilities"].argmax(-1))
            if "clip_probabilities" in out:
                clip_pred.extend(out["clip_probabilities"].argmax(-1))
        results, matrices = {"examples": len(videos)}, {}
        if frame_truth is not None:
            width = frame_truth.shape[1]
            predicted = np.stack([np.pad(p[:width], (0, max(0, width - len(p))),
                                         constant_values=-1) for p in frame_pred])
            keep = frame_truth != -1  # labelled frames; an unseen label counts as an error
            matrices["frame"] = _scores(results, "frame", frame_truth[keep], predicted[keep],
                                        len(meta["frame_labels"]))
        if clip_truth is not None:
            matrices["clip"] = _scores(results, "clip", clip_truth, np.asarray(clip_pred),
                                       len(meta["clip_labels"]))
        if not matrices:
            raise UsageError(f"{videos.path}: no labels this model predicts")
        _warn_unseen(videos, meta, results)
        report = args.report or args.model
        json_path = os.path.join(report, "evaluation.json")
        check_report_target(json_path)
        png_path = os.path.join(report, "confusion_matrix.png")
        plot_confusion_matrices(png_path, {head: (matrix, meta[f"{head}_labels"])
                                           for head, matrix in matrices.items()}, videos.path)
        atomic_write_json(json_path, {**results, "data": videos.path,
                                      "confusion_matrices": {k: v.tolist()
                                                             for k, v in matrices.items()}})
        return {**results, "report": json_path, "confusion_matrix_png": png_path}

    def predict(self, model, args, out):
        meta = model.metadata
        if args.input == "-":
            raise UsageError("predict --input needs a clip file or folder (not stdin)")
        videos = read_video_set(args.input, require_labels=False,
                                **read_options(model.config, meta))
        out.write("clip,frame,label,probability\n")
        served = classify_batches(model.serving_module().classify_clips,
                                  batches(videos, meta, EVAL_BATCH, labelled=False))
        index = 0
        for lengths, batch in progress.track(served, f"classifying {args.input}",
                                             total=len(videos), unit="clips",
                                             size=lambda part: len(part[0])):
            for i, result in enumerate(clip_results(lengths, batch)):
                name = videos.names[index]
                index += 1
                if "clip_label" in result:
                    out.write(f"{name},,{result['clip_label']},"
                              f"{result['clip_probability']:.6f}\n")
                for t, label in enumerate(result.get("frame_labels", [])):
                    p = float(batch["frame_probabilities"][i, t].max())
                    out.write(f"{name},{t},{label},{p:.6f}\n")


def evaluation_set(args, model):
    """The labelled clips ``evaluate`` scores: ``--data`` (+ ``--labels``) or the samples."""
    if args.data:
        return read_video_set(args.data, args.labels, **read_options(model.config,
                                                                     model.metadata))
    if args.labels:
        raise UsageError("--labels goes with --data")
    if model.metadata["max_frames"] > 8 or model.metadata["height"] != 16:
        raise UsageError("evaluate needs --data: this model was not trained on the embedded "
                         "sample clips")
    return in_memory_set(*sample_sets()[1], name=SAMPLES + " (dev)")


def _scores(results, head, truth, predicted, classes):
    """Add ``{head}_accuracy``, ``{head}_macro_f1`` and counts; return the confusion matrix
    (of the labels the model knows: an unseen one is an error, outside the matrix)."""
    matrix = np.zeros((classes, classes), np.int64)
    known = truth >= 0
    np.add.at(matrix, (truth[known], predicted[known]), 1)
    recall = np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)
    precision = np.diag(matrix) / np.maximum(matrix.sum(axis=0), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    results[f"{head}_accuracy"] = float((truth == predicted).mean()) if len(truth) else 0.0
    results[f"{head}_macro_f1"] = float(f1.mean())
    results[f"{head}_examples"] = int(len(truth))
    return matrix


def _warn_unseen(videos, meta, results):
    """Count (in ``unseen_labels``) and name the labels the model never saw in training."""
    seen = {"frame": set(meta["frame_labels"]), "clip": set(meta["clip_labels"])}
    given = {"frame": [l for row in videos.frame_labels or [] for l in row if l],
             "clip": list(videos.clip_labels or [])}
    count, names = 0, set()
    for head in ("frame", "clip"):
        if seen[head]:
            unseen = [l for l in given[head] if l not in seen[head]]
            count += len(unseen)
            names.update(unseen)
    results["unseen_labels"] = count
    warn_unseen(videos.path, count, "label", "label", sorted(names))
