"""Checks a ``.keras`` file before Keras reads it: only models this package builds load.

Keras' safe mode (never turned off here) already refuses Lambda layers. This check goes
further and runs before any of the file is deserialized: the archive must be whole, its
top-level object must be an application class this package registers, and every object
named anywhere in its configuration must come from Keras or from this package. A file
naming any other module (``os``, ``builtins``, a third-party package), a Lambda layer or a
serialized Python function is refused with one line, and nothing in it runs.
"""

import json
import zipfile

from data.errors import InputError

# Objects inside a saved application may come from Keras or from this package only.
ALLOWED_MODULES = ("keras", "applications", "encoders", "data")
# Objects that carry Python code (marshalled bytecode) or load other files.
REFUSED_CLASSES = {"Lambda", "__lambda__", "__function__", "TFSMLayer", "function"}
REGISTERED_PREFIX = "encore>"


def _allowed_module(module):
    return module is None or module.split(".")[0] in ALLOWED_MODULES


def _walk(node, path, where="config"):
    if isinstance(node, dict):
        if "class_name" in node:
            name, module = node.get("class_name"), node.get("module")
            registered = node.get("registered_name")
            if name in REFUSED_CLASSES or registered in REFUSED_CLASSES:
                raise InputError(f"refused: {where} holds a {name!r} object, which carries "
                                 "code; only models this package builds are loaded", path)
            if not isinstance(module, (str, type(None))) or not _allowed_module(module):
                raise InputError(f"refused: {where} names {module}.{name}, outside Keras and "
                                 "this package; only models this package builds are loaded",
                                 path)
            if (isinstance(registered, str) and registered != name
                    and not registered.startswith(REGISTERED_PREFIX)):
                raise InputError(f"refused: {where} names the unknown object {registered!r}",
                                 path)
        for key, value in node.items():
            _walk(value, path, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, path, f"{where}[{i}]")


def check_model_archive(path, application_base):
    """Raise :class:`InputError` unless ``path`` is a whole ``.keras`` file of an application.

    Args:
        path: the ``.keras`` file.
        application_base: the class every loadable top-level object must subclass.
    """
    import keras

    if not str(path).endswith(".keras"):
        raise InputError("refused: only .keras files saved by this package are loaded", path)
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            if broken:
                raise InputError(f"torn file: member {broken} fails its CRC check", path)
            config = json.loads(archive.read("config.json").decode("utf-8"))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise InputError(f"not a whole .keras file ({type(err).__name__})", path) from None
    except KeyError:
        raise InputError("not a .keras model file (no config.json inside)", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError("not a .keras model file (config.json is not JSON)", path) from None
    if not isinstance(config, dict):
        raise InputError("not a .keras model file (config.json is not an object)", path)
    registered = config.get("registered_name")
    cls = (keras.saving.get_registered_object(registered)
           if isinstance(registered, str) and registered.startswith(REGISTERED_PREFIX) else None)
    if not (isinstance(cls, type) and issubclass(cls, application_base)):
        name = registered or config.get("class_name")
        raise InputError(f"refused: {name!r} is not an application this package builds", path)
    _walk(config, path)
