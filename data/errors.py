"""The one error type a user can cause by handing the package a bad file or flag."""


class InputError(Exception):
    """A problem with user input, reported as ``FILE:LINE: message``.

    Args:
        message: what is wrong, in one line.
        path: the file at fault, if any.
        line: 1-based line number, if one applies.
        column: 1-based column (or field) number, if one applies.

    Example:
        >>> str(InputError("expected 10 columns, found 3", "train.conllu", 12))
        'train.conllu:12: expected 10 columns, found 3'
    """

    def __init__(self, message, path=None, line=None, column=None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column

    def __str__(self):
        where = [p for p in (self.path, self.line, self.column) if p is not None]
        prefix = ":".join(str(p) for p in where)
        return f"{prefix}: {self.message}" if prefix else self.message
