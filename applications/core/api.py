"""The Python API: load a trained or exported model and call it on raw Python inputs.

    import applications

    tagger = applications.load("runs/tagger")   # an application directory or a SavedModel
    tagger.predict(["The old man saw a dog."])  # [[("The", "DET"), ("old", "ADJ"), ...]]

One rule for every application: ``predict`` given raw inputs, a ``str`` (one input) or a
list or tuple of ``str`` (a batch; ``os.PathLike`` counts as ``str``), returns Python
structures, a list with one result per input, or the one result for a single ``str``.
Anything else given to a Keras model's ``predict`` (arrays, tensors or datasets of model
inputs) goes to Keras' own ``predict`` unchanged. Raw inputs that are not strings (images
as arrays, a numeric time series) go to the application's named method
(``ImageClassifier.classify``, ``Autoencoder.reconstruct``, ``AnomalyDetector.detect``).

Every path runs the application's serving module: a loaded application calls the functions
of ``model.serving_module()``, a loaded SavedModel the same functions as its signatures, and
one function per application turns their outputs into Python values, so the command line,
the Python API and the SavedModel give the same answers.
"""

import importlib
import os
import pkgutil

import numpy as np

from applications.core.base import is_raw_input, load_model  # noqa: F401 (the rule)
from data.errors import InputError

SAVED_MODEL_FILE = "saved_model.pb"

# Classes for SavedModels of each application, registered by its serving module.
EXPORTED_KINDS = []


def one_or_many(inputs, run):
    """``run(list of str)`` over a batch; a single ``str`` gets its one result back."""
    if isinstance(inputs, (str, os.PathLike)):
        return run([os.fspath(inputs)])[0]
    items = [os.fspath(item) for item in inputs]
    return run(items) if items else []


def model_server(model):
    """``model.serving_module()``, built once per model and kept beside it.

    The server holds lookup tables and traced functions; building one per call would
    retrace every time. It is kept outside Keras' and TensorFlow's attribute tracking, so
    saving and checkpointing the model do not see it.
    """
    server = model.__dict__.get("_raw_input_server")
    if server is None:
        server = model.serving_module()
        object.__setattr__(model, "_raw_input_server", server)
    return server


def image_batch(images, shape):
    """``(uint8 [N, H, W, C] pixels, single)`` for the model's ``shape`` ``(H, W, C)``.

    ``images`` is an image file path, a list of paths, one image array (``[H, W]`` or
    ``[H, W, C]``), a batch (``[N, H, W, C]``), or a list of arrays. Files are read as the
    ``predict`` command reads them; ``uint8`` arrays are pixels, float arrays lie in
    [0, 1] (or [0, 255]); other sizes and channel counts are converted as files are.
    ``single`` is True when one image was given.
    """
    from data.images import as_uint8_images, fit_image, read_image_files

    height, width, channels = shape
    single = isinstance(images, (str, os.PathLike)) or (
        isinstance(images, np.ndarray) and images.ndim in (2, 3))
    items = [images] if single else list(images)
    if not items:
        return np.zeros((0, height, width, channels), np.uint8), single
    pixels = []
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            pixels.append(read_image_files([os.fspath(item)], (height, width), channels)[0])
            continue
        array = np.asarray(item)
        if array.ndim not in (2, 3):
            raise ValueError(f"an image array is [H, W] or [H, W, C], not {array.shape}")
        array = as_uint8_images(array[None], "<array>")[0]
        pixels.append(fit_image(array, (height, width), channels))
    return np.stack(pixels), single


class ExportedModel:
    """A SavedModel written by ``export``, called like the application it came from.

    Subclasses (one per application, in its serving module) name the ``serve`` outputs
    that identify their SavedModels and implement ``predict`` over ``self.signatures``.

    Args:
        path: the SavedModel directory.
        loaded: what ``tf.saved_model.load(path)`` returned.
    """

    # The set of output names of the ``serve`` signature of this application's exports.
    serve_outputs = frozenset()

    def __init__(self, path, loaded):
        self.path = path
        self.loaded = loaded
        self.signatures = loaded.signatures

    @classmethod
    def matches(cls, signatures):
        serve = signatures.get("serve")
        return serve is not None and set(serve.structured_outputs) == set(cls.serve_outputs)

    def predict(self, inputs, **options):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.path!r})"


def exported_kind(cls):
    """Class decorator: register an :class:`ExportedModel` subclass for :func:`load`."""
    EXPORTED_KINDS.append(cls)
    return cls


def load(path):
    """Load an application directory (holding ``model.keras``) or an exported SavedModel.

    Returns the application (a Keras model whose ``predict`` also takes raw inputs) or,
    for a SavedModel, an :class:`ExportedModel` with the same ``predict``.

    Raises:
        InputError: nothing loadable at ``path``.
    """
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
        return load_exported(path)
    return load_model(path)


def load_exported(path):
    """An :class:`ExportedModel` for the SavedModel at ``path``, by its ``serve`` outputs."""
    import tensorflow as tf

    _import_serving_modules()
    loaded = tf.saved_model.load(path)
    for kind in EXPORTED_KINDS:
        if kind.matches(loaded.signatures):
            return kind(path, loaded)
    raise InputError("not a SavedModel exported by an Encore application (its serve "
                     "signature is not one this package writes)", path)


def _import_serving_modules():
    """Import every application's serving module, so each registers its exported kind.

    The applications are found as the sibling packages of ``core`` holding a
    ``serving.py``; the core names none of them.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package = __name__.rsplit(".", 2)[0]
    for info in pkgutil.iter_modules([root]):
        if info.ispkg and os.path.isfile(os.path.join(root, info.name, "serving.py")):
            importlib.import_module(f"{package}.{info.name}.serving")
