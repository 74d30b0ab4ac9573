"""The applications of this package, found from its folders: one list, no hand-kept copies.

An application is a package ``applications/<name>/`` holding a ``commands.py`` (its
:class:`~applications.core.cli.AppCommands`) and a ``model.py`` (its model class, registered
with Keras for safe loading when imported). ``applications/core`` is not an application.
"""

import importlib
import os

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = "core"


def application_names():
    """Names of every ``applications/<name>/`` package with a ``commands.py``, sorted."""
    return sorted(
        name for name in os.listdir(PACKAGE_DIR)
        if name != CORE and name.isidentifier()
        and os.path.isfile(os.path.join(PACKAGE_DIR, name, "__init__.py"))
        and os.path.isfile(os.path.join(PACKAGE_DIR, name, "commands.py")))


def register_all():
    """Import every application's model module and the ensemble, registering their classes.

    Keras' safe loading only rebuilds classes registered by name; loading a saved model of
    any application therefore needs them all imported first.
    """
    for name in application_names():
        if os.path.isfile(os.path.join(PACKAGE_DIR, name, "model.py")):
            importlib.import_module(f"applications.{name}.model")
    importlib.import_module("applications.core.ensemble")
