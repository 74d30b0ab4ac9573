"""Readers for token-level tagged corpora: CoNLL-U and two-column ``token<TAB>tag`` files.

Both return a list of :class:`TaggedSentence`, one per sentence. A sentence longer than
``max_tokens`` (default :data:`MAX_SENTENCE_TOKENS`) is refused at the line where it passes
the limit: a file missing its blank lines would otherwise be one sentence the size of the file.
"""

import typing

from data.errors import InputError
from data.files import iter_lines

# The most tokens a sentence may have (UD treebanks' longest are some hundreds).
MAX_SENTENCE_TOKENS = 1000

class TaggedSentence(typing.NamedTuple):
    """Tokens, their tags, and the file line each token came from (for error messages)."""

    tokens: list
    tags: list
    lines: list


CONLLU_COLUMNS = 10
_TAG_COLUMN = {"upos": 3, "xpos": 4}


def read_conllu(path, tag_column="upos", max_tokens=MAX_SENTENCE_TOKENS):
    """Read a CoNLL-U file into sentences of (tokens, tags).

    Multiword-token ranges (``3-4``) and empty nodes (``5.1``) are skipped:
    the syntactic words they stand for are tagged on their own lines.

    Args:
        path: the .conllu file.
        tag_column: ``"upos"`` or ``"xpos"``.
        max_tokens: the longest sentence accepted, in tokens.

    Example:
        >>> sentences = read_conllu("dev.conllu")  # doctest: +SKIP
        >>> sentences[0].tokens[:3], sentences[0].tags[:3]
        (['From', 'the', 'AP'], ['ADP', 'DET', 'PROPN'])
    """
    return list(iter_conllu(path, tag_column, max_tokens))


def iter_conllu(path, tag_column="upos", max_tokens=MAX_SENTENCE_TOKENS):
    """Yield the sentences of a CoNLL-U file one by one, as :func:`read_conllu` reads them.

    Memory stays that of one sentence, however long the file.
    """
    if tag_column not in _TAG_COLUMN:
        raise InputError(f"tag column must be upos or xpos, not {tag_column!r}")
    column = _TAG_COLUMN[tag_column]
    found, tokens, tags, lines = 0, [], [], []
    expected_id = 1
    saw_line = False
    for number, line in iter_lines(path):
        saw_line = saw_line or bool(line.strip())
        if not line.strip():
            if "\t" in line:  # a token line whose fields are all empty, not a blank line
                raise InputError(f"expected {CONLLU_COLUMNS} tab-separated columns, found "
                                 "only empty fields", path, number)
            if tokens:
                found += 1
                yield TaggedSentence(tokens, tags, lines)
                tokens, tags, lines, expected_id = [], [], [], 1
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != CONLLU_COLUMNS:
            raise InputError(
                f"expected {CONLLU_COLUMNS} tab-separated columns, found {len(fields)}", path, number
            )
        word_id = fields[0]
        if "-" in word_id or "." in word_id:
            _check_special_id(word_id, path, number)
            continue
        if not word_id.isdigit():
            raise InputError(f"token ID {word_id!r} is not an integer", path, number)
        if int(word_id) != expected_id:
            raise InputError(f"token ID {word_id} out of order, expected {expected_id}", path, number)
        expected_id += 1
        form, tag = fields[1], fields[column]
        if not form or tag in ("", "_"):
            raise InputError(f"empty FORM or {tag_column.upper()} column", path, number)
        _check_length(tokens, lines, max_tokens, path, number)
        tokens.append(form)
        tags.append(tag)
        lines.append(number)
    if tokens:
        found += 1
        yield TaggedSentence(tokens, tags, lines)
    if not found:
        raise InputError("no sentences found" if saw_line else "file is empty", path)


def _check_special_id(word_id, path, number):
    sep = "-" if "-" in word_id else "."
    parts = word_id.split(sep)
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise InputError(f"token ID {word_id!r} is not an integer, range or decimal", path, number)


def read_two_column(path, max_tokens=MAX_SENTENCE_TOKENS):
    """Read ``token<TAB>tag`` lines, a blank line between sentences.

    Extra columns between the token and the tag (as in CoNLL-2003, whose
    columns are separated by spaces or tabs) are allowed: the first field is
    the token, the last the tag. ``-DOCSTART-`` lines are skipped.
    """
    sentences, tokens, tags, lines = [], [], [], []
    saw_line = False
    for number, line in iter_lines(path):
        if not line.strip():
            if "\t" in line:  # tab-separated empty fields, not a blank line
                raise InputError("empty token or tag", path, number)
            if tokens:
                sentences.append(TaggedSentence(tokens, tags, lines))
                tokens, tags, lines = [], [], []
            continue
        saw_line = True
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 2:
            raise InputError("expected a token and a tag separated by a tab, found 1 column", path, number)
        if fields[0] == "-DOCSTART-":
            continue
        if not fields[0] or not fields[-1]:
            raise InputError("empty token or tag", path, number)
        _check_length(tokens, lines, max_tokens, path, number)
        tokens.append(fields[0])
        tags.append(fields[-1])
        lines.append(number)
    if tokens:
        sentences.append(TaggedSentence(tokens, tags, lines))
    if not sentences:
        raise InputError("no sentences found" if saw_line else "file is empty", path)
    return sentences


def _check_length(tokens, lines, max_tokens, path, number):
    if max_tokens and len(tokens) >= max_tokens:
        raise InputError(f"sentence longer than {max_tokens:,} tokens (it starts at line "
                         f"{lines[0]}; is a blank line missing between sentences?)",
                         path, number)


def read_tagged(path, tag_column="upos", max_tokens=MAX_SENTENCE_TOKENS):
    """Read CoNLL-U (``.conllu``) or two-column files, chosen by the file name."""
    if str(path).endswith((".conllu", ".conll-u")):
        return read_conllu(path, tag_column, max_tokens)
    return read_two_column(path, max_tokens)
