"""Reader for labelled text tables: CSV or TSV files with a header row.

One column holds the text, one or more hold labels: ``sentence<TAB>label`` (SST-2),
``id,rating,label,text`` (IMDB) or ``id,comment_text,toxic,severe_toxic,...`` (Jigsaw).
Quoted CSV fields may span lines; errors name the line a record starts on.
"""

import csv
import typing

from data.errors import InputError
from data.files import iter_lines

# Header names taken for the text and the label column when none are given, in this order.
TEXT_NAMES = ("text", "sentence", "comment_text", "review", "content", "document", "comment",
              "body", "tweet", "question")
LABEL_NAMES = ("label", "labels", "sentiment", "class", "category", "target", "y")
# Never taken as labels by detection: row identifiers.
ID_NAMES = ("id", "idx", "index", "guid")


class TextTable(typing.NamedTuple):
    """The rows of a labelled text table.

    Attributes:
        texts: one string per row.
        labels: per row, one raw string value per label column.
        lines: the file line each row starts on.
        text_column: the header name of the text column.
        label_columns: the header names of the label columns, in ``labels`` order.
        label_positions: 1-based field number of each label column (for error messages).
        path: the file read.
    """

    texts: list
    labels: list
    lines: list
    text_column: str
    label_columns: list
    label_positions: list
    path: str


def delimiter_for(path, header_line):
    """Tab for ``.tsv`` / ``.tab`` names, comma for ``.csv``, else whichever the header has."""
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".tsv", ".tab")):
        return "\t"
    if name.endswith(".csv"):
        return ","
    return "\t" if "\t" in header_line else ","


def _records(path):
    """Yield ``(start_line, fields)`` per record, plus the delimiter as the first item."""
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None:
        raise InputError("file is empty", path)
    delimiter = delimiter_for(path, first[1])
    yield delimiter
    numbers = [first[0]]

    def source():
        yield first[1] + "\n"
        for number, text in lines:
            numbers.append(number)
            yield text + "\n"

    # TSV files (SST-2) use quotes as ordinary characters; CSV quotes fields the RFC 4180 way.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(source(), delimiter=delimiter, quoting=quoting, strict=True)
    start = 1
    try:
        for fields in reader:
            yield start, fields
            start = numbers[-1] + 1
    except csv.Error as err:
        raise InputError(f"malformed {'TSV' if delimiter == chr(9) else 'CSV'}: {err}",
                         path, start) from None


def detect_text_column(header, text_column=None):
    """The named text column (checked), or the first header name in :data:`TEXT_NAMES`."""
    if text_column:
        if text_column not in header:
            raise ValueError(f"no column named {text_column!r} (columns: {', '.join(header)})")
        return text_column
    lowered = {name.strip().lower(): name for name in header}
    found = next((lowered[n] for n in TEXT_NAMES if n in lowered), None)
    if found is None:
        raise ValueError("cannot tell which column holds the text; name it with "
                         f"--text-column (columns: {', '.join(header)})")
    return found


def detect_columns(header, text_column=None, label_columns=None):
    """Choose the text column and label columns from a header row.

    Args:
        header: the column names.
        text_column: the text column's name; detected from :data:`TEXT_NAMES` when None.
        label_columns: label column names; when None, a column named as in
            :data:`LABEL_NAMES`, else every column that is neither the text nor an id.

    Returns:
        ``(text_column, label_columns)``; raises ``ValueError`` with the reason otherwise.
    """
    text_column = detect_text_column(header, text_column)
    lowered = {name.strip().lower(): name for name in header}
    if not label_columns:
        single = next((lowered[n] for n in LABEL_NAMES if n in lowered), None)
        label_columns = [single] if single else [
            name for name in header
            if name != text_column and name.strip().lower() not in ID_NAMES]
        if not label_columns:
            raise ValueError("no label column; name them with --label-columns")
    for name in [text_column, *label_columns]:
        if name not in header:
            raise ValueError(f"no column named {name!r} (columns: {', '.join(header)})")
    if text_column in label_columns:
        raise ValueError(f"column {text_column!r} cannot be both the text and a label")
    return text_column, list(label_columns)


def read_text_table(path, text_column=None, label_columns=None, require_labels=True):
    """Read a CSV/TSV file of texts and labels.

    Args:
        path: ``.csv``, ``.tsv`` (optionally ``.gz``) or ``-`` for standard input; the first
            line must be a header.
        text_column: name of the text column (detected when None).
        label_columns: names of the label columns (detected when None).
        require_labels: False reads the text column only (``labels`` rows are empty).

    Raises:
        InputError: naming file, line and, where it applies, field number: a row with the
            wrong number of fields, a missing column, an empty text or label, bytes that
            are not UTF-8, an unreadable gzip file, or a file with no rows.

    Example:
        >>> table = read_text_table("train.tsv")  # doctest: +SKIP
        >>> table.text_column, table.label_columns, table.texts[0]
        ('sentence', ['label'], 'hide new secretions from the parental units ')
    """
    records = _records(path)
    next(records)  # the delimiter
    _, header = next(records, (1, []))
    header = [name.strip() for name in header]
    if not any(header):
        raise InputError("expected a header row naming the columns", path, 1)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputError(f"column name(s) {', '.join(map(repr, repeated))} repeated in the header",
                         path, 1)
    try:
        if require_labels:
            text_column, label_columns = detect_columns(header, text_column, label_columns)
        else:
            text_column, label_columns = detect_text_column(header, text_column), []
    except ValueError as err:
        raise InputError(str(err), path, 1) from None
    text_at = header.index(text_column)
    label_at = [header.index(name) for name in label_columns]
    texts, labels, lines = [], [], []
    for line, fields in records:
        if not fields or (len(fields) == 1 and not fields[0].strip() and len(header) > 1):
            continue  # blank line
        if len(fields) != len(header):
            raise InputError(f"expected {len(header)} fields as in the header, found "
                             f"{len(fields)}", path, line)
        text = fields[text_at]
        if not text.strip():
            raise InputError(f"empty text in column {text_column!r}", path, line, text_at + 1)
        values = [fields[i].strip() for i in label_at]
        for value, at in zip(values, label_at):
            if not value:
                raise InputError(f"empty label in column {header[at]!r}", path, line, at + 1)
        texts.append(text)
        labels.append(values)
        lines.append(line)
    if not texts:
        raise InputError("no rows after the header", path)
    return TextTable(texts, labels, lines, text_column, label_columns,
                     [i + 1 for i in label_at], str(path))
