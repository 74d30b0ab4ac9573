"""Reading CSV/TSV tables (optionally ``.gz``) row by row, with or without a header line.

Fields are separated by a comma (CSV, RFC 4180 quoting within a line: a quoted field that
runs past its line is an error) or a tab (``.tsv``, ``.tab``, or a
first line holding a tab); spaces around a field are dropped, so UCI's ``", "`` separator
reads as a comma. A missing value is an empty field, ``?``, or one of the spellings pandas'
``read_csv`` takes as missing by default (``NA``, ``N/A``, ``NaN``, ``nan``, ``-nan``,
``NULL``, ``None``, ``#N/A`` and others: :data:`MISSING`). Every row keeps the line it came
from, so errors name ``FILE:LINE``.
"""

import csv

from data.errors import InputError
from data.files import iter_lines

MISSING = frozenset({
    "", "?", "NA", "N/A", "n/a", "<NA>", "#NA", "#N/A", "#N/A N/A", "NULL", "null", "None",
    "NaN", "nan", "NAN", "-NaN", "-nan", "-NAN", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN"})


class Table:
    """A whole table read into memory, column by column.

    Attributes:
        columns: the column names, in file order.
        values: per column, its fields as stripped strings (one per row).
        lines: the file line of each row.
        path: the file read.
        header: whether the file had a header line.
    """

    def __init__(self, columns, values, lines, path, header):
        self.columns, self.values, self.lines = columns, values, lines
        self.path, self.header = path, header

    def __len__(self):
        return len(self.lines)

    def rows(self, indices):
        """The table of the rows at ``indices`` only."""
        return Table(self.columns, {c: [v[i] for i in indices] for c, v in self.values.items()},
                     [self.lines[i] for i in indices], self.path, self.header)


def delimiter_for(path, first_line):
    """Tab for ``.tsv`` / ``.tab`` names (also ``.gz``), comma for ``.csv``, else a tab when
    the first line holds one and a comma otherwise."""
    name = str(path).lower()
    name = name[:-3] if name.endswith(".gz") else name
    if name.endswith((".tsv", ".tab")):
        return "\t"
    if name.endswith(".csv"):
        return ","
    return "\t" if "\t" in first_line else ","


def split_line(text, delimiter):
    """The stripped fields of one line (quotes as in CSV for commas, literal for tabs).

    Raises:
        csv.Error: a quoted field does not end on this line.
    """
    if delimiter == "\t":
        return [field.strip() for field in text.split("\t")]
    asked_for_more = []

    def one_line():
        yield text
        asked_for_more.append(True)  # the reader wants the next line: a quote is open

    fields = next(csv.reader(one_line(), skipinitialspace=True))
    if asked_for_more:
        raise csv.Error("a quoted field runs past the end of its line (fields that span "
                        "lines are not read)")
    return [field.strip() for field in fields]


class RowReader:
    """Iterate over a table file's rows as ``(line, fields)``, after working out its columns.

    Args:
        path: the file (``-`` for standard input).
        names: the column names when the file has no header line; a first line equal to
            them is taken as a header anyway.
        expected: column names a header must include (a trained model's input columns);
            when given, a first line that lacks them is read as data, with ``names`` or
            ``fallback`` as the columns.
        fallback: lists of column names to try, by field count, for a file without header
            (a model trained on a headerless file: all its columns, or its inputs only).

    Attributes:
        columns: the column names. header: whether the first line was a header.
    """

    def __init__(self, path, names=None, expected=None, fallback=()):
        self.path = str(path)
        self._lines = iter_lines(path)
        first = self._next_content_line()
        if first is None:
            raise InputError("file is empty (no header or rows)", path)
        self.delimiter = delimiter_for(path, first[1])
        fields = self._split(first)
        self._pending = None
        if names:
            self.columns, self.header = list(names), fields == list(names)
        elif expected is None or set(expected) <= set(fields) or not fallback:
            self.columns, self.header = fields, True
        else:
            matching = [list(c) for c in fallback if len(c) == len(fields)]
            if not matching:
                missing = sorted(set(expected) - set(fields))
                raise InputError(f"the first line is not a header naming the model's columns "
                                 f"(missing: {', '.join(missing)}), nor a row of "
                                 f"{' or '.join(str(len(c)) for c in fallback)} fields",
                                 path, first[0])
            self.columns, self.header = matching[0], False
        if not self.header:
            self._pending = (first[0], fields)
        if len(set(self.columns)) != len(self.columns):
            repeated = sorted({c for c in self.columns if self.columns.count(c) > 1})
            raise InputError(f"column name(s) repeated: {', '.join(repeated)}", path,
                             None if names else first[0])
        if expected is not None:
            missing = [c for c in expected if c not in self.columns]
            if missing:
                raise InputError(f"no column named {', '.join(missing)} "
                                 f"(columns: {', '.join(self.columns)})", path,
                                 first[0] if self.header else None)

    def _next_content_line(self):
        for number, text in self._lines:
            if text.strip():
                return number, text
        return None

    def _split(self, numbered):
        number, text = numbered
        try:
            return split_line(text, self.delimiter)
        except csv.Error as err:
            raise InputError(f"malformed CSV: {err}", self.path, number) from None

    def __iter__(self):
        if self._pending is not None:
            yield self._check(*self._pending)
            self._pending = None
        for number, text in self._lines:
            if text.strip():
                yield self._check(number, self._split((number, text)))

    def _check(self, number, fields):
        if len(fields) != len(self.columns):
            raise InputError(f"expected {len(self.columns)} fields, found {len(fields)}",
                             self.path, number)
        return number, fields


def read_table(path, names=None, expected=None, fallback=()):
    """Read a whole table; see :class:`RowReader` for the arguments.

    Raises:
        InputError: an empty file, a row with the wrong number of fields, bad UTF-8, ...
    """
    reader = RowReader(path, names, expected, fallback)
    columns = {name: [] for name in reader.columns}
    lines = []
    lists = [columns[name] for name in reader.columns]
    for number, fields in reader:
        lines.append(number)
        for values, field in zip(lists, fields):
            values.append(field)
    if not lines:
        raise InputError("the table has no rows", path)
    return Table(reader.columns, columns, lines, str(path), reader.header)


def is_missing(field):
    return field in MISSING


def parse_number(field):
    """``float(field)``, NaN for a missing field; None when it is not a number (also for
    what Python's ``float`` alone would take: ``1_000``, digits of other scripts)."""
    if field in MISSING:
        return float("nan")
    if "_" in field or not field.isascii():
        return None
    try:
        return float(field)
    except ValueError:
        return None
