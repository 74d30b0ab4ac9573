"""Image readers: IDX files (as MNIST ships them, ``.gz`` or raw), ``.npz`` and class folders.

Every reader returns an :class:`ImageSet`: ``uint8`` pixels ``[N, H, W, C]`` kept as they are
(scaling happens inside the model's graph) and one label string per image. A bad file raises
:class:`~data.errors.InputError` naming it; a bad image inside a folder is named itself.
"""

import os
import struct
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from data.errors import InputError
from data.files import MAX_GZIP_RATIO, decompress_gzip, gzip_budget
# Image files are read in data.image_files; these names stay importable from here too.
from data.image_files import (IMAGE_SUFFIXES, MAX_IMAGE_PIXELS, fit_image,  # noqa: F401
                              image_files, read_image_files)

# IDX type byte -> big-endian NumPy dtype ("THE IDX FILE FORMAT", yann.lecun.com/exdb/mnist).
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class ImageSet(NamedTuple):
    """Images and their labels as read from one source.

    Attributes:
        images: ``uint8`` array ``[N, H, W, C]``.
        labels: one label string per image, or None for unlabelled input.
        names: where each image came from (file paths for folders, else None).
        path: the file or folder read.
    """

    images: np.ndarray
    labels: list
    names: list
    path: str


def read_idx(path):
    """Read one IDX file (gzip-compressed or raw) into an array with the shape its header gives.

    Example:
        >>> read_idx("train-labels-idx1-ubyte.gz").shape  # doctest: +SKIP
        (60000,)
    """
    payload = _read_bytes(path)
    if len(payload) < 4:
        raise InputError(f"truncated IDX header: {len(payload)} byte(s), expected at least 4",
                         path)
    zero, type_code, ndim = struct.unpack(">HBB", payload[:4])
    if zero != 0 or type_code not in IDX_TYPES or ndim == 0:
        magic = int.from_bytes(payload[:4], "big")
        raise InputError(f"not an IDX file (magic number 0x{magic:08x}; MNIST images start "
                         "with 0x00000803, labels with 0x00000801)", path)
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise InputError(f"truncated IDX header: {ndim} dimensions need {header} bytes, the "
                         f"file holds {len(payload)}", path)
    dims = struct.unpack(f">{ndim}I", payload[4:header])
    dtype = np.dtype(IDX_TYPES[type_code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(payload) - header
    if found != expected:
        shape = "x".join(str(d) for d in dims)
        problem = "truncated" if found < expected else "extra bytes"
        raise InputError(f"the IDX header declares {shape} values ({expected} bytes) but "
                         f"{found} bytes follow it ({problem})", path)
    values = np.frombuffer(payload, dtype, offset=header).reshape(dims)
    return values.astype(dtype.newbyteorder("="))


def _read_bytes(path):
    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", path) from None
    except PermissionError:
        raise InputError("permission denied", path) from None
    if payload[:2] == b"\x1f\x8b":
        payload = decompress_gzip(payload, path)
    return payload


def read_idx_images(images_path, labels_path=None):
    """IDX images ``[N, H, W]`` or ``[N, H, W, C]`` and, if given, IDX labels ``[N]``."""
    images = as_uint8_images(read_idx(images_path), images_path)
    labels = None
    if labels_path is not None:
        raw = read_idx(labels_path)
        if raw.ndim != 1:
            raise InputError(f"IDX labels must have one dimension, this file has {raw.ndim} "
                             f"({'x'.join(map(str, raw.shape))})", labels_path)
        labels = label_strings(raw, labels_path)
        _check_counts(len(images), len(labels), images_path, labels_path)
    return ImageSet(images, labels, None, str(images_path))


def read_npz(path, require_labels=True):
    """A NumPy ``.npz`` archive holding ``x`` (images) and ``y`` (labels) arrays."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except OSError as err:
        raise InputError(f"cannot read it ({err.strerror or err})", path) from None
    if not start.startswith(b"PK"):  # an .npz is a zip archive
        raise InputError("not a NumPy .npz archive (an .npz is a zip file; this one is "
                         + ("empty)" if not start else "not)"), path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise InputError(f"not a readable .npz file ({err})", path) from None
    with archive:
        _check_npz_size(archive, path)
        if "x" not in archive.files or (require_labels and "y" not in archive.files):
            wanted = "'x' and 'y'" if require_labels else "'x'"
            raise InputError(f"an .npz file must hold arrays {wanted}; this one holds "
                             f"{sorted(archive.files) or 'none'}", path)
        try:
            x = archive["x"]
            y = archive["y"] if "y" in archive.files else None
        except (ValueError, OSError, zlib.error) as err:
            raise InputError(f"cannot read its arrays ({err})", path) from None
    images = as_uint8_images(x, path)
    labels = None
    if y is not None:
        y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1:
            raise InputError(f"'y' must hold one label per image, its shape is {y.shape}", path)
        labels = label_strings(y, path)
        _check_counts(len(images), len(labels), path, path)
    return ImageSet(images, labels, None, str(path))


def _check_npz_size(archive, path):
    # The arrays' sizes as the zip directory declares them, before any is inflated.
    declared = sum(info.file_size for info in archive.zip.infolist())
    allowed = gzip_budget(os.path.getsize(path))
    if declared > allowed:
        raise InputError(f"refused: its arrays declare {declared:,} bytes, more than "
                         f"{MAX_GZIP_RATIO} times the file's size (a decompression bomb?)",
                         path)


def read_image_folder(root, size=None, channels=None):
    """One sub-folder per class, each holding PNG or JPEG files; the folder name is the label.

    Args:
        root: the folder of class folders.
        size: ``(height, width)`` to resize to; default: the first image's size.
        channels: 1 or 3; default: 1 when every image is grayscale, else 3.
    """
    if not os.path.isdir(root):
        raise InputError("no such folder" if not os.path.exists(root) else
                         "expected a folder of class folders", root)
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise InputError("expected one sub-folder per class holding PNG or JPEG images; "
                         "found no sub-folders", root)
    files, labels = [], []
    for name in classes:
        found = image_files(os.path.join(root, name))
        if not found:
            raise InputError("class folder holds no PNG or JPEG images", os.path.join(root, name))
        files.extend(found)
        labels.extend([name] * len(found))
    images = read_image_files(files, size, channels)
    return ImageSet(images, labels, files, str(root))


def as_uint8_images(array, path):
    """``[N, H, W]`` or ``[N, H, W, C]`` pixels as uint8; floats in [0, 1] are scaled by 255."""
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise InputError(f"expected images [N, height, width] or [N, height, width, 1 or 3], "
                         f"found shape {tuple(array.shape)}", path)
    if len(array) == 0:
        raise InputError("holds no images", path)
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise InputError(f"pixels must be numbers, not {array.dtype}", path)
    if not np.all(np.isfinite(array)):
        raise InputError("pixels include NaN or infinite values", path)
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 255:
        raise InputError(f"pixels must lie in [0, 255] (or [0, 1] for floats), found "
                         f"[{low:g}, {high:g}]", path)
    if np.issubdtype(array.dtype, np.floating) and high <= 1.0:
        array = array * 255.0
    return np.round(array).astype(np.uint8)


def label_strings(values, path):
    """Labels as strings: integers (and integral floats) as decimals, text as it is."""
    if values.dtype.kind in "US":
        try:
            return [v.decode("utf-8") if isinstance(v, bytes) else str(v)
                    for v in values.tolist()]
        except UnicodeDecodeError:
            raise InputError("labels are bytes that are not UTF-8", path) from None
    if values.dtype.kind in "iub":
        return [str(int(v)) for v in values.tolist()]
    finite_floats = values.dtype.kind == "f" and np.all(np.isfinite(values))
    if finite_floats and np.all(values == np.round(values)):
        return [str(int(v)) for v in values.tolist()]
    raise InputError(f"labels must be integers or strings, not {values.dtype}", path)


def _check_counts(images, labels, images_path, labels_path):
    if images != labels:
        raise InputError(f"{labels} label(s) for {images} image(s) in {images_path}",
                         labels_path)


def read_images(path, labels_path=None, require_labels=True, size=None, channels=None):
    """Read any supported source: a class folder, an ``.npz`` file, or IDX images (+ labels).

    IDX images need ``labels_path`` when ``require_labels``; ``.npz`` and folders carry their
    labels themselves, so ``labels_path`` is refused for them.
    """
    path = str(path)
    if os.path.isdir(path):
        kind = "folder"
    elif path.lower().endswith(".npz"):
        kind = "npz"
    elif path.lower().endswith(tuple(IMAGE_SUFFIXES)):
        raise InputError("one image file: give a folder of class folders, an .npz file or "
                         "IDX files", path)
    else:
        kind = "idx"
    if labels_path is not None and kind != "idx":
        raise InputError(f"a labels file goes with IDX images; an {kind} input carries its "
                         "own labels", labels_path)
    if kind == "folder":
        return read_image_folder(path, size, channels)
    if kind == "npz":
        return read_npz(path, require_labels)
    if require_labels and labels_path is None:
        raise InputError("IDX images need their labels file too (--train-labels, "
                         "--dev-labels or --labels)", path)
    return read_idx_images(path, labels_path)

