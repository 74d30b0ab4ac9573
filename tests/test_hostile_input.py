"""Hostile and huge input: each case is refused in one line or read in bounded memory.

The files are made here without filling the disk: "huge" ones are sparse files or gzip
streams built from one repeated deflate block, so a test writes kilobytes to stand for
gigabytes. Python allocations are measured with ``tracemalloc``; the memory of ``predict``
is the child process's own peak RSS (``resource.getrusage``).
"""

import gzip
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from applications.core import safe_loading
from applications.core.safe_loading import MAX_CONFIG_BYTES, MAX_NESTING, check_model_archive
from applications.image_classifier.commands import ImageClassifierCommands
from applications.pos_tagger.commands import TaggerCommands
from applications.text_classifier.commands import ClassifierCommands
from applications.text_classifier.sample_data import generate_reviews, write_csv
from data import files
from data.errors import InputError
from data.files import GZIP_FREE_BYTES, MAX_LINE_BYTES, decompress_gzip, iter_lines
from data.image_sets import ImageMetadata, read_unlabelled
from data.image_files import MAX_IMAGE_PIXELS
from data.images import read_idx, read_images
from data.tagged_text import MAX_SENTENCE_TOKENS, read_tagged
from tests.helpers import REPO, assert_input_error, cli

CLASSIFIER = ClassifierCommands()
TINY_CLASSIFIER = ["--set", "embedding_dim=8", "--set", 'encoder={"name": "cnn", "preset": "text", "filters": [8]}',
                   "--batch-size", "16", "--epochs", "1", "--seed", "1"]


def one_line(err):
    text = str(err)
    assert "\n" not in text and "Traceback" not in text
    return text


def peak_python_bytes(run):
    """Run ``run()`` (which must raise InputError); return the error and the peak bytes
    Python allocated meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            run()
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- images whose header declares 500 megapixels -----------------------------------------

def png_header_only(path, width, height):
    """A PNG whose header declares ``width x height`` gray pixels (a few dozen bytes)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def small_png(path, value=100):
    from PIL import Image

    Image.fromarray(np.full((6, 6), value, np.uint8)).save(path)
    return path


@pytest.fixture
def bomb_folder(tmp_path):
    for label in ("a", "b"):
        (tmp_path / "images" / label).mkdir(parents=True)
        small_png(tmp_path / "images" / label / "ok.png")
    bomb = png_header_only(tmp_path / "images" / "b" / "zz_bomb.png", 25_000, 20_000)
    return tmp_path / "images", bomb


@pytest.mark.parametrize("size", [(25_000, 20_000), (10_000, 7_000)])
def test_image_declaring_too_many_pixels_is_refused_before_decoding(bomb_folder, size):
    folder, bomb = bomb_folder
    png_header_only(bomb, *size)  # 500 MP (past PIL's own limit) and 70 MP (under it)
    err, peak = peak_python_bytes(lambda: read_images(folder))
    assert one_line(err).startswith(f"{bomb}: refused: the image declares")
    assert peak < 8 << 20  # nothing was decoded
    meta = ImageMetadata(6, 6, 1, ["a", "b"], ["a", "b"], 2)
    with pytest.raises(InputError, match="decompression bomb"):
        read_unlabelled(str(bomb), meta)  # what predict reads


@pytest.mark.integration
def test_image_bomb_through_train_is_one_line(bomb_folder, tmp_path):
    folder, bomb = bomb_folder
    assert_input_error(ImageClassifierCommands(),
                       ["train", "--train", folder, "--out", tmp_path / "run"], bomb)
    assert not (tmp_path / "run").exists()


def test_served_decoding_checks_the_header_before_decoding(tmp_path):
    import tensorflow as tf

    from data.image_decoding import declared_pixels, decode_images

    bomb = png_header_only(tmp_path / "bomb.png", 25_000, 20_000).read_bytes()
    assert int(declared_pixels(tf.constant(bomb))) == 500_000_000
    jpeg = tf.io.encode_jpeg(tf.zeros([3, 5, 3], tf.uint8))
    assert int(declared_pixels(jpeg)) == 15
    with pytest.raises(tf.errors.InvalidArgumentError, match="decompression bomb"):
        decode_images(tf.constant([bomb]), 4, 4, 1)
    fine = small_png(tmp_path / "fine.png").read_bytes()
    assert tuple(decode_images(tf.constant([fine]), 4, 4, 1).shape) == (1, 4, 4, 1)
    assert MAX_IMAGE_PIXELS < 500_000_000


# --- gzip files that expand a thousandfold -------------------------------------------------

def gzip_bomb(path, expanded_mb, line=b"a" * 65535 + b"\n"):
    """A gzip file of ``expanded_mb`` MB of text lines, about 1000 times smaller.

    One megabyte is deflated once with a full flush (which makes the block independent of
    what came before) and the block repeated; the reader refuses the file before it reaches
    the end, so the stream needs no trailer.
    """
    block = line * ((1 << 20) // len(line))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    again = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    with open(path, "wb") as handle:
        handle.write(header + first)
        for _ in range(expanded_mb - 1):
            handle.write(again)
    return path


def test_gzip_bomb_is_refused_while_streaming(tmp_path):
    bomb = gzip_bomb(tmp_path / "texts.txt.gz", 2 * GZIP_FREE_BYTES >> 20)
    ratio = (2 * GZIP_FREE_BYTES) / os.path.getsize(bomb)
    assert ratio > 900  # a thousandfold

    def read_all():
        for _ in iter_lines(bomb):
            pass

    err, peak = peak_python_bytes(read_all)
    assert one_line(err).startswith(f"{bomb}:")
    assert "decompression bomb" in str(err) and err.line is not None
    assert peak < 8 << 20  # a line and gzip's buffers, not the expanded data


def test_gzip_within_its_budget_is_read(tmp_path, monkeypatch):
    path = tmp_path / "ok.txt.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"x\n" * 5000)  # 10 kB, over 100x its compressed size, under the floor
    assert sum(1 for _ in iter_lines(path)) == 5000
    monkeypatch.setattr(files, "GZIP_FREE_BYTES", 1000)  # the ratio rule alone
    with pytest.raises(InputError, match="expands more than 100 times"):
        list(iter_lines(path))


def test_gzipped_idx_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "GZIP_FREE_BYTES", 1 << 20)
    bomb = gzip_bomb(tmp_path / "images-idx3-ubyte.gz", 8, line=b"\0" * 1024)
    with pytest.raises(InputError, match="decompression bomb") as caught:
        read_idx(bomb)
    assert one_line(caught.value).startswith(f"{bomb}:")
    payload = bomb.read_bytes()
    with pytest.raises(InputError, match="decompression bomb"):
        decompress_gzip(payload, "x.gz")


def test_npz_declaring_huge_arrays_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "images.npz"
    np.savez_compressed(path, x=np.zeros((64, 512, 512), np.uint8), y=np.zeros(64, np.int64))
    # Under the floor it is read (a small file cannot hurt) ...
    assert read_images(path).images.shape == (64, 512, 512, 1)
    # ... and past it the directory's declared sizes refuse it before anything is inflated.
    monkeypatch.setattr(files, "GZIP_FREE_BYTES", 1 << 20)
    with pytest.raises(InputError, match="decompression bomb") as caught:
        read_images(path)
    assert one_line(caught.value).startswith(f"{path}: refused: its arrays declare")


@pytest.mark.parametrize("content, message", [
    (b"", "not a NumPy .npz archive (an .npz is a zip file; this one is empty)"),
    (b"\n\n\n", "not a NumPy .npz archive (an .npz is a zip file; this one is not)"),
    (b"PK\x03\x04 then no zip", "not a readable .npz file")])
def test_an_npz_that_is_empty_or_no_zip_is_one_line(tmp_path, content, message):
    path = tmp_path / "images.npz"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_images(path)
    assert one_line(caught.value).startswith(f"{path}: {message}")


def test_one_image_file_where_a_set_is_read_is_named_as_such(tmp_path):
    path = tmp_path / "cat.png"
    path.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        read_images(path)
    assert one_line(caught.value) == (f"{path}: one image file: give a folder of class "
                                      "folders, an .npz file or IDX files")


# --- one "sentence" of 200,000 tokens ------------------------------------------------------

def test_two_column_file_without_blank_lines_is_refused_at_the_limit(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("".join(f"w{i % 50}\tT{i % 3}\n" for i in range(200_000)))
    err, peak = peak_python_bytes(lambda: read_tagged(path))
    assert one_line(err) == (f"{path}:{MAX_SENTENCE_TOKENS + 1}: sentence longer than "
                             f"{MAX_SENTENCE_TOKENS:,} tokens (it starts at line 1; is a "
                             "blank line missing between sentences?)")
    assert peak < 4 << 20
    assert len(read_tagged(path, max_tokens=0)[0].tokens) == 200_000  # 0: no limit


@pytest.mark.integration
def test_long_sentence_through_train_is_one_line_and_the_option_raises_it(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("".join(f"w{i % 50}\tT{i % 3}\n" for i in range(1500)))
    assert_input_error(TaggerCommands(), ["train", "--train", path, "--out", tmp_path / "run"],
                       path, MAX_SENTENCE_TOKENS + 1)
    assert_input_error(TaggerCommands(), ["train", "--train", path, "--out", tmp_path / "run",
                                          "--set", "max_sentence_tokens=1200"], path, 1201)
    assert not (tmp_path / "run").exists()


# --- a 1 GB single line ---------------------------------------------------------------------

def test_one_gigabyte_line_is_refused_after_a_megabyte(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:
        handle.write(b"first line\nsecond\n")
        handle.truncate(1 << 30)  # sparse: NUL bytes that take no disk
    def read_all():
        for _ in iter_lines(path):
            pass

    err, peak = peak_python_bytes(read_all)
    assert one_line(err) == (f"{path}:3: line longer than {MAX_LINE_BYTES:,} bytes (is this a "
                             "text file with one record a line?)")
    assert peak < 4 * MAX_LINE_BYTES


def test_line_limit_counts_the_bytes_before_the_newline(tmp_path):
    path = tmp_path / "edge.txt"
    path.write_bytes(b"a" * 100 + b"\r\n" + b"b" * 101)  # 101 bytes each, "\r" included
    assert [len(t) for _, t in iter_lines(path, max_line_bytes=101)] == [100, 101]
    with pytest.raises(InputError, match=r"edge.txt:1: line longer than 100 bytes"):
        list(iter_lines(path, max_line_bytes=100))


# --- hostile .keras archives -----------------------------------------------------------------

def keras_archive(path, config_text, declared_size=None):
    """A .keras zip holding ``config_text`` as config.json; ``declared_size`` overwrites the
    uncompressed size its central directory declares."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3"}))
        archive.writestr("config.json", config_text)
        archive.writestr("model.weights.h5", b"")
    if declared_size is not None:
        data = bytearray(path.read_bytes())
        at = data.index(b"PK\x01\x02")  # the first directory entry: metadata.json
        at = data.index(b"PK\x01\x02", at + 4)  # config.json
        struct.pack_into("<I", data, at + 24, declared_size)
        path.write_bytes(bytes(data))
    return path


def registered_config(inner):
    return ('{"class_name": "PosTagger", "registered_name": "encore>PosTagger", '
            f'"module": "applications.pos_tagger.model", "config": {inner}}}')


def test_keras_config_nested_100000_deep_is_refused(tmp_path):
    path = keras_archive(tmp_path / "run" / "model.keras",
                         registered_config("[" * 100_000 + "]" * 100_000))
    err, _ = peak_python_bytes(lambda: check_model_archive(path, object))
    assert one_line(err) == f"{path}: refused: config.json nests more than {MAX_NESTING} levels"
    # Brackets inside strings are text, not nesting.
    safe_loading._check_nesting(registered_config(json.dumps({"name": "[{" * 1000 + '\\"'})),
                                path)


def test_keras_config_declaring_2_gb_is_refused_before_inflating(tmp_path):
    path = keras_archive(tmp_path / "run" / "model.keras", registered_config("{}"),
                         declared_size=2 << 30)
    with pytest.raises(InputError) as caught:
        check_model_archive(path, object)
    assert one_line(caught.value) == (
        f"{path}: refused: member config.json declares 2,147,483,648 bytes uncompressed, over "
        f"the {MAX_CONFIG_BYTES:,} allowed")


def test_keras_config_over_the_limit_is_read_only_to_the_limit(tmp_path, monkeypatch):
    path = keras_archive(tmp_path / "run" / "model.keras",
                         registered_config(json.dumps({"pad": " " * 50_000})))
    monkeypatch.setattr(safe_loading, "MAX_CONFIG_BYTES", 40_000)
    with zipfile.ZipFile(path) as archive:  # the directory is checked first ...
        assert archive.getinfo("config.json").file_size > 40_000
    with pytest.raises(InputError, match="over the 40,000 allowed"):
        check_model_archive(path, object)
    # ... and a directory that understates the size still gets a bounded read.
    monkeypatch.setattr(safe_loading, "_check_member_sizes", lambda archive, path: None)
    with pytest.raises(InputError, match="config.json is over 40,000 bytes"):
        check_model_archive(path, object)


@pytest.mark.integration
def test_hostile_keras_file_through_evaluate_is_one_line(tmp_path):
    path = keras_archive(tmp_path / "run" / "model.keras",
                         registered_config("[" * 100_000 + "]" * 100_000))
    assert_input_error(TaggerCommands(), ["evaluate", "--model", tmp_path / "run"], path)


# --- predict reads as it writes --------------------------------------------------------------

@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier")
    write_csv(generate_reviews(120, seed=3), ["text", "label"], folder / "train.csv")
    code, _, err = cli(CLASSIFIER, "train", "--train", folder / "train.csv",
                       "--out", folder / "run", *TINY_CLASSIFIER)
    assert code == 0, err
    return folder / "run"


@pytest.mark.integration
def test_predict_refuses_a_huge_line_and_a_gzip_bomb_in_one_line(classifier, tmp_path,
                                                                 monkeypatch):
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as handle:
        handle.write(b"a fine review\n")
        handle.truncate(1 << 30)
    assert_input_error(CLASSIFIER, ["predict", "--model", classifier, "--input", huge], huge, 2)
    # predict classifies as it reads, so the bomb is met once the budget is spent: a
    # smaller budget keeps the test short.
    monkeypatch.setattr(files, "GZIP_FREE_BYTES", 256 << 10)
    bomb = gzip_bomb(tmp_path / "texts.txt.gz", 4, line=b"a fine review\n" * 64)
    assert_input_error(CLASSIFIER, ["predict", "--model", classifier, "--input", bomb], bomb)


def write_texts(path, megabytes):
    line = ("a truly wonderful film with a great cast and a story that never lets go " * 12
            ).strip() + "\n"
    with open(path, "w") as handle:
        for _ in range(megabytes * (1 << 20) // len(line)):
            handle.write(line)
    return path


PEAK_RSS = (
    "import atexit, resource, runpy, sys\n"
    "atexit.register(lambda: print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF)"
    ".ru_maxrss, file=sys.stderr))\n"
    "sys.argv = ['applications.text_classifier'] + sys.argv[1:]\n"
    "runpy.run_module('applications.text_classifier', run_name='__main__')\n")


def predict_peak_rss_kb(model, path, out):
    """Peak RSS (kB) of ``predict`` in a fresh process, its output written to ``out``."""
    with open(out, "w") as handle:
        result = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, "predict", "--model", str(model), "--input",
             str(path), "--quiet"], stdout=handle, stderr=subprocess.PIPE, text=True, cwd=REPO,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stderr.strip().splitlines()[-1].split()[1])


@pytest.mark.integration
def test_predict_memory_does_not_grow_with_the_input(classifier, tmp_path):
    small = write_texts(tmp_path / "small.txt", 1)
    large = write_texts(tmp_path / "large.txt", 24)
    small_kb = predict_peak_rss_kb(classifier, small, tmp_path / "small.tsv")
    large_kb = predict_peak_rss_kb(classifier, large, tmp_path / "large.tsv")
    rows = sum(1 for _ in open(tmp_path / "large.tsv")) - 1
    assert rows == sum(1 for _ in open(large))  # every text was classified
    # Holding the input would add its 24 MB (plus Python's overhead per string).
    assert large_kb - small_kb < 12 * 1024, (small_kb, large_kb)
