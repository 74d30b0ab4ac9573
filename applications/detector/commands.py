"""The detector's part of the shared command line."""

import os

import numpy as np

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from applications.core.optimizers import check_schedule
from applications.detector import boxes as box_ops
from applications.detector.config import DetectorConfig
from applications.detector.model import Detector
from applications.detector.pipeline import (detection_batches, grid_size, read_set,
                                            read_train_and_dev)
from applications.detector.sample_data import CLASSES, sample_sets
from applications.detector.scoring import detection_report
from applications.detector.serving import as_detections, detect_set
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
                                help="also write each image with its boxes drawn as DIR/NAME.png")
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
        paths = _input_images(args.input)
        if args.plot:
            os.makedirs(args.plot, exist_ok=True)
        server = model.serving_module()
        out.write(CSV_HEADER + "\n")
        for start in progress.track(range(0, len(paths), 32), "detecting", total=len(paths),
                                    unit="images", size=lambda s: len(paths[s:s + 32])):
            chunk = paths[start:start + 32]
            sizes = [image_header(p)[0] for p in chunk]  # also refuses non-images by name
            found = _serve_files(server, chunk)
            for path, (width, height), detections in zip(chunk, sizes, found):
                name = os.path.basename(path)
                for d in detections:
                    box = ",".join(f"{v:.1f}" for v in d["box"])
                    out.write(f"{name},{width},{height},{d['class']},{d['score']:.4f},{box}\n")
                if args.plot:
                    from applications.detector.plots import plot_detections

                    image = decode_image_file(path)
                    if image.ndim == 2:
                        image = np.repeat(image[..., None], 3, -1)
                    shown = [d for d in detections if d["score"] >= args.plot_min_score]
                    plot_detections(os.path.join(args.plot, os.path.splitext(name)[0] + ".png"),
                                    image, shown, name)


def _serve_files(server, paths):
    """Detections for image files; a file TensorFlow cannot decode is named in the error."""
    import tensorflow as tf

    data = []
    for path in paths:
        with open(path, "rb") as handle:
            data.append(handle.read())
    try:
        return as_detections(server.serve(tf.constant(data, tf.string)))
    except tf.errors.InvalidArgumentError:
        for path, one in zip(paths, data):
            try:
                server.serve(tf.constant([one], tf.string))
            except tf.errors.InvalidArgumentError:
                raise InputError("cannot decode this image", path) from None
        raise


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
    if config.image_size < 32:
        raise UsageError(f"image_size must be 32 or more, not {config.image_size}")
    for name in ("augment_scale", "augment_jitter", "score_threshold", "iou_threshold"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise UsageError(f"{name} must be in [0, 1), not {getattr(config, name)}")
    if config.max_detections < 1 or (not config.anchors and config.anchor_count < 1):
        raise UsageError("max_detections and anchor_count must be 1 or more")
    if any(len(a) != 2 or min(a) <= 0 for a in config.anchors):
        raise UsageError("anchors must be [width, height] pairs of positive fractions")
