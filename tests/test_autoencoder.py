"""The autoencoders end to end through their command line, on shape images drawn here."""

import ast
import gzip
import json
import pathlib

import numpy as np
import pytest

from applications.autoencoder.commands import AutoencoderCommands
from applications.autoencoder.pca import fit_pca, pca_mse
from data.shape_images import generate_shapes
from tests.helpers import assert_input_error, cli, error_lines, load_saved_model_without_package
from tests.test_image_classifier import idx_bytes, write_pngs

APP = AutoencoderCommands()
TINY = ["--set", "encoder.filters=[8,16]", "--set", "code_dim=8", "--set", "learning_rate=0.005",
        "--batch-size", "32"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    train, dev = generate_shapes(480, seed=21)[0], generate_shapes(64, seed=22)[0]
    paths = {"train": folder / "train-images-idx3-ubyte.gz", "dev": folder / "dev-images.idx"}
    paths["train"].write_bytes(gzip.compress(idx_bytes(train[..., 0])))
    paths["dev"].write_bytes(idx_bytes(dev[..., 0]))
    return {"train_pixels": train, "dev_pixels": dev, **paths}


@pytest.fixture(scope="module")
def trained(images, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "conv"
    code, _, err = cli(APP, "train", "--train", images["train"], "--dev", images["dev"],
                       "--out", out, "--epochs", 4, "--seed", 2, *TINY)
    assert code == 0, err
    return out


def reference_pca_mse(fit, data, dims):
    """PCA written out the textbook way: SVD of the centred data matrix."""
    x = fit.reshape(len(fit), -1) / 255.0
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = vt[:dims].T
    y = data.reshape(len(data), -1) / 255.0 - mean
    return float(np.mean(np.square(y @ basis @ basis.T - y)))


def test_pca_matches_textbook_svd_and_is_exact_at_full_rank():
    rng = np.random.default_rng(0)
    # Rank-3 images: PCA with 3 components reconstructs them exactly.
    basis = rng.integers(0, 60, (3, 36))
    weights = rng.integers(0, 2, (50, 3))
    low_rank = (weights @ basis).reshape(50, 6, 6, 1).astype(np.uint8)
    mean, components = fit_pca(low_rank, 3)
    assert pca_mse(low_rank, mean, components) < 1e-20
    shapes = generate_shapes(120, seed=3)[0]
    mean, components = fit_pca(shapes[:100], 10)
    assert pca_mse(shapes[100:], mean, components) == pytest.approx(
        reference_pca_mse(shapes[:100], shapes[100:], 10), rel=1e-9)


@pytest.mark.integration
def test_evaluate_reports_mse_next_to_pca(trained, images, tmp_path):
    code, out, err = cli(APP, "evaluate", "--model", trained, "--data", images["dev"],
                         "--pca-fit", images["train"], "--json", "--report", tmp_path)
    assert code == 0, err
    result = json.loads(out)
    assert result["examples"] == 64 and result["code_dim"] == 8
    assert result["pca_mse"] == pytest.approx(
        reference_pca_mse(images["train_pixels"], images["dev_pixels"], 8), rel=1e-6)
    # The untrained reconstruction is a flat sigmoid(0) = 0.5 gray; training must beat it.
    assert 0 < result["mse"] < np.mean(np.square(images["dev_pixels"] / 255.0 - 0.5))
    assert result["mse_over_pca"] == pytest.approx(result["mse"] / result["pca_mse"])
    assert (tmp_path / "reconstructions.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "evaluation.json").read_text())["mse"] == result["mse"]

    code, text, err = cli(APP, "predict", "--model", trained, "--input", images["dev"])
    assert code == 0, err
    errors = [float(line.split("\t")[1]) for line in text.strip().splitlines()[1:]]
    assert len(errors) == 64 and np.mean(errors) == pytest.approx(result["mse"], rel=1e-5)


@pytest.mark.integration
def test_encode_writes_npy_and_csv_and_export_encodes(trained, images, tmp_path):
    vectors = tmp_path / "codes.npy"
    code, _, err = cli(APP, "encode", "--model", trained, "--input", images["dev"],
                       "--out", vectors)
    assert code == 0, err
    codes = np.load(vectors)
    assert codes.shape == (64, 8) and codes.dtype == np.float32 and codes.std() > 0

    files = write_pngs(tmp_path / "pngs", images["dev_pixels"][:5], ["a", "a", "b", "b", "b"])
    table = tmp_path / "codes.csv"
    code, _, err = cli(APP, "encode", "--model", trained, "--input", tmp_path / "pngs",
                       "--out", table)
    assert code == 0, err
    lines = table.read_text().strip().splitlines()
    assert lines[0] == "source," + ",".join(f"z{i}" for i in range(8))
    from_csv = {line.split(",")[0]: [float(v) for v in line.split(",")[1:]]
                for line in lines[1:]}
    np.testing.assert_allclose([from_csv[str(f)] for f in files], codes[:5], atol=1e-5)

    export_dir = tmp_path / "export"
    code, _, err = cli(APP, "export", "--model", trained, "--out", export_dir)
    assert code == 0, err
    np.save(tmp_path / "pixels.npy", images["dev_pixels"])
    exported = load_saved_model_without_package(export_dir, (
        f"import numpy as np\npixels = np.load({str(tmp_path / 'pixels.npy')!r})\n"
        "codes = model.signatures['encode'](pixels=tf.constant(pixels))['codes']\n"
        f"files = tf.stack([tf.io.read_file(p) for p in {[str(f) for f in files]!r}])\n"
        "from_png = model.signatures['encode_images'](images=files)['codes']\n"
        "print(json.dumps([codes.numpy().tolist(), from_png.numpy().tolist()]))"))
    np.testing.assert_allclose(exported[0], codes, atol=1e-5)
    np.testing.assert_allclose(exported[1], codes[:5], atol=1e-5)


@pytest.mark.integration
def test_dense_autoencoder_on_npz_without_labels(images, tmp_path):
    npz = tmp_path / "train.npz"
    np.savez(npz, x=images["train_pixels"][:256])
    out = tmp_path / "dense"
    code, _, err = cli(APP, "train", "--train", npz, "--out", out, "--epochs", 2,
                       "--set", "kind=dense", "--set", "hidden=[64]", "--set", "code_dim=4",
                       "--set", "dev_split=0.25", "--batch-size", "32")
    assert code == 0, err
    code, text, err = cli(APP, "evaluate", "--model", out, "--json")
    assert code == 0, err
    result = json.loads(text)
    assert result["code_dim"] == 4 and result["pca_fit"] == "<embedded shapes>"


@pytest.mark.integration
def test_bad_inputs_and_options(trained, images, tmp_path):
    cut = tmp_path / "cut-images-idx3-ubyte"
    cut.write_bytes(gzip.decompress(images["train"].read_bytes())[:5000])
    assert "truncated" in assert_input_error(
        APP, ["train", "--train", cut, "--out", tmp_path / "out"], cut)
    assert_input_error(APP, ["encode", "--model", trained, "--input", cut,
                             "--out", tmp_path / "v.npy"], cut)
    for argv in (["encode", "--model", trained, "--input", images["dev"], "--out",
                  tmp_path / "v.txt"],
                 ["train", "--out", tmp_path / "out", "--set", "kind=recurrent"],
                 ["train", "--out", tmp_path / "out", "--set", "encoder.padding=valid"]):
        code, _, err = cli(APP, *argv)
        assert code == 2 and len(error_lines(err)) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "v.txt").exists()


def test_autoencoder_has_the_application_shape_and_imports_no_sibling():
    folder = pathlib.Path(__file__).resolve().parents[1] / "applications" / "autoencoder"
    files = {path.name for path in folder.glob("*.py")}
    assert {"config.py", "model.py", "pipeline.py", "commands.py", "serving.py",
            "sample_data.py", "plots.py"} <= files
    imported = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    apps = {path.name for path in folder.parent.iterdir() if (path / "__main__.py").exists()}
    assert {"autoencoder", "image_classifier"} <= apps
    siblings = {name for name in imported if name.startswith("applications.")
                and name.split(".")[1] in apps - {"autoencoder"}}
    assert siblings == set()
