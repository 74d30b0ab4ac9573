"""Image files (PNG, JPEG) decoded in bounded memory and fitted to a model's input size.

Every file's header is read before anything is decoded: one declaring more than
:data:`MAX_IMAGE_PIXELS` pixels (a decompression bomb) is refused with an
:class:`~data.errors.InputError` naming it, and each image is resized as soon as it is
decoded, so a folder is never held at full size.
"""

import os
import warnings

import numpy as np

from data.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
# The most pixels an image file may declare (about 8000 x 8000); its header is checked
# before anything is decoded, so a decompression bomb never reaches memory.
MAX_IMAGE_PIXELS = 64_000_000


def image_files(folder):
    """The PNG and JPEG files under ``folder`` (recursively), sorted."""
    found = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(parent, n) for n in sorted(names)
                     if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith("."))
    return found


def read_image_files(paths, size=None, channels=None):
    """Decode image files into one ``uint8`` array, resized like the served model resizes.

    Every file's header is read first (its size and colour mode, nothing decoded): a file
    declaring more than :data:`MAX_IMAGE_PIXELS` pixels is refused before any decoding, and
    each image is resized as soon as it is decoded, so only one full-size image is held.
    """
    headers = [image_header(path) for path in paths]
    if channels is None:
        channels = 1 if all(gray for _, gray in headers) else 3
    size = tuple(size) if size else headers[0][0][::-1]  # PIL's (width, height)
    out = np.empty((len(paths), size[0], size[1], channels), np.uint8)
    for i, path in enumerate(paths):
        out[i] = fit_image(decode_image_file(path), size, channels)
    return out


def image_header(path):
    """``((width, height), is_gray)`` from an image file's header; nothing is decoded.

    Raises:
        InputError: the file is missing or not an image, or declares more than
            :data:`MAX_IMAGE_PIXELS` pixels.
    """
    with _opened_image(path) as image:
        return image.size, image.mode in _GRAY_MODES


def decode_image_file(path):
    """One image file's pixels, ``uint8 [H, W]`` (gray) or ``[H, W, 3]``."""
    with _opened_image(path) as image:
        try:
            image.load()
            if image.mode.startswith("I"):
                # 16-bit gray: the high byte, as TensorFlow's decoder (and the export) reads it.
                return (np.asarray(image, np.int64) >> 8).clip(0, 255).astype(np.uint8)
            gray = image.mode in _GRAY_MODES
            return np.asarray(image.convert("L" if gray else "RGB"))
        except (OSError, ValueError, SyntaxError) as err:
            raise InputError(f"cannot read image ({err.__class__.__name__}: {err})",
                             path) from None


class _opened_image:
    """``Image.open`` (which reads the header only) with the pixel count checked."""

    def __init__(self, path):
        self.path = path
        self.image = None

    def __enter__(self):
        from PIL import Image, UnidentifiedImageError

        path = self.path
        try:
            with warnings.catch_warnings():
                # This module's own limit below is lower; PIL's warning would be a second line.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self.image = Image.open(path)
        except FileNotFoundError:
            raise InputError("no such file", path) from None
        except Image.DecompressionBombError:
            raise InputError(f"refused: the image declares more than {MAX_IMAGE_PIXELS:,} "
                             "pixels (a decompression bomb?)", path) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
            raise InputError(f"cannot read image ({err.__class__.__name__}: {err})",
                             path) from None
        width, height = self.image.size
        if width * height > MAX_IMAGE_PIXELS:
            self.image.close()
            raise InputError(f"refused: the image declares {width:,} x {height:,} pixels, "
                             f"more than {MAX_IMAGE_PIXELS:,} (a decompression bomb?)", path)
        return self.image

    def __exit__(self, *exc):
        self.image.close()
        return False


def fit_image(array, size, channels):
    """One ``[H, W]`` or ``[H, W, C]`` uint8 image as ``[size[0], size[1], channels]``
    (an alpha channel, ``C`` 2 or 4, is dropped).

    Resizing is TensorFlow's bilinear ``tf.image.resize``, the op the exported model uses.
    """
    array = array[..., None] if array.ndim == 2 else array
    if array.shape[-1] in (2, 4):  # alpha, dropped as the image decoders drop it
        array = array[..., :-1]
    if array.shape[-1] != channels:
        if channels == 1:
            # ITU-R 601 luma with tf.image.rgb_to_grayscale's weights, as the export uses.
            array = np.round(array[..., :3] @ np.array([0.2989, 0.5870, 0.1140]))[..., None]
        else:
            array = np.repeat(array[..., :1], channels, axis=-1)
        array = array.astype(np.uint8)
    if tuple(array.shape[:2]) != tuple(size):
        import tensorflow as tf

        resized = tf.image.resize(array, size, method="bilinear")
        array = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8).numpy()
    return array
