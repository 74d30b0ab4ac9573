"""The captioner's part of the shared command line."""

import os
import time

import numpy as np

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from applications.core.decoding import (add_decoding_arguments, decoding_options,
                                         valid_decoding)
from applications.core.image_inputs import check_image_size
from applications.core.optimizers import check_schedule
from applications.core.outputs import make_folder
from applications.captioner.config import CaptionerConfig
from applications.captioner.model import Captioner
from applications.captioner.pipeline import (CaptionMetadata, CaptionSet, caption_dataset,
                                             caption_rows, read_captions, read_name_list)
from applications.captioner.sample_data import SAMPLES, sample_sets
from applications.captioner.scoring import caption_scores
from applications.captioner.serving import caption_pixels
from data.errors import InputError
from data.files import iter_lines, source_name
from data.image_files import IMAGE_SUFFIXES, decode_image_file, fit_image, image_files
from data.splits import held_out_split


class CaptionerCommands(AppCommands):
    name = "captioner"
    config_class = CaptionerConfig
    model_class = Captioner

    def add_arguments(self, verb, parser):
        if verb in ("train", "evaluate"):
            parser.add_argument("--images", metavar="DIR", help="the image folder of the "
                                "caption files (default: each caption file's folder)")
        if verb == "train":
            parser.add_argument("--train-list", metavar="FILE", help="train only on these "
                                "images of --train (one name a line, as Flickr_8k.trainImages.txt)")
            parser.add_argument("--dev-list", metavar="FILE", help="dev images: these "
                                "images of --dev, or of --train when there is no --dev")
        if verb == "evaluate":
            parser.add_argument("--list", metavar="FILE",
                                help="score only these images of --data (one name a line)")
        if verb == "predict":
            parser.add_argument("--plot", metavar="DIR", help="write a PNG per image with "
                                "each word's attention over it (DIR/0001.png, ...)")
        if verb in ("evaluate", "predict"):
            add_decoding_arguments(parser, "images")

    def read_training_data(self, args, config, metadata=None, order=None):
        check_options(config)
        meta = None if metadata is None else CaptionMetadata.from_config(metadata)
        shape = None if meta is None else meta.shape
        train_list = args.train_list and read_name_list(args.train_list)
        dev_list = args.dev_list and read_name_list(args.dev_list)
        if (args.train_list or args.dev_list or args.images) and not args.train:
            raise UsageError("--images, --train-list and --dev-list go with --train")
        if args.train:
            train = progress.reading(args.train, "images", read_captions, args.images,
                                     train_list or None, shape, config.image_size or None,
                                     config.channels or None, size=_images)
        else:
            (images, captions), _ = sample_sets()
            train = CaptionSet(images, [f"sample{i}" for i in range(len(images))], captions,
                               SAMPLES)
        shape = train.images.shape[1:]
        dev = None
        if args.dev or dev_list:
            dev = progress.reading(args.dev or args.train, "images", read_captions,
                                   args.images, dev_list or None, shape, size=_images)
        elif config.dev_split > 0 and args.train:
            kept, held = held_out_split(len(train.images), config.dev_split, config.seed)
            progress.held_out(args.train, len(held), len(train.images), "images",
                              config.dev_split, config.seed)
            if len(held):  # a file of a few images may hold out none: no dev then
                train, dev = train.subset(kept), train.subset(held)
        elif not args.train:
            _, (images, captions) = sample_sets()
            dev = CaptionSet(images, [f"dev{i}" for i in range(len(images))], captions, SAMPLES)
        with progress.stage("indexing the training captions", unit="images") as step:
            if meta is None:
                meta = CaptionMetadata.from_captions(
                    [c for captions in train.captions for c in captions], shape, config,
                    len(train.images))
            indices, targets, counts = caption_rows(train, meta, config.max_length)
            step.count = len(train.images)
        if not len(indices):
            raise InputError(f"no caption has 1 to max_length={config.max_length} words",
                             train.path)
        train_ds = caption_dataset(train.images, indices, targets, counts, config.batch_size,
                                   config.captions_per_image, seed=config.seed, order=order)
        dev_ds = None
        if dev is not None:
            dev_rows = caption_rows(dev, meta, config.max_length)
            if len(dev_rows[0]):
                dev_ds = caption_dataset(dev.images, *dev_rows, config.batch_size * 2,
                                         shuffle=False)
        return meta.get_config(), train_ds, dev_ds

    def evaluate(self, model, args):
        meta = CaptionMetadata.from_config(model.metadata)
        if args.data:
            keep = read_name_list(args.list) if args.list else None
            data = progress.reading(args.data, "images", read_captions, args.images, keep,
                                    meta.shape, size=_images)
        else:
            if args.list or args.images:
                raise UsageError("--images and --list go with --data")
            _, (images, captions) = sample_sets()
            if images.shape[1:] != meta.shape:
                raise UsageError("evaluate needs --data: this model was not trained on the "
                                 "embedded canvases")
            data = CaptionSet(images, [], captions, SAMPLES)
        beam, alpha = decoding_options(args, model.config)
        run = model.serving_module().captioner(beam, alpha)
        run(data.images[:1])  # tracing is not decoding time
        started = time.perf_counter()
        hypotheses = caption_pixels(run, data.images, args.batch_size)["captions"]
        seconds = time.perf_counter() - started
        scores = caption_scores(hypotheses, data.captions)
        return {**scores, "images": len(hypotheses), "beam_size": beam,
                "length_penalty": alpha, "decode_seconds": round(seconds, 2),
                "captions_per_second": round(len(hypotheses) / max(seconds, 1e-9), 1)}

    def predict(self, model, args, out):
        if args.plot:  # refused before any work when a file stands in the way
            make_folder(args.plot, "--plot")
        meta = CaptionMetadata.from_config(model.metadata)
        names, images = read_predict_input(args.input, meta.shape)
        beam, alpha = decoding_options(args, model.config)
        run = model.serving_module().captioner(beam, alpha)
        result = caption_pixels(run, images, args.batch_size, with_attention=bool(args.plot))
        for name, caption in zip(names, result["captions"]):
            out.write(f"{name}\t{caption}\n")
        out.flush()
        if args.plot:
            from applications.captioner.plots import plot_caption_attention

            grid = model.grid(images[:1])[1]
            for i, (words, weights) in enumerate(result["attention"]):
                plot_caption_attention(os.path.join(args.plot, f"{i + 1:04d}.png"), images[i],
                                       words, weights, grid, title=names[i][:80])
            progress.line(f"wrote {len(names)} attention plots to {args.plot}")


def check_options(config):
    check_schedule(config)
    for name in ("max_length", "beam_size", "min_count", "captions_per_image"):
        if getattr(config, name) < 1:
            raise UsageError(f"{name} must be 1 or more, not {getattr(config, name)}")
    check_image_size(config.image_size)
    if not valid_decoding(config.beam_size, config.length_penalty):
        raise UsageError(f"length_penalty must be finite and not negative, not "
                         f"{config.length_penalty}")
    if config.channels not in (0, 1, 3):
        raise UsageError(f"channels must be 1, 3 or 0 (from the data), not {config.channels}")


def read_predict_input(path, shape):
    """``(names, uint8 images)``: an image folder, one image file, or a list of image paths
    (one a line, relative to the list's folder; ``-`` reads the list from stdin)."""
    if path != "-" and os.path.isdir(path):
        files = image_files(path)
        if not files:
            raise InputError("no PNG or JPEG image in the folder", path)
        entries = [(os.path.relpath(f, path), f, None) for f in files]
    elif path.lower().endswith(IMAGE_SUFFIXES):
        entries = [(path, path, None)]
    else:
        folder = "" if path == "-" else os.path.dirname(path)
        entries = [(line.strip(), os.path.join(folder, line.strip()), number)
                   for number, line in iter_lines(path) if line.strip()]
        if not entries:
            raise InputError("no image paths to caption (the list is empty)", source_name(path))
    images = np.empty((len(entries), *shape), np.uint8)
    for i, (name, file, number) in enumerate(entries):
        try:
            images[i] = fit_image(decode_image_file(file), shape[:2], shape[2])
        except InputError as err:
            if number is None:
                raise
            raise InputError(f"image {file}: {err.message}", path, number) from None
    return [name for name, _, _ in entries], images


def _images(caption_set):
    return len(caption_set.images)
