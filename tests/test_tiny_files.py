"""A training file of a few examples, whose held-out share rounds to none: training goes on
without dev (no traceback, no blame on the loss) in every application that holds part out."""

import numpy as np
import pytest
from PIL import Image

from applications.autoencoder.commands import AutoencoderCommands
from applications.captioner.commands import CaptionerCommands
from applications.detector.commands import DetectorCommands
from applications.image_classifier.commands import ImageClassifierCommands
from applications.translator.commands import TranslatorCommands
from applications.video_classifier.commands import VideoClassifierCommands
from tests.helpers import cli, error_lines
from tests.test_video_classifier import write_squares_npz

COUNT = 4  # with the default dev_split (0.1, the captioner's 0.05) none is held out


def _png(path, rng, side=64):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path)


def _pairs(folder, rng):
    path = folder / "pairs.txt"
    path.write_text("hello .\thola .\nthank you .\tgracias .\ngood morning .\tbuenos dias .\n"
                    "i am here .\testoy aqui .\n")
    return path


def _pixels(folder, rng):
    path = folder / "digits.npz"
    np.savez(path, x=rng.integers(0, 255, (COUNT, 28, 28), dtype=np.uint8),
             y=np.arange(COUNT) % 2)
    return path


def _captions(folder, rng):
    words = ["a red circle", "a blue square", "a green disc alone", "two squares side by side"]
    for i in range(COUNT):
        _png(folder / f"im{i}.png", rng)
    path = folder / "captions.csv"
    path.write_text("image,caption\n" + "".join(f"im{i}.png,{words[i]}\n" for i in range(COUNT)))
    return path


def _boxes(folder, rng):
    for i in range(COUNT):
        _png(folder / "images" / f"d{i}.png", rng)
    path = folder / "labels.csv"
    path.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n" + "".join(
        f"d{i}.png,64,64,{('disc', 'square')[i % 2]},10,12,40,44\n" for i in range(COUNT)))
    return path


def _clips(folder, rng):
    return write_squares_npz(folder / "clips.npz", COUNT, seed=5)


@pytest.mark.parametrize("commands, write", [
    (TranslatorCommands, _pairs), (ImageClassifierCommands, _pixels),
    (AutoencoderCommands, _pixels), (CaptionerCommands, _captions), (DetectorCommands, _boxes),
    (VideoClassifierCommands, _clips)],
    ids=["translator", "image_classifier", "autoencoder", "captioner", "detector", "video"])
def test_a_few_examples_train_without_dev(tmp_path, commands, write):
    path = write(tmp_path, np.random.default_rng(0))
    out = tmp_path / "run"
    code, _, err = cli(commands(), "train", "--train", path, "--out", out, "--epochs", 1,
                       "--seed", 1)
    assert code == 0, err
    assert "Traceback" not in err and "held out as dev" not in err, err
    assert (out / "model.keras").is_file()


def test_held_out_of_a_file_that_held_none_is_one_line(tmp_path):
    path = _pairs(tmp_path, None)
    out = tmp_path / "run"
    code, _, err = cli(TranslatorCommands(), "train", "--train", path, "--out", out,
                       "--epochs", 1)
    assert code == 0, err
    code, _, err = cli(TranslatorCommands(), "evaluate", "--model", out, "--data", path,
                       "--held-out")
    assert code == 2 and error_lines(err) == [
        f"error: {path}: --held-out: a share of 0.1 holds out no example of 4"], err
