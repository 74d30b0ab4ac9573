"""Reader for time series: a CSV file with a timestamp column and one or more value columns.

NAB's ``timestamp,value`` files are read as they are. Rows are kept in file order; a
timestamp that repeats or goes back in time is counted, not fixed (see
:func:`read_time_series`), so scores stay aligned with the lines of the file.
"""

import csv
import datetime
import sys
import typing

import numpy as np

from data.errors import InputError
from data.files import iter_lines
from data.numbers import FLOAT32_MAX
# Header names taken for the timestamp column when none is given, in this order.
TIME_NAMES = ("timestamp", "time", "datetime", "date", "ts", "time_stamp")


class TimeSeries(typing.NamedTuple):
    """The rows of a time-series file.

    Attributes:
        timestamps: the timestamp cells as written, one per row.
        times: the timestamps as seconds (ISO dates read as UTC, numbers as they are).
        values: ``[N, F]`` float32, one column per value column.
        columns: the value column names, in ``values`` order.
        timestamp_column: the header name of the timestamp column.
        lines: the file line of each row.
        time_kind: ``"datetime"`` or ``"number"``, how the timestamps were written.
        duplicated: rows whose timestamp equals the previous row's.
        backwards: rows whose timestamp is earlier than the previous row's.
        path: the file read.
    """

    timestamps: list
    times: np.ndarray
    values: np.ndarray
    columns: list
    timestamp_column: str
    lines: list
    time_kind: str
    duplicated: int
    backwards: int
    path: str

    def rows(self, start, stop=None):
        """Rows ``start`` to ``stop`` (order counts are those of the whole file)."""
        cut = slice(start, stop)
        return self._replace(timestamps=self.timestamps[cut], times=self.times[cut],
                             values=self.values[cut], lines=self.lines[cut])

    def head(self, count):
        """The first ``count`` rows."""
        return self.rows(0, count)

    def split_tail(self, fraction, min_rows):
        """``(head, tail)`` with the last ``fraction`` of the rows in ``tail``, or
        ``(self, None)`` when the tail or what is left would hold fewer than ``min_rows``."""
        count = int(round(len(self.values) * fraction))
        kept = len(self.values) - count
        if count < max(min_rows, 1) or kept < min_rows:
            return self, None
        return self.rows(0, kept), self.rows(kept)


def parse_timestamp(text):
    """``"2014-04-01 00:00:00"`` (ISO 8601, naive = UTC) or a number -> ``(seconds, kind)``.

    Returns ``(None, None)`` for text that is neither (``nan`` and ``inf`` included).
    """
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return (seconds, "number") if np.isfinite(seconds) else (None, None)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None, None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp(), "datetime"


def choose_columns(header, timestamp_column=None, value_columns=None):
    """The timestamp column and the value columns named in ``header``.

    Without names: the first header in :data:`TIME_NAMES` (else the first column) holds the
    time, and every other column holds values. Raises ``ValueError`` with the reason.
    """
    lowered = {name.lower(): name for name in header}
    if not timestamp_column:
        timestamp_column = next((lowered[n] for n in TIME_NAMES if n in lowered), header[0])
    if not value_columns:
        value_columns = [name for name in header if name != timestamp_column]
    for name in [timestamp_column, *value_columns]:
        if name not in header:
            raise ValueError(f"no column named {name!r} (columns: {', '.join(header)})")
    if not value_columns:
        raise ValueError("no value column: expected a timestamp column and at least one "
                         "column of numbers")
    if timestamp_column in value_columns:
        raise ValueError(f"column {timestamp_column!r} cannot be both the timestamp and a value")
    return timestamp_column, list(value_columns)


def read_time_series(path, value_columns=None, timestamp_column=None, warn=True):
    """Read a CSV time series with a header row.

    Args:
        path: a ``.csv`` file (``.csv.gz`` too), or ``-`` for standard input.
        value_columns: names of the value columns (default: every non-timestamp column).
        timestamp_column: name of the timestamp column (default: ``timestamp``, ``time``,
            ... or else the first column).
        warn: print one warning line on stderr when timestamps repeat or go backwards.

    Returns:
        a :class:`TimeSeries`. Rows stay in file order: repeated and backward timestamps
        are counted (``duplicated``, ``backwards``) and reported, never dropped or sorted.

    Raises:
        InputError: naming file, line and column: a cell that is not a finite number, a
            timestamp that is neither ISO 8601 nor a number, a row with the wrong number of
            fields, a missing column, an empty file or no rows.

    Example:
        >>> series = read_time_series("art_daily_jumpsup.csv")  # doctest: +SKIP
        >>> series.columns, series.values.shape
        (['value'], (4032, 1))
    """
    lines = iter_lines(path)
    numbered = []

    def source():
        for number, text in lines:
            numbered.append(number)
            yield text + "\n"

    reader = csv.reader(source(), strict=True)
    start = 1  # the line the record being read starts on (a quoted cell may span lines)
    try:
        header = next(reader, None)
        if header is None:
            raise InputError("file is empty", path)
        header = [name.strip() for name in header]
        if not any(header):
            raise InputError("expected a header row naming the columns", path, 1)
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise InputError(f"column name(s) {', '.join(map(repr, repeated))} repeated in "
                             "the header", path, numbered[-1])
        try:
            time_name, names = choose_columns(header, timestamp_column, value_columns)
        except ValueError as err:
            raise InputError(str(err), path, numbered[-1]) from None
        time_at, value_at = header.index(time_name), [header.index(n) for n in names]
        stamps, times, rows, row_lines, kinds = [], [], [], [], set()
        start = numbered[-1] + 1
        for fields in reader:
            line, start = start, numbered[-1] + 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != len(header):
                raise InputError(f"expected {len(header)} fields as in the header, found "
                                 f"{len(fields)}", path, line)
            seconds, kind = parse_timestamp(fields[time_at])
            if seconds is None:
                raise InputError(f"timestamp {fields[time_at].strip()!r} is neither ISO 8601 "
                                 "nor a finite number", path, line, time_at + 1)
            if kinds and kind not in kinds:
                raise InputError(f"timestamp {fields[time_at].strip()!r} is a {kind}, earlier "
                                 f"rows hold {kinds.pop()}s: timestamps must not mix dates "
                                 "and plain numbers", path, line, time_at + 1)
            kinds.add(kind)
            rows.append([_number(fields[i], header[i], path, line, i + 1) for i in value_at])
            stamps.append(fields[time_at].strip())
            times.append(seconds)
            row_lines.append(line)
    except csv.Error as err:
        raise InputError(f"malformed CSV: {err}", path, start) from None
    if not rows:
        raise InputError("no rows after the header", path)
    times = np.asarray(times, np.float64)
    steps = np.diff(times)
    series = TimeSeries(stamps, times, np.asarray(rows, np.float32), names, time_name,
                        row_lines, kinds.pop(), int((steps == 0).sum()), int((steps < 0).sum()),
                        str(path))
    if warn:
        warn_about_order(series)
    return series


def warn_about_order(series, stream=None):
    """One stderr line when timestamps repeat or go backwards; rows are used as they stand."""
    if series.duplicated or series.backwards:
        print(f"warning: {series.path}: {series.duplicated} duplicated and {series.backwards} "
              "backward timestamp(s); rows are used in file order",
              file=stream or sys.stderr)


def _number(cell, column, path, line, position):
    try:
        value = float(cell)
    except ValueError:
        message = (f"{cell.strip()!r} in column {column!r} is not a number" if cell.strip()
                   else f"empty cell in column {column!r}")
        raise InputError(message, path, line, position) from None
    if not np.isfinite(value) or abs(value) > FLOAT32_MAX:
        raise InputError(f"{cell.strip()!r} in column {column!r} is not a finite number "
                         "within float32's range (about 3.4e38)", path, line, position)
    return value
