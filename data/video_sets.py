"""Labelled clip collections: where the clips are, how long, and their clip or frame labels.

A :class:`VideoSet` reads clips on demand (one at a time, :mod:`data.video_files`) and holds
only names, lengths and labels. Inputs:

* an ``.npy`` array ``[clips, T, H, W(, C)]`` (memory-mapped) or an ``.npz`` with ``clips``
  and optionally ``labels`` ``[clips]``, ``frame_labels`` ``[clips, T]`` (negative or ``""``
  = no label) and ``lengths`` ``[clips]`` (frames beyond a clip's length are padding); an
  uncompressed ``.npz`` is memory-mapped too;
* a folder of clips (video files, or folders of frame images), labelled by a CSV;
* the UCF-101 layout ``class_name/clip.avi`` (or ``class_name/clip/frame.png``), labelled by
  its folders when no CSV is given.

Label CSVs have rows ``clip,label`` (clip labels) or ``clip,frame,label`` (frame labels,
frames counted from 0); a header row naming those columns is optional. ``clip`` is the
array index, or the clip's path under the folder with or without its suffix.
"""

import csv
import os
import struct
import zipfile

import numpy as np

from data.errors import InputError
from data.image_sets import label_order
from data.video_files import (fit_clip, frame_files, is_video_file, read_frame_folder,
                              read_video)


class VideoSet:
    """Clips read on demand, with their names, lengths and labels.

    Args:
        path: where the clips are (for messages and fingerprints).
        names: one name per clip.
        reader: ``reader(i)`` returns clip ``i`` as ``uint8 [T, H, W, C]``.
        lengths: frames per clip.
        clip_labels: one label string per clip, or None.
        frame_labels: per clip a list of ``T`` label strings (``""`` = unlabelled), or None.
    """

    def __init__(self, path, names, reader, lengths, clip_labels=None, frame_labels=None):
        self.path, self.names, self.reader = path, list(names), reader
        self.lengths = np.asarray(lengths, np.int64)
        self.clip_labels, self.frame_labels = clip_labels, frame_labels

    def __len__(self):
        return len(self.names)

    def read(self, index):
        return self.reader(int(index))

    def frame_label_names(self):
        if self.frame_labels is None:
            return []
        return sorted({l for row in self.frame_labels for l in row if l}, key=label_order)

    def clip_label_names(self):
        return [] if self.clip_labels is None else sorted(set(self.clip_labels), key=label_order)

    def subset(self, indices):
        """The clips at ``indices`` (in that order) as a set of their own."""
        indices = [int(i) for i in indices]
        pick = lambda values: None if values is None else [values[i] for i in indices]
        return VideoSet(self.path, pick(self.names), lambda i: self.reader(indices[i]),
                        self.lengths[indices], pick(self.clip_labels), pick(self.frame_labels))


def read_video_set(path, labels_path=None, frames=0, fps=0.0, size=None, channels=None,
                   require_labels=True):
    """Read a clip collection (see the module docstring) and check every clip.

    ``size`` (``[H, W]``) and ``channels`` fit every clip; None keeps the first clip's.
    """
    if not os.path.exists(path):
        raise InputError("no such file or folder", path)
    if os.path.isfile(path) and path.lower().endswith((".npy", ".npz")):
        data = _array_set(path, size, channels)
    elif os.path.isdir(path):
        data = _file_set(path, frames, fps, size, channels)
    elif os.path.isfile(path) and is_video_file(path):
        reader = (lambda i: read_video(path, frames, fps, size, channels or 3))
        data = VideoSet(path, [os.path.basename(path)], reader, [len(reader(0))])
    else:
        raise InputError("expected a .npy or .npz clip array, a video file, or a folder of "
                         "clips", path)
    if labels_path:
        _apply_label_csv(data, labels_path)
    if require_labels and data.clip_labels is None and data.frame_labels is None:
        raise InputError("no labels: give a clip,label or clip,frame,label CSV, an .npz with "
                         "labels or frame_labels, or class folders", path)
    return data


def _array_set(path, size, channels):
    arrays = _open_arrays(path)
    clips = arrays.get("clips")
    if clips is None or clips.ndim not in (4, 5):
        raise InputError("expected clips [clips, T, H, W] or [clips, T, H, W, C] (an .npz "
                         "names them 'clips')", path)
    if clips.shape[0] < 1:
        raise InputError("the array holds no clips", path)
    if clips.shape[1] < 1:
        raise InputError("clips of 0 frames: a clip needs at least one frame", path)
    if clips.dtype != np.uint8:
        raise InputError(f"clips must be uint8 pixels (0-255), not {clips.dtype}", path)
    if clips.ndim == 5 and clips.shape[-1] not in (1, 2, 3, 4):
        raise InputError(f"clips must have 1 to 4 channels (gray or RGB, with or without "
                         f"alpha), not {clips.shape[-1]}", path)
    count, t = clips.shape[:2]
    lengths = np.full(count, t) if "lengths" not in arrays else np.asarray(arrays["lengths"])
    if lengths.shape != (count,) or (len(lengths) and not 1 <= lengths.min() <= lengths.max() <= t):
        bad = int(np.argmin(lengths)) if len(lengths) else 0
        raise InputError(f"lengths must give 1..{t} frames for each of {count} clips (clip "
                         f"{bad} is shorter than one frame or longer than the array)", path)
    clip_labels = frame_labels = None
    if "labels" in arrays:
        clip_labels = [str(v) for v in np.asarray(arrays["labels"]).tolist()]
        if len(clip_labels) != count:
            raise InputError(f"{len(clip_labels)} labels for {count} clips", path)
    if "frame_labels" in arrays:
        table = np.asarray(arrays["frame_labels"])
        if table.shape != (count, t):
            raise InputError(f"frame_labels must be [{count}, {t}], not {list(table.shape)}",
                             path)
        frame_labels = [[_frame_label(v) for v in row] for row in table.tolist()]
        for i, n in enumerate(lengths.tolist()):
            extra = [f for f in range(n, t) if frame_labels[i][f]]
            if extra:
                raise InputError(f"clip {i}: a label for frame {extra[0]}, but the clip has "
                                 f"{n} frames", path)
            frame_labels[i] = frame_labels[i][:n]

    def reader(i):
        clip = np.asarray(clips[i, :lengths[i]])
        return fit_clip(clip[..., None] if clip.ndim == 3 else clip, size, channels)

    return VideoSet(path, [str(i) for i in range(count)], reader, lengths, clip_labels,
                    frame_labels)


def _frame_label(value):
    if isinstance(value, (int, np.integer)):
        return "" if value < 0 else str(value)
    return str(value)


def _open_arrays(path):
    """``{name: array}`` of an ``.npy`` (as ``clips``) or ``.npz``, memory-mapped if stored."""
    try:
        if path.lower().endswith(".npy"):
            return {"clips": np.load(path, mmap_mode="r", allow_pickle=False)}
        arrays = {}
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if info.compress_type == zipfile.ZIP_STORED and name == "clips":
                    arrays[name] = _stored_member_memmap(path, info)
                else:
                    with archive.open(info) as member:
                        arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
        return arrays
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(f"cannot read the clip array ({type(err).__name__}: {err})",
                         path) from None


def _stored_member_memmap(path, info):
    """A read-only memory map of an uncompressed ``.npy`` member of a zip archive."""
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        version = np.lib.format.read_magic(handle)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(handle)
        offset = handle.tell()
    return np.memmap(path, dtype, "r", offset, shape, "F" if fortran else "C")


def _file_set(root, frames, fps, size, channels):
    """Clips under ``root``: video files or frame folders, at top level or in class folders."""
    entries = [e for e in sorted(os.listdir(root)) if not e.startswith(".")]
    clips, classes = [], []
    for entry in entries:
        full = os.path.join(root, entry)
        if _is_clip(full):
            clips.append(full)
            classes.append(None)
        elif os.path.isdir(full):  # a class folder of clips (UCF-101 layout)
            for inner in sorted(os.listdir(full)):
                if not inner.startswith(".") and _is_clip(os.path.join(full, inner)):
                    clips.append(os.path.join(full, inner))
                    classes.append(entry)
    if not clips:
        raise InputError("no clips here (video files, or folders of frame images)", root)

    def reader(i):
        clip = clips[i]
        shape = size or first_size
        if os.path.isdir(clip):
            return read_frame_folder(clip, frames, shape, channels or 3)
        return fit_clip(read_video(clip, frames, fps, shape, channels or 3), shape)

    first_size = None
    first = reader(0)
    first_size = first.shape[1:3]
    # Every clip is read once here: a broken one is named before training starts.
    lengths = [len(first)] + [len(reader(i)) for i in range(1, len(clips))]
    names = [_clip_name(os.path.relpath(c, root)) for c in clips]
    labelled = all(c is not None for c in classes)
    return VideoSet(root, names, reader, lengths, classes if labelled else None)


def _is_clip(path):
    if os.path.isfile(path):
        return is_video_file(path)
    return os.path.isdir(path) and bool(frame_files(path))


def _clip_name(name):
    name = name.replace(os.sep, "/")
    stem, suffix = os.path.splitext(name)
    return stem if is_video_file(name) else name


def _apply_label_csv(data, path):
    """Set ``data``'s clip or frame labels from a ``clip,label`` / ``clip,frame,label`` CSV."""
    index = {name: i for i, name in enumerate(data.names)}
    clip_labels, frame_labels = {}, None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # Excel writes a BOM
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the label file ({err})", path) from None
    width = None
    for line, row in enumerate(rows, 1):
        row = [cell.strip() for cell in row]
        if not any(row):
            continue
        if line == 1 and row[0].lower() == "clip":
            continue
        if len(row) not in (2, 3) or (width is not None and len(row) != width):
            raise InputError(f"expected clip,label or clip,frame,label, found {len(row)} "
                             "fields", path, line)
        width = len(row)
        clip = _clip_name(row[0])
        if clip not in index:
            raise InputError(f"no clip named {row[0]!r} in {data.path}", path, line)
        i = index[clip]
        if width == 2:
            clip_labels[i] = row[1]
            continue
        if frame_labels is None:
            frame_labels = [[""] * int(n) for n in data.lengths]
        try:
            frame = int(row[1])
        except ValueError:
            raise InputError(f"frame must be a number, not {row[1]!r}", path, line) from None
        if not 0 <= frame < data.lengths[i]:
            raise InputError(f"a label for frame {frame} of clip {row[0]!r}, which has "
                             f"{data.lengths[i]} frames (0-{data.lengths[i] - 1})", path, line)
        frame_labels[i][frame] = row[2]
    if width is None:
        raise InputError("no labels in the file", path)
    if width == 2:
        missing = [data.names[i] for i in range(len(data)) if i not in clip_labels]
        if missing:
            raise InputError(f"no label for clip {missing[0]!r} ({len(missing)} unlabelled)",
                             path)
        data.clip_labels = [clip_labels[i] for i in range(len(data))]
    else:
        data.frame_labels = frame_labels
