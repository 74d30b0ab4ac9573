"""ABC music notation: tunes out of files, their header fields, metres and note lengths.

A tune runs from its ``X:`` line to the first blank line (or the next ``X:`` line); text
before the first ``X:`` is a file header and is left out. :mod:`data.abc_check` reads a
tune note by note and checks its bars against the metre.

Example:
    >>> tune = split_tunes("X:1\\nT:Air\\nM:3/4\\nK:G\\nG2A|B3|]\\n")[0]
    >>> header_fields(tune.text)["M"]
    '3/4'
"""

import dataclasses
import os
import re
from fractions import Fraction

from data.errors import InputError
from data.files import iter_lines

# A header or body field line ("M:6/8"), and the length written after a note ("3/2").
FIELD_LINE = re.compile(r"^([A-Za-z]):(.*)$")
NOTE_LENGTH = re.compile(r"(\d*)(/*)(\d*)")


@dataclasses.dataclass
class Tune:
    """One tune: its text (``X:`` line to last line, each line ending ``"\\n"``) and where it
    starts (``path``, 1-based ``line``)."""

    text: str
    path: str = "<text>"
    line: int = 1


def split_tunes(text, path="<text>"):
    """The tunes of an ABC text, in order, as :class:`Tune` objects."""
    tunes, lines, start = [], None, 0
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.rstrip("\r")
        if line.startswith("X:"):
            if lines:
                tunes.append(Tune("".join(lines), path, start))
            lines, start = [line + "\n"], number
        elif lines is not None:
            if not line.strip():
                tunes.append(Tune("".join(lines), path, start))
                lines = None
            else:
                lines.append(line + "\n")
    if lines:
        tunes.append(Tune("".join(lines), path, start))
    return tunes


def abc_files(path):
    """``[path]`` for a file; the ``.abc`` files of a folder (sorted) for a folder."""
    if not os.path.isdir(path):
        return [path]
    names = sorted(name for name in os.listdir(path) if name.lower().endswith(".abc"))
    if not names:
        raise InputError("folder holds no .abc files", path)
    return [os.path.join(path, name) for name in names]


def read_tunes(path):
    """Every tune of an ABC file, or of all ``.abc`` files in a folder (one corpus).

    Raises:
        InputError: a missing file, bytes that are not UTF-8, or no ``X:`` tune at all.
    """
    tunes = []
    for name in abc_files(path):
        text = "".join(line + "\n" for _, line in iter_lines(name))
        found = split_tunes(text, name)
        if not found:
            raise InputError("no tunes (no line starts with X:)", name)
        tunes.extend(found)
    return tunes


def header_fields(text):
    """``{field letter: value}`` of a tune's header (up to its first ``K:`` line); a field
    given twice keeps its last value."""
    fields = {}
    for line in text.splitlines():
        match = FIELD_LINE.match(line)
        if line.startswith("%"):
            continue
        if not match:
            break
        fields[match.group(1)] = match.group(2).strip()
        if match.group(1) == "K":
            break
    return fields


def parse_metre(value):
    """A bar's length in whole notes (``"6/8"`` -> 3/4, ``C`` -> 1, ``C|`` -> 1), None for
    ``none``; compound numerators such as ``(2+3)/8`` are summed.

    Raises:
        ValueError: a value that is not a metre.
    """
    value = value.split("%")[0].strip()
    if value.lower() in ("none", ""):
        return None
    if value in ("C", "C|"):
        return Fraction(1)
    top, slash, bottom = value.partition("/")
    numerator = sum(int(n) for n in top.strip("() ").split("+")) if slash else 0
    if not slash or not bottom.strip().isdigit() or numerator <= 0 or int(bottom) == 0:
        raise ValueError(f"M: {value!r} is not a metre")
    return Fraction(numerator, int(bottom))


def parse_unit(value):
    """``L:`` as a fraction of a whole note (``"1/8"`` -> 1/8)."""
    value = value.split("%")[0].strip()
    top, slash, bottom = value.partition("/")
    if not (top.isdigit() and (not slash or bottom.isdigit())) or (slash and int(bottom) == 0):
        raise ValueError(f"L: {value!r} is not a note length")
    return Fraction(int(top), int(bottom) if slash else 1)


def default_unit(metre):
    """The standard's default ``L:``: 1/16 under a metre shorter than 3/4, else 1/8."""
    return Fraction(1, 16) if metre is not None and metre < Fraction(3, 4) else Fraction(1, 8)


def length_multiplier(text):
    """The multiplier written after a note (``"3"``, ``"/2"``, ``"//"``, ``"3/2"``)."""
    top, slashes, bottom = NOTE_LENGTH.fullmatch(text).groups()
    value = Fraction(int(top) if top else 1)
    if bottom:
        return value / (int(bottom) * 2 ** (len(slashes) - 1)) if slashes else value
    return value / 2 ** len(slashes)
