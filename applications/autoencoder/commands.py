"""The autoencoder's part of the shared command line, and its ``encode`` verb."""

import io
import os
import sys

import numpy as np

from applications.autoencoder.config import AutoencoderConfig
from applications.autoencoder.model import Autoencoder
from applications.autoencoder.pca import fit_pca, pca_mse, pca_reconstruct
from applications.core.cli import AppCommands
from applications.core.config import UsageError
from applications.image_classifier.commands import add_data_arguments, read_unlabelled
from applications.image_classifier.config import SCHEDULES
from applications.image_classifier.pipeline import (ImageMetadata, read_input,
                                                    read_train_and_dev)
from applications.image_classifier.sample_data import sample_sets
from data.files import atomic_write_bytes, atomic_write_json
from data.image_batches import image_batches
from data.images import ImageSet

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
        add_data_arguments(verb, parser)
        if verb == "evaluate":
            parser.add_argument("--pca-fit", metavar="IMAGES",
                                help="images to fit the PCA baseline on, e.g. the training "
                                     "set (default: the --data images themselves)")

    def read_training_data(self, args, config, metadata=None, order=None):
        if config.lr_schedule not in SCHEDULES:
            raise UsageError(f"lr_schedule must be one of {', '.join(SCHEDULES)}")
        shape = ImageMetadata.from_config(metadata).shape if metadata else None
        train, dev = read_train_and_dev(args, config, shape, require_labels=False)
        meta = ImageMetadata.from_images(train, with_labels=False)
        if metadata is not None:
            meta = ImageMetadata.from_config(metadata)
            meta.check_shape(train)
        if dev is not None:
            meta.check_shape(dev)
        train_ds = image_batches(train.images, "pixels", config.batch_size, True, config.seed,
                                 order)
        dev_ds = None if dev is None else image_batches(
            dev.images, "pixels", max(config.batch_size, 256), shuffle=False)
        return meta.get_config(), train_ds, dev_ds

    def evaluate(self, model, args):
        from applications.image_classifier.plots import plot_image_rows

        meta = ImageMetadata.from_config(model.metadata)
        data = _images(args.data, meta)
        server = model.serving_module()
        outputs = [server.serve(data.images[s:s + CHUNK]) for s in range(0, len(data.images),
                                                                        CHUNK)]
        errors = np.concatenate([o["errors"].numpy() for o in outputs])
        dims = model.config["code_dim"]
        fit_on = _images(args.pca_fit, meta) if args.pca_fit else data
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
        shown = data.images[:10]
        pca_images = np.clip(np.round(pca_reconstruct(shown, mean, components) * 255), 0, 255)
        report = args.report or args.model
        json_path = os.path.join(report, "evaluation.json")
        png_path = os.path.join(report, "reconstructions.png")
        plot_image_rows(png_path, [
            ("original", shown),
            ("autoencoder", outputs[0]["reconstructions"].numpy()[:10]),
            (f"PCA {dims}", pca_images.astype(np.uint8).reshape(shown.shape))],
            f"{data.path}: MSE {results['mse']:.5f} (PCA at {dims}: {results['pca_mse']:.5f})")
        atomic_write_json(json_path, {**results, "data": data.path})
        results.update(report=json_path, reconstructions_png=png_path)
        return results

    def predict(self, model, args, out):
        """One line per image: where it came from, its reconstruction error."""
        image_set = read_unlabelled(args.input, ImageMetadata.from_config(model.metadata))
        names = image_set.names or [str(i) for i in range(len(image_set.images))]
        server = model.serving_module()
        out.write("source\tmse\n")
        for start in range(0, len(names), CHUNK):
            errors = server.serve(image_set.images[start:start + CHUNK])["errors"].numpy()
            for name, error in zip(names[start:start + CHUNK], errors):
                out.write(f"{name}\t{error:.6g}\n")

    def extra_verbs(self):
        return {"encode": (_encode_arguments, self.run_encode)}

    def run_encode(self, args):
        """Write one code vector per image: ``.npy`` (float32 ``[N, code_dim]``) or CSV."""
        from applications.core.base import load_model

        out = str(args.out)
        if not out.lower().endswith((".npy", ".csv")):
            raise UsageError(f"--out must end in .npy or .csv, not {os.path.basename(out)!r}")
        model = load_model(args.model)
        image_set = read_unlabelled(args.input, ImageMetadata.from_config(model.metadata))
        server = model.serving_module()
        codes = np.concatenate([server.encode(image_set.images[s:s + CHUNK])["codes"].numpy()
                                for s in range(0, len(image_set.images), CHUNK)])
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
        print(f"wrote {len(codes)} vectors of {codes.shape[1]} numbers to {out}",
              file=sys.stderr)
        return 0


def _encode_arguments(parser):
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True,
                        help="images: a folder, image file, .npz (x), IDX file, or - (paths)")
    parser.add_argument("--out", required=True, help="vectors.npy or vectors.csv")


def _images(path, meta):
    if path:
        data = read_input(path, None, meta.shape, require_labels=False)
    else:
        _, (images, _) = sample_sets()
        data = ImageSet(images, None, None, "<embedded shapes>")
    meta.check_shape(data)
    return data


def _csv_field(text):
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text
