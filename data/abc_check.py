"""A bar-by-bar check of an ABC tune against its metre.

:func:`check_tune` reads a tune's body symbol by symbol (default note length ``L:``, note
and rest lengths, chords, tuplets, broken rhythms, grace notes, inline fields, bar lines
and endings) and compares every bar's length with the metre in force.

Example:
    >>> result = check_tune("X:1\\nM:3/4\\nL:1/4\\nK:G\\nG2A|B3|c>B A|G3|]\\n")
    >>> (result.parsed, result.bars, result.bars_in_metre)
    (True, 4, 4)
"""

import dataclasses
import re
from fractions import Fraction

from data.abc import (FIELD_LINE, NOTE_LENGTH, default_unit, length_multiplier, parse_metre,
                      parse_unit)

_NOTE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)")
_BAR = re.compile(r"\[\||:*\|+\]?:*|::+")
_ENDING = re.compile(r"\[?\d+([,-]\d+)*")
_TUPLET = re.compile(r"\((\d+)(?::(\d*))?(?::(\d*))?")
_DELIMITED = {'"': '"', "!": "!", "+": "+", "{": "}"}
_SHORTHAND_DECORATIONS = set(".~HLMOPSTuv`")
# Body fields after which a bar may be a partial pick-up (a new part or key starts).
_SECTION_FIELDS = set("PKM")


@dataclasses.dataclass
class TuneCheck:
    """What :func:`check_tune` found.

    Attributes:
        parsed: the whole tune read as ABC.
        error: why it did not (``"line 5: ..."``, lines counted within the tune), or None.
        bars: bars checked against a metre (those before an error included).
        bars_in_metre: bars whose length is the metre's, plus partial pick-ups where allowed.
        pickups: the partial bars accepted as pick-ups.
        unmetered: bars under ``M:none`` (or no ``M:``), not checked.
    """

    parsed: bool
    error: str = None
    bars: int = 0
    bars_in_metre: int = 0
    pickups: int = 0
    unmetered: int = 0


def check_tune(text):
    """Read a tune as ABC and compare each bar's length with the metre in force.

    The first and last bar of the tune, and a bar that ends or begins a section (at a
    repeat sign, a double bar or a ``P:``/``K:``/``M:`` line), may be partial pick-ups:
    shorter than the metre, never longer. ``[1``/``[2`` endings are bars like any other.
    """
    return _BarReader(text).run()


class _BarReader:
    """The state of one :func:`check_tune` pass."""

    def __init__(self, text):
        self.lines = text.splitlines()
        self.result = TuneCheck(parsed=False)
        self.bars = []  # (length, metre, section start, section end)
        self.length = Fraction(0)
        self.content = False
        self.section_start = True
        self.last_note = None  # duration of the last note, for broken rhythm
        self.next_factor = Fraction(1)
        self.tuplet = (Fraction(1), 0)

    def run(self):
        try:
            body = self.read_header()
            for number, line in body:
                self.read_line(line, number)
            self.close_bar(section_end=True)
            self.result.parsed = True
        except ValueError as err:
            self.result.error = str(err)
        self.score_bars()
        return self.result

    def read_header(self):
        fields, unit = {}, None
        for index, line in enumerate(self.lines):
            match = FIELD_LINE.match(line)
            if not match and not line.startswith("%"):
                raise ValueError(f"line {index + 1}: the header ends before its K: field")
            if not match:
                continue
            key, value = match.group(1), match.group(2)
            if index == 0 and key != "X":
                raise ValueError("line 1: a tune starts with X:")
            try:
                if key == "M":
                    fields["M"] = parse_metre(value)
                elif key == "L":
                    unit = parse_unit(value)
            except ValueError as err:
                raise ValueError(f"line {index + 1}: {err}") from None
            if key == "K":
                self.metre = fields.get("M")
                self.unit = unit or default_unit(self.metre)
                return [(n + 1, text) for n, text in enumerate(self.lines) if n > index]
        raise ValueError("no K: field: the header never ends")

    def field(self, key, value, number):
        try:
            if key == "M":
                self.metre = parse_metre(value)
            elif key == "L":
                self.unit = parse_unit(value)
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from None

    def read_line(self, line, number):
        match = FIELD_LINE.match(line)
        if match:
            if match.group(1) in _SECTION_FIELDS:
                self.close_bar(section_end=True)
            self.field(match.group(1), match.group(2), number)
            return
        line = line.split("%")[0]
        position = 0
        while position < len(line):
            position = self.read_symbol(line, position, number)

    def read_symbol(self, line, i, number):
        char = line[i]
        if char.isspace() or char in _SHORTHAND_DECORATIONS or char in ")-":
            return i + 1
        if char == "(" and not line[i + 1:i + 2].isdigit():
            return i + 1  # a slur
        if char == "\\" and not line[i + 1:].strip():
            return len(line)
        if char in _DELIMITED:
            end = line.find(_DELIMITED[char], i + 1)
            if end < 0:
                raise ValueError(f"line {number}: {char} is never closed")
            return end + 1
        if char == "[" and re.match(r"\[[A-Za-z]:", line[i:]):
            end = line.find("]", i)
            if end < 0:
                raise ValueError(f"line {number}: inline field is never closed")
            if line[i + 1] in _SECTION_FIELDS:
                self.close_bar(section_end=True)
            self.field(line[i + 1], line[i + 3:end], number)
            return end + 1
        bar = _BAR.match(line, i)
        if bar and (char != "[" or line[i:i + 2] == "[|"):
            self.close_bar(section_end=bar.group() not in ("|",))
            self.section_start = bar.group() != "|"
            ending = _ENDING.match(line, bar.end())
            return ending.end() if ending else bar.end()
        if char == "[" and i + 1 < len(line) and line[i + 1].isdigit():
            return _ENDING.match(line, i).end()
        if char == "(" and i + 1 < len(line) and line[i + 1].isdigit():
            return self.start_tuplet(_TUPLET.match(line, i))
        if char in "<>":
            return self.broken_rhythm(line, i, number)
        if char == "[":
            return self.chord(line, i, number)
        if char == "Z":
            count = NOTE_LENGTH.match(line, i + 1)
            for _ in range(int(count.group(1) or 1)):
                self.add(self.metre or Fraction(0))
                self.close_bar(section_end=False)
            return count.end()
        if char in "zx":
            length = NOTE_LENGTH.match(line, i + 1)
            self.note(length_multiplier(length.group()))
            return length.end()
        if char == "y":
            return NOTE_LENGTH.match(line, i + 1).end()
        note = _NOTE.match(line, i)
        if note:
            length = NOTE_LENGTH.match(line, note.end())
            self.note(length_multiplier(length.group()))
            return length.end()
        raise ValueError(f"line {number}: unexpected {char!r}")

    def start_tuplet(self, match):
        p = int(match.group(1))
        if p < 2:
            raise ValueError(f"tuplet ({p} needs at least 2 notes")
        compound = (self.metre is not None and self.metre.denominator == 8
                    and self.metre.numerator % 3 == 0 and self.metre.numerator > 3)
        q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if compound else 2)
        q = int(match.group(2)) if match.group(2) else q
        r = int(match.group(3)) if match.group(3) else p
        self.tuplet = (Fraction(q, p), r)
        return match.end()

    def broken_rhythm(self, line, i, number):
        run = len(line[i:]) - len(line[i:].lstrip(line[i]))
        if self.last_note is None:
            raise ValueError(f"line {number}: {line[i]} follows no note")
        short = Fraction(1, 2 ** run)
        first, second = (2 - short, short) if line[i] == ">" else (short, 2 - short)
        self.length += self.last_note * (first - 1)
        self.next_factor = second
        self.last_note = None
        return i + run

    def chord(self, line, i, number):
        end = line.find("]", i)
        if end < 0:
            raise ValueError(f"line {number}: chord [ is never closed")
        inner = line[i + 1:end]
        first = re.match(r"(\^\^|\^|__|_|=)?[A-Ga-gzx][,']*(\d*/*\d*)", inner)
        if not first or not re.fullmatch(r"((\^\^|\^|__|_|=)?[A-Ga-gzx][,']*\d*/*\d*-?\s*)+",
                                         inner):
            raise ValueError(f"line {number}: {line[i:end + 1]!r} is not a chord")
        outer = NOTE_LENGTH.match(line, end + 1)
        self.note(length_multiplier(first.group(2)) * length_multiplier(outer.group()))
        return outer.end()

    def note(self, multiplier):
        duration = self.unit * multiplier * self.next_factor
        self.next_factor = Fraction(1)
        factor, remaining = self.tuplet
        if remaining:
            duration *= factor
            self.tuplet = (factor, remaining - 1)
        self.add(duration)
        self.last_note = duration

    def add(self, duration):
        self.length += duration
        self.content = True

    def close_bar(self, section_end):
        if self.content:
            self.bars.append((self.length, self.metre, self.section_start, section_end))
            self.section_start = False
        elif section_end:
            self.section_start = True
            if self.bars:  # the bar before an empty close (a "|" then a P: line) ends a section
                self.bars[-1] = self.bars[-1][:3] + (True,)
        self.length, self.content, self.last_note = Fraction(0), False, None

    def score_bars(self):
        result = self.result
        for index, (length, metre, starts, ends) in enumerate(self.bars):
            if metre is None:
                result.unmetered += 1
                continue
            result.bars += 1
            edge = index == 0 or index == len(self.bars) - 1 or starts or ends
            if length == metre:
                result.bars_in_metre += 1
            elif edge and 0 < length < metre:
                result.bars_in_metre += 1
                result.pickups += 1


def check_tunes(texts):
    """Totals of :func:`check_tune` over many tunes: ``tunes``, ``parsed``, ``bars``,
    ``bars_in_metre``, ``parse_share`` and ``in_metre_share`` (bars of every tune)."""
    checks = [check_tune(text) for text in texts]
    bars = sum(c.bars for c in checks)
    in_metre = sum(c.bars_in_metre for c in checks)
    parsed = sum(c.parsed for c in checks)
    return {"tunes": len(checks), "parsed": parsed, "bars": bars, "bars_in_metre": in_metre,
            "parse_share": parsed / len(checks) if checks else 0.0,
            "in_metre_share": in_metre / bars if bars else 0.0}
