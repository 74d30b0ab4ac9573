"""What every application's export shares: the serving module's base class and ``export``."""

import keras
import tensorflow as tf


class ServingModule(tf.Module):
    """Base of every application's serving code: raw inputs in, readable outputs out.

    Subclasses define ``tf.function`` methods with input signatures and list them in
    ``endpoints()``; ``predict`` calls them directly and :func:`export` writes them out.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def endpoints(self):
        return {"serve": self.serve}


def export(model, export_dir):
    """Write a SavedModel with the serving module's endpoints (``serve`` is the default).

    Keras' ``ExportArchive`` records every variable and lookup table, so the result also
    runs in TF1-style tools such as ``saved_model_cli run``. The folder is written beside
    the target and swapped in (:func:`applications.core.outputs.write_export`): a failed or
    killed export leaves the older one intact, and a target that is not an earlier export
    of this package is refused with nothing changed.
    """
    from applications.core.outputs import write_export

    server = model.serving_module()
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(server)
    for name, fn in server.endpoints().items():
        archive.add_endpoint(name, fn)
    write_export(lambda tmp: archive.write_out(tmp, verbose=False), export_dir,
                 model.application_class().__name__)
