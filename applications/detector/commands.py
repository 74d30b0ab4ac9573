"""The detector's part of the shared command line."""

import csv
import os

import numpy as np

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from applications.core.image_inputs import check_image_side
from applications.core.optimizers import check_schedule
from applications.core.outputs import make_folder
from applications.detector import boxes as box_ops
from applications.detector.config import DetectorConfig
from applications.detector.model import Detector
from applications.detector.pipeline import (detection_batches, grid_size, read_set,
                                            read_train_and_dev)
from applications.detector.sample_data import CLASSES, sample_sets
from applications.detector.scoring import detection_report
from applications.detector.serving import detect_set, detections_in_files
from data.errors import InputError
from data.image_files import IMAGE_SUFFIXES, decode_image_file, image_files, image_header

CSV_HEADER = "filename,width,height,class,score,xmin,ymin,xmax,ymax"


class DetectorCommands(AppCommands):
    """``train | evaluate | predict | export`` for box-annotated images.

    ``--train`` / ``--dev`` / ``--data`` take a box CSV file or a folder of PASCAL VOC XML
    files; ``--images`` is the folder the annotations' file names point into.

    Example:
        >>> from applications.core.cli import main
        >>> main(DetectorCommands(), ["train", "--out", "runs/shapes"])  # doctest: +SKIP
        0
    """

    name = "detector"
    config_class = DetectorConfig
    model_class = Detector

    def add_arguments(self, verb, parser):
        if verb in ("train", "evaluate"):
            parser.add_argument("--images", help="folder of the annotated images (default: "
                                "the 'images' folder beside the annotations)")
        if verb == "predict":
            parser.add_argument("--plot", metavar="DIR",
                                help="also write each image with its boxes drawn as "
                                     "DIR/NAME, NAME its path under --input (.png added "
                                     "to other kinds)")
            parser.add_argument("--plot-min-score", type=float, default=0.25, metavar="S",
                                help="draw only boxes scoring at least S (default 0.25; the "
                                     "CSV lists every box above the model's score_threshold)")

    def read_training_data(self, args, config, metadata=None, order=None):
        _check_options(config)
        train, dev, names = read_train_and_dev(args, config, metadata)
        self.train_images = train.images  # for the batch-norm pass after training
        grid = grid_size(config)
        if metadata is None:
            anchors = config.anchors or box_ops.anchor_shapes(
                train.boxes, train.classes, config.anchor_count, config.seed)
            metadata = {"class_names": names, "anchors": anchors, "grid": grid,
                        "max_boxes": int(train.boxes.shape[1]), "train_examples": len(train)}
        anchors = metadata["anchors"]
        train_ds = detection_batches(train, config, grid, anchors, True, order)
        dev_ds = None if dev is None else detection_batches(dev, config, grid, anchors, False)
        return metadata, train_ds, dev_ds

    def after_training(self, model, args, config):
        """Recompute the batch-norm statistics on the un-augmented training images
        (:meth:`Detector.recalibrate_batch_norm`) and save the model again."""
        with progress.stage("batch-norm statistics", unit="images") as step:
            model.recalibrate_batch_norm(self.train_images)
            step.count = len(self.train_images)
        model.save_to(args.out)
        return {"batch_norm_images": int(len(self.train_images))}

    def evaluate(self, model, args):
        names = model.class_names
        size = model.config["image_size"]
        if args.data:
            data, _, _ = read_set(args.data, args.images, size, names)
        else:
            if list(names) != list(CLASSES):
                raise UsageError("evaluate needs --data: this model was not trained on the "
                                 "embedded scenes")
            data = sample_sets(size)[1]
        server = model.serving_module()
        with progress.stage(f"detecting in {progress.file_label(args.data or 'samples')}",
                            unit="images") as step:
            boxes, scores, ids, count = detect_set(server.detect_pixels, data.images,
                                                   data.sizes)
            step.count = len(data)
        truth = [data.pixel_boxes(i) for i in range(len(data))]
        found = [(boxes[i, :count[i]], scores[i, :count[i]], ids[i, :count[i]])
                 for i in range(len(data))]
        return {**detection_report(truth, found, names), "data": args.data or "samples"}

    def predict(self, model, args, out):
        if args.plot:  # refused before any work when a file stands in the way
            make_folder(args.plot, "--plot")
        paths = _input_images(args.input)
        # Files are named by their path under --input, so two folders' x.png stay apart.
        root = args.input if os.path.isdir(args.input) else os.path.dirname(args.input)
        names = [os.path.relpath(p, root).replace(os.sep, "/") for p in paths]
        server = model.serving_module()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER.split(","))
        for start in progress.track(range(0, len(paths), 32), "detecting", total=len(paths),
                                    unit="images", size=lambda s: len(paths[s:s + 32])):
            chunk = paths[start:start + 32]
            sizes = [image_header(p)[0] for p in chunk]  # also refuses non-images by name
            found = detections_in_files(server.serve, chunk)
            for path, name, (width, height), detections in zip(chunk, names[start:], sizes,
                                                               found):
                for d in detections:
                    writer.writerow([name, width, height, d["class"], f"{d['score']:.4f}",
                                     *(f"{v:.1f}" for v in d["box"])])
                if args.plot:
                    _plot(args, path, name, detections)


def _plot(args, path, name, detections):
    """``--plot DIR``: the image with its boxes at ``DIR/<name>`` (``.png`` added to other
    kinds, so ``y.jpg`` and ``y.png`` get a plot each)."""
    from applications.detector.plots import plot_detections

    target = os.path.join(args.plot, name if name.lower().endswith(".png") else name + ".png")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    image = decode_image_file(path)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, -1)
    shown = [d for d in detections if d["score"] >= args.plot_min_score]
    plot_detections(target, image, shown, name)


def _input_images(path):
    if path == "-":
        raise UsageError("predict needs --input: an image file or a folder of images")
    if os.path.isdir(path):
        found = image_files(path)
        if not found:
            raise InputError("no PNG or JPEG images in this folder", path)
        return found
    if not os.path.exists(path):
        raise InputError("no such file", path)
    if not path.lower().endswith(IMAGE_SUFFIXES + (".gif", ".bmp")):
        raise UsageError(f"--input {path}: expected an image file or a folder of images")
    return [path]


def _check_options(config):
    check_schedule(config)
    check_image_side(config.image_size, "image_size", smallest=32)
    for name in ("augment_scale", "augment_jitter", "score_threshold", "iou_threshold"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise UsageError(f"{name} must be in [0, 1), not {getattr(config, name)}")
    if config.max_detections < 1 or (not config.anchors and config.anchor_count < 1):
        raise UsageError("max_detections and anchor_count must be 1 or more")
    if not isinstance(config.anchors, list) or not all(
            isinstance(a, list) and len(a) == 2 and all(_positive(v) for v in a)
            for a in config.anchors):
        raise UsageError("anchors must be [width, height] pairs of positive fractions, not "
                         f"{config.anchors!r}")


def _positive(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
