"""Checks a ``.keras`` file before Keras reads it: only models this package builds load.

Keras' safe mode (never turned off here) already refuses Lambda layers. This check goes
further and runs before any of the file is deserialized: the archive must be whole, its
top-level object must be an application class this package registers, and every object
named anywhere in its configuration must come from Keras or from this package. A file
naming any other module (``os``, ``builtins``, a third-party package), a Lambda layer or a
serialized Python function is refused with one line, and nothing in it runs. Sizes come
first: a member the zip directory declares too large, a ``config.json`` over
:data:`MAX_CONFIG_BYTES` (read in a bounded way whatever the directory says) or nested
deeper than :data:`MAX_NESTING` is refused before it is inflated or parsed.
"""

import json
import re
import zipfile

from data.errors import InputError

# Objects inside a saved application may come from Keras or from this package only.
ALLOWED_MODULES = ("keras", "applications", "encoders", "data")
# Objects that carry Python code (marshalled bytecode) or load other files.
REFUSED_CLASSES = {"Lambda", "__lambda__", "__function__", "TFSMLayer", "function"}
REGISTERED_PREFIX = "encore>"
# Bounds checked before anything is parsed: a model's config.json is some kilobytes and
# nests a few dozen levels; the weights file of a large model is some gigabytes.
MAX_CONFIG_BYTES = 16 << 20
MAX_NESTING = 200
MAX_MEMBER_BYTES = 64 << 30
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


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
            _check_member_sizes(archive, path)
            broken = archive.testzip()
            if broken:
                raise InputError(f"torn file: member {broken} fails its CRC check", path)
            with archive.open("config.json") as member:
                # Bounded even if the directory understates the size.
                text = member.read(MAX_CONFIG_BYTES + 1)
            if len(text) > MAX_CONFIG_BYTES:
                raise InputError(f"refused: config.json is over {MAX_CONFIG_BYTES:,} bytes",
                                 path)
            text = text.decode("utf-8")
            _check_nesting(text, path)
            config = json.loads(text)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise InputError(f"not a whole .keras file ({type(err).__name__})", path) from None
    except KeyError:
        raise InputError("not a .keras model file (no config.json inside)", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InputError("not a .keras model file (config.json is not JSON)", path) from None
    if not isinstance(config, dict):
        raise InputError("not a .keras model file (config.json is not an object)", path)
    registered = config.get("registered_name")
    cls = (keras.saving.get_registered_object(registered)
           if isinstance(registered, str) and registered.startswith(REGISTERED_PREFIX) else None)
    if not (isinstance(cls, type) and issubclass(cls, application_base)):
        name = registered or config.get("class_name")
        raise InputError(f"refused: {name!r} is not an application this package builds", path)
    try:
        _walk(config, path)
    except RecursionError:
        raise InputError(f"refused: config.json nests more than {MAX_NESTING} levels",
                         path) from None


def _check_member_sizes(archive, path):
    # Sizes as the zip directory declares them, checked before anything is inflated.
    for info in archive.infolist():
        limit = MAX_CONFIG_BYTES if info.filename.endswith(".json") else MAX_MEMBER_BYTES
        if info.file_size > limit:
            raise InputError(f"refused: member {info.filename} declares {info.file_size:,} "
                             f"bytes uncompressed, over the {limit:,} allowed", path)


def _check_nesting(text, path):
    """Refuse JSON nested deeper than :data:`MAX_NESTING` before ``json.loads`` recurses."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            raise InputError(f"refused: config.json nests more than {MAX_NESTING} levels",
                             path)
