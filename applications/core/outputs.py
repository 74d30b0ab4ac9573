"""Where verbs write: a target that holds what this package did not write is refused, and a
new SavedModel replaces an old one so that a kill at any point leaves one whole.

Every check ends in one :class:`~data.errors.InputError` line naming the folder, before
anything is written. What counts as "ours":

- a run folder: ``checkpoints/application.json`` (written by ``train`` and
  ``--export-best``) naming this application, or naming none (runs made before the name
  was recorded);
- a SavedModel folder: :data:`EXPORT_MARKER` inside, written by :func:`write_export`;
- an ensemble folder: ``ensemble.json`` naming the members' application, or none;
- a search folder: ``tune.json``, or a Keras Tuner project folder ``search/``.

Example:
    >>> check_run_target("runs/tagger", "pos_tagger")  # doctest: +SKIP
"""

import glob
import json
import os
import re
import shutil

from data.errors import InputError
from data.files import atomic_write_json, file_above

EXPORT_MARKER = "encore_export.json"
EXPORT_FORMAT = "encore-saved-model"
APP_STATE = os.path.join("checkpoints", "application.json")
# What ``train`` writes into its --out; any of them not written by a run is refused.
RUN_ENTRIES = ("model.keras", "config.json", "metrics.json", "checkpoints", "logs")
ENSEMBLE_ENTRIES = ("model.keras", "config.json", "ensemble.json")
SEARCH_ENTRIES = ("tune.json", "search", "results.csv", "results.json")
_TUNER_ENTRY = re.compile(r"^(oracle\.json|tuner\w*\.json|trial_\w+|\.tmp-.*)$")


def read_dict(path):
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    try:
        with open(path, "rb") as handle:
            value = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _is_empty_dir(path):
    return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)


def _present(folder, names):
    return [name for name in names if os.path.lexists(os.path.join(folder, name))]


def make_folder(path, flag):
    """Make the output folder ``path`` (and the folders above it) and return it; one
    InputError naming ``flag`` when a file stands at ``path`` or above it."""
    _check_folder(path, flag)
    os.makedirs(path, exist_ok=True)
    return path


def _check_folder(path, flag):
    """False when ``path`` does not exist or is an empty folder; refuses a file or a link,
    and a missing path that could not be made (a file stands where a folder above it
    would go)."""
    if not os.path.lexists(path):
        above = file_above(path)
        if above is not None:
            raise InputError(f"{flag} cannot be made: {above} is a file (nothing was "
                             "changed)", path)
        return False
    if os.path.islink(path) or not os.path.isdir(path):
        raise InputError(f"{flag} must name a folder; this is a file (nothing was changed)",
                         path)
    return bool(os.listdir(path))


def overlaps(first, second):
    """Whether two paths are the same folder or one lies inside the other."""
    a, b = (os.path.realpath(p) for p in (first, second))
    return a == b or a.startswith(b.rstrip(os.sep) + os.sep) \
        or b.startswith(a.rstrip(os.sep) + os.sep)


def check_apart(out, model_path, flag="--out"):
    """Refuse an ``out`` equal to, inside or above the model folder ``model_path`` (a
    missing model is left for the loader to report)."""
    if not os.path.exists(model_path):
        return
    model_dir = model_path if os.path.isdir(model_path) else os.path.dirname(
        os.path.abspath(model_path))
    if overlaps(out, model_dir):
        raise InputError(f"{flag} is the model folder {model_path}, lies inside it or holds "
                         "it; write to a folder of its own (nothing was changed)", out)


def run_application(path):
    """The application a run folder was trained for: its name, ``""`` for a run that did not
    record one, or None when ``path`` is not a run folder."""
    state_path = os.path.join(path, APP_STATE)
    if not os.path.exists(state_path):
        return None
    state = read_dict(state_path)
    # A torn record is still the run's: resuming reports it, naming the file.
    return (state or {}).get("application") or ""


def check_run_owner(path, app_name, flag="--out"):
    """Refuse a run folder that another application's run recorded as its own.

    Returns the recorded owner (see :func:`run_application`)."""
    owner = run_application(path) if os.path.isdir(path) else None
    if owner not in (None, "", app_name):
        raise InputError(f"holds a run of {owner}, not {app_name}; choose a new {flag} "
                         "(nothing was changed)", path)
    return owner


def check_run_target(path, app_name, flag="--out"):
    """Refuse a folder ``train`` would overwrite files in that are not this application's run."""
    if not _check_folder(path, flag):
        return
    if check_run_owner(path, app_name, flag) is not None:
        return
    found = _present(path, RUN_ENTRIES)
    if found:
        raise InputError(f"holds {', '.join(found)} but is not a {app_name} run folder; "
                         f"choose a new {flag} (nothing was changed)", path)


def check_export_target(path, app_name, flag="--export-best"):
    """Refuse a folder ``tune --export-best`` would write into unless it is new, empty or an
    earlier export of ``app_name`` (whose run record, unlike a run's, names no data)."""
    found = _present(path, RUN_ENTRIES) if _check_folder(path, flag) else []
    saved = read_dict(os.path.join(path, APP_STATE)) or {}
    if found and (saved.get("application") != app_name or "data" in saved):
        raise InputError(f"holds {', '.join(found)} but is not an earlier {flag} of "
                         f"{app_name}; choose a new {flag} (nothing was changed)", path)
    _check_export_folder(os.path.join(path, "saved_model"), flag)


def check_ensemble_target(path, application, flag="--out"):
    """Refuse a folder holding model files that are not an ensemble of ``application``."""
    if not _check_folder(path, flag):
        return
    found = _present(path, ENSEMBLE_ENTRIES)
    if not found:
        return
    saved = read_dict(os.path.join(path, "ensemble.json"))
    if saved is not None and saved.get("application") in (None, application) \
            and not _present(path, ("checkpoints",)):
        return
    raise InputError(f"holds {', '.join(found)} but is not an ensemble of {application} "
                     f"models; choose a new {flag} (nothing was changed)", path)


def check_search_target(path, flag="--dir"):
    """Refuse a folder holding files a search writes that are not a search's own."""
    if not _check_folder(path, flag):
        return
    found = _present(path, SEARCH_ENTRIES)
    if not found or os.path.exists(os.path.join(path, "tune.json")):
        return
    project = os.path.join(path, "search")
    if found == ["search"] and os.path.isdir(project) and all(
            _TUNER_ENTRY.match(name) for name in os.listdir(project)):
        return  # a search killed before it wrote tune.json
    raise InputError(f"holds {', '.join(found)} but is not a search folder of this package; "
                     f"choose a new {flag} (nothing was changed)", path)


def is_export(path):
    """Whether ``path`` is a folder :func:`write_export` wrote (whole or, for a leftover
    ``.tmp``, in progress)."""
    marker = read_dict(os.path.join(path, EXPORT_MARKER))
    return bool(marker) and marker.get("format") == EXPORT_FORMAT


def _remove_leftover(path, target):
    if not os.path.lexists(path):
        return
    if _is_empty_dir(path):
        os.rmdir(path)
    elif os.path.isdir(path) and not os.path.islink(path) and is_export(path):
        shutil.rmtree(path)
    else:
        raise InputError(f"left beside {os.path.basename(target)} but not an export of this "
                         "package; move it away (nothing was changed)", path)


def _check_export_folder(path, flag, shown=None):
    """Refuse a non-empty folder at ``path`` that is not an export of this package."""
    if _check_folder(path, flag) and not is_export(path):
        raise InputError(f"exists and is not a SavedModel this package exported; choose a new "
                         f"{flag} or move it away (nothing was changed)", shown or path)


def prepare_export(export_dir):
    """Check the target of an export and recover what a killed export left.

    A kill between the two renames of :func:`write_export` leaves ``OUT.old`` and no
    ``OUT``: the old export is put back first. Leftover ``OUT.tmp`` / ``OUT.old`` folders
    are removed when they are exports of this package (or empty), else refused.

    Returns:
        ``(target, tmp, old)`` absolute paths.

    Raises:
        InputError: ``OUT`` is a file, or a non-empty folder that is not an export of this
            package, or a leftover is not ours.
    """
    target = os.path.abspath(export_dir).rstrip(os.sep)
    tmp, old = target + ".tmp", target + ".old"
    if not os.path.lexists(target) and os.path.isdir(old) and is_export(old):
        os.replace(old, target)
    _check_export_folder(target, "--out", export_dir)
    _remove_leftover(tmp, target)
    _remove_leftover(old, target)
    return target, tmp, old


def write_export(write_folder, export_dir, application):
    """Write a SavedModel by calling ``write_folder(tmp)`` beside ``export_dir``; swap it in.

    The new export is written to ``OUT.tmp`` (marked as ours first, so a killed write is
    recognised and removed next time); the old one is renamed to ``OUT.old``, the new one
    to ``OUT``, and the old one deleted. At every point either ``OUT`` or ``OUT.old`` is a
    whole export, and :func:`prepare_export` restores the latter.
    """
    target, tmp, old = prepare_export(export_dir)
    os.makedirs(tmp)
    marker = {"format": EXPORT_FORMAT, "application": application, "complete": False}
    atomic_write_json(os.path.join(tmp, EXPORT_MARKER), marker)
    try:
        write_folder(tmp)
        atomic_write_json(os.path.join(tmp, EXPORT_MARKER), {**marker, "complete": True})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if _is_empty_dir(target):
        os.rmdir(target)
    elif os.path.lexists(target):
        os.replace(target, old)
    os.replace(tmp, target)
    if os.path.lexists(old):
        shutil.rmtree(old)


def remove_run_files(folder):
    """Delete what ``train`` wrote into ``folder`` (for ``--restart``), nothing else.

    The checkpoints, the run state, the best model, ``config.json``, ``metrics.json`` and
    TensorBoard's event files; folders left empty are removed.
    """
    for name in ("model.keras", "config.json", "metrics.json"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            os.unlink(path)
    checkpoints = os.path.join(folder, "checkpoints")
    patterns = [os.path.join(glob.escape(checkpoints), p)
                for p in ("ckpt-*", "checkpoint", "application.json", ".tmp-*")]
    patterns.append(os.path.join(glob.escape(folder), "logs", "**", "events.out.tfevents.*"))
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            if os.path.isfile(path):
                os.unlink(path)
            elif os.path.isdir(path):
                shutil.rmtree(path)  # TensorFlow's ckpt-N_temp folders
    for top in (checkpoints, os.path.join(folder, "logs")):
        for root, _, _ in os.walk(top, topdown=False):  # deepest first
            if _is_empty_dir(root):
                os.rmdir(root)
