"""The autoencoder's part of the shared command line, and its ``encode`` verb."""

import io
import itertools
import os

import numpy as np

from applications.autoencoder.config import AutoencoderConfig
from applications.autoencoder.model import Autoencoder, checked_encoder
from applications.autoencoder.pca import fit_pca, pca_mse
from applications.autoencoder.pipeline import (evaluation_images, pixel_batches,
                                               read_training_images)
from applications.autoencoder.plots import plot_reconstructions
from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from applications.core.image_inputs import add_image_data_arguments
from applications.core.file_targets import check_report_target
from applications.core.optimizers import check_schedule
from data.files import atomic_write_bytes, atomic_write_json
from data.image_sets import ImageMetadata, iter_unlabelled, read_unlabelled

CHUNK = 512  # images per serving call


class AutoencoderCommands(AppCommands):
    """``train | evaluate | predict | export | encode`` for image autoencoders.

    Labels are never needed: IDX inputs are images files alone, folders may hold one class
    folder or many, and ``.npz`` files need only ``x``.

    Example:
        >>> from applications.core.cli import main
        >>> main(AutoencoderCommands(), ["train", "--out", "runs/ae"])  # doctest: +SKIP
        0
    """

    name = "autoencoder"
    config_class = AutoencoderConfig
    model_class = Autoencoder

    def add_arguments(self, verb, parser):
        add_image_data_arguments(verb, parser)
        if verb == "evaluate":
            parser.add_argument("--pca-fit", metavar="IMAGES",
                                help="images to fit the PCA baseline on, e.g. the training "
                                     "set (default: the --data images themselves)")

    def read_training_data(self, args, config, metadata=None, order=None):
        check_schedule(config)
        try:  # before reading: a bad option should not wait for the images
            checked_encoder(config.to_dict())
        except ValueError as err:
            raise UsageError(f"bad model options: {err}") from None
        with progress.stage(f"reading {progress.file_label(args.train or 'samples')}",
                            unit="images") as step:
            meta, train, dev = read_training_images(args, config, metadata)
            step.count = len(train.images) + (0 if dev is None else len(dev.images))
        train_ds, dev_ds = pixel_batches(train, dev, config, order)
        return meta.get_config(), train_ds, dev_ds

    def evaluate(self, model, args):
        meta = ImageMetadata.from_config(model.metadata)
        name = progress.file_label(args.data or "samples")
        with progress.stage(f"reading {name}", unit="images") as step:
            data = evaluation_images(args.data, meta)
            step.count = len(data.images)
        server = model.serving_module()
        outputs = [server.serve(data.images[s:s + CHUNK])
                   for s in _chunk_starts(data.images, f"reconstructing {name}")]
        errors = np.concatenate([o["errors"].numpy() for o in outputs])
        dims = model.config["code_dim"]
        fit_on = evaluation_images(args.pca_fit, meta) if args.pca_fit else data
        try:
            mean, components = fit_pca(fit_on.images, dims)
        except ValueError as err:
            raise UsageError(f"PCA baseline: {err}") from None
        results = {
            "mse": float(errors.mean()),
            "pca_mse": pca_mse(data.images, mean, components),
            "code_dim": dims,
            "examples": int(len(errors)),
            "pca_fit": fit_on.path,
        }
        results["mse_over_pca"] = results["mse"] / max(results["pca_mse"], 1e-12)
        report = args.report or args.model
        json_path = os.path.join(report, "evaluation.json")
        check_report_target(json_path)  # before the plot: nothing is written if refused
        png_path = os.path.join(report, "reconstructions.png")
        plot_reconstructions(
            png_path, data.images[:10], outputs[0]["reconstructions"].numpy()[:10], mean,
            components,
            f"{data.path}: MSE {results['mse']:.5f} (PCA at {dims}: {results['pca_mse']:.5f})")
        atomic_write_json(json_path, {**results, "data": data.path})
        results.update(report=json_path, reconstructions_png=png_path)
        return results

    def predict(self, model, args, out):
        """One line per image: where it came from, its reconstruction error."""
        server = model.serving_module()
        # Images are decoded, scored and written a chunk at a time: memory does not grow
        # with their number.
        chunks = iter_unlabelled(args.input, ImageMetadata.from_config(model.metadata), CHUNK)
        first = next(chunks)
        out.write("source\tmse\n")
        for names, images in progress.track(
                itertools.chain([first], chunks),
                f"reconstructing {progress.file_label(args.input)}", unit="images",
                size=lambda part: len(part[0])):
            errors = server.serve(images)["errors"].numpy()
            for name, error in zip(names, errors):
                out.write(f"{name}\t{error:.6g}\n")

    def extra_verbs(self):
        return {"encode": (_encode_arguments, self.run_encode)}

    def run_encode(self, args):
        """Write one code vector per image: ``.npy`` (float32 ``[N, code_dim]``) or CSV."""
        from applications.core.base import load_model
        from applications.core.file_targets import check_file_target

        out = str(args.out)
        if not out.lower().endswith((".npy", ".csv")):
            raise UsageError(f"--out must end in .npy or .csv, not {os.path.basename(out)!r}")
        check_file_target(out)  # only an earlier .npy or vectors CSV is replaced
        model = load_model(args.model)
        image_set = progress.reading(args.input, "images", read_unlabelled,
                                     ImageMetadata.from_config(model.metadata), size=_count)
        server = model.serving_module()
        codes = np.concatenate([server.encode(image_set.images[s:s + CHUNK])["codes"].numpy()
                                for s in _chunk_starts(image_set.images, f"encoding "
                                                       f"{progress.file_label(args.input)}")])
        if out.lower().endswith(".npy"):
            buffer = io.BytesIO()
            np.save(buffer, codes.astype(np.float32))
            atomic_write_bytes(out, buffer.getvalue())
        else:
            names = image_set.names or [str(i) for i in range(len(codes))]
            lines = ["source," + ",".join(f"z{i}" for i in range(codes.shape[1]))]
            lines += [_csv_field(n) + "," + ",".join(f"{v:.7g}" for v in row)
                      for n, row in zip(names, codes)]
            atomic_write_bytes(out, ("\n".join(lines) + "\n").encode("utf-8"))
        progress.line(f"wrote {len(codes)} vectors of {codes.shape[1]} numbers to {out}")
        return 0


def _count(image_set):
    return len(image_set.images)


def _chunk_starts(images, label):
    """The first index of each serving call's chunk, shown as a stage named ``label``."""
    return progress.track(range(0, len(images), CHUNK), label, total=len(images),
                          unit="images", size=lambda s: len(images[s:s + CHUNK]))


def _encode_arguments(parser):
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True,
                        help="images: a folder, image file, .npz (x), IDX file, or - (paths)")
    parser.add_argument("--out", required=True, help="vectors.npy or vectors.csv")


def _csv_field(text):
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text
