"""Readers for sentence pairs: tab-separated files and line-aligned parallel files.

Both return a :class:`ParallelCorpus` whose ``lines`` say where each pair came from, so a
later check (say, a sentence too long to train on) can still name the file and line.
"""

import collections

from data.errors import InputError
from data.files import iter_lines

ParallelCorpus = collections.namedtuple(
    "ParallelCorpus", ["sources", "targets", "lines", "source_path", "target_path"])
ParallelCorpus.__doc__ = """Aligned sentence pairs.

Attributes:
    sources, targets: lists of raw sentences (surrounding white space removed).
    lines: the 1-based line number of each pair (the same in both files of a parallel pair).
    source_path, target_path: where they were read; the same file for a tab-separated one.
"""


def read_tab_pairs(path, reverse=False):
    """Read ``source<TAB>target[<TAB>anything]`` lines, as in Tatoeba's ``spa.txt``.

    Columns after the second (Tatoeba's attribution) are ignored; blank lines are skipped
    (a line of only tabs is not blank: its sides are empty, an error).

    Args:
        path: a UTF-8 file (``.gz`` and ``-`` for stdin work too).
        reverse: take the second column as the source and the first as the target.

    Raises:
        InputError: a line with no tab or an empty side (naming file, line and column), or
            a file with no pairs at all.

    Example:
        >>> corpus = read_tab_pairs("spa.txt", reverse=False)  # doctest: +SKIP
        >>> corpus.sources[0], corpus.targets[0]  # doctest: +SKIP
        ('Go.', 'Ve.')
    """
    sources, targets, lines = [], [], []
    for number, text in iter_lines(path):
        if not text.strip() and "\t" not in text:
            continue
        fields = text.split("\t")
        if len(fields) < 2:
            raise InputError("expected source<TAB>target, found no tab", path, number)
        for column in (1, 2):
            if not fields[column - 1].strip():
                raise InputError(f"column {column} is empty: every pair needs a sentence on "
                                 "both sides", path, number, column)
        first, second = fields[0].strip(), fields[1].strip()
        sources.append(second if reverse else first)
        targets.append(first if reverse else second)
        lines.append(number)
    if not sources:
        raise InputError("no sentence pairs in this file", path)
    return ParallelCorpus(sources, targets, lines, str(path), str(path))


def read_parallel_files(source_path, target_path):
    """Read two line-aligned files: line i of one translates line i of the other.

    A line blank in both files is skipped; blank in only one of them is an error, and so is
    a file with more lines than the other (named at its first line without a partner).

    Example:
        >>> corpus = read_parallel_files("train.de", "train.en")  # doctest: +SKIP
        >>> len(corpus.sources) == len(corpus.targets)  # doctest: +SKIP
        True
    """
    if str(source_path) == "-" or str(target_path) == "-":
        raise InputError("parallel files cannot be read from stdin", "-")
    sources, targets, lines = [], [], []
    source_lines, target_lines = iter_lines(source_path), iter_lines(target_path)
    number = 0
    while True:
        source = next(source_lines, None)
        target = next(target_lines, None)
        if source is None and target is None:
            break
        if source is None or target is None:
            longer, shorter = (target_path, source_path) if source is None else \
                (source_path, target_path)
            raise InputError(f"no matching line in {shorter}, which has {number} lines "
                             "(parallel files need the same number of lines)",
                             longer, number + 1)
        number += 1
        source_text, target_text = source[1].strip(), target[1].strip()
        if not source_text and not target_text:
            continue
        if not source_text or not target_text:
            empty, other = (source_path, target_path) if not source_text else \
                (target_path, source_path)
            raise InputError(f"empty line, but line {number} of {other} is not; every pair "
                             "needs a sentence on both sides", empty, number)
        sources.append(source_text)
        targets.append(target_text)
        lines.append(number)
    if not sources:
        raise InputError("no sentence pairs in these files", source_path)
    return ParallelCorpus(sources, targets, lines, str(source_path), str(target_path))


def split_pairs(corpus, indices):
    """The pairs of ``corpus`` at ``indices``, in that order, as a new corpus."""
    pick = lambda values: [values[i] for i in indices]
    return corpus._replace(sources=pick(corpus.sources), targets=pick(corpus.targets),
                           lines=pick(corpus.lines))
