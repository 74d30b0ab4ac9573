"""Pretrained word vectors: GloVe / word2vec text, fastText ``.vec`` and word2vec binary files.

The file is streamed line by line (or record by record) and only the vectors of the words
asked for are kept, so memory grows with the vocabulary, not with the file: a 1 GB file for
a 20 000-word vocabulary holds 20 000 rows in memory.

Formats:
    - text (GloVe, word2vec ``.txt``): ``word v1 v2 ... vD`` per line;
    - fastText ``.vec`` and word2vec text with a header: a first line ``COUNT DIM``;
    - word2vec binary (``.bin``): a header line ``COUNT DIM``, then each word, a space and
      ``DIM`` little-endian float32 values.
Each may be gzip-compressed (``.gz``).
"""

import dataclasses
import gzip
import os

import numpy as np

from data.errors import InputError
from data.vocabulary import Vocabulary


@dataclasses.dataclass
class WordVectors:
    """The vectors read for a vocabulary.

    Attributes:
        path: the file read.
        dim: the vectors' size.
        vectors: ``{word: float32 [dim]}`` for the asked-for words the file holds.
        extra: words absent from the asked-for set, in file order, that were kept because
            ``extend`` asked for them (their vectors are in ``vectors`` too).
        asked: the words asked for.
    """

    path: str
    dim: int
    vectors: dict
    extra: list
    asked: frozenset = frozenset()

    def matrix_for(self, items):
        """``(matrix [len(items), dim] float32, found [len(items)] bool)``: row i is the vector
        of ``items[i]`` where ``found[i]``, zeros elsewhere."""
        matrix = np.zeros((len(items), self.dim), np.float32)
        found = np.zeros(len(items), bool)
        for i, item in enumerate(items):
            vector = self.vectors.get(item)
            if vector is not None:
                matrix[i], found[i] = vector, True
        return matrix, found


def read_word_vectors(path, words, extend=0):
    """Read the vectors of ``words`` (and up to ``extend`` more) from a vectors file.

    A word the file lacks takes the vector of its first case variant in the file (``The``
    takes ``the``'s in lower-cased GloVe; ``film`` takes ``Film``'s in a cased file); a word
    the file holds exactly always keeps its own.

    Args:
        path: a text (``.txt``, ``.vec``) or word2vec binary (``.bin``) file, optionally
            ``.gz``.
        words: the words whose vectors are wanted (e.g. a training vocabulary).
        extend: also keep the first ``extend`` words of the file that match none of
            ``words`` (GloVe, word2vec and fastText list the most frequent words first).

    Returns:
        :class:`WordVectors`.

    Raises:
        InputError: a missing or unreadable file, or a malformed line (``FILE:LINE``).

    Example:
        >>> vectors = read_word_vectors("glove.6B.100d.txt", {"film", "good"})  # doctest: +SKIP
        >>> vectors.dim, sorted(vectors.vectors)  # doctest: +SKIP
        (100, ['film', 'good'])
    """
    if not os.path.isfile(path):
        raise InputError("no such word vectors file", path)
    binary = path.endswith((".bin", ".bin.gz"))
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
            records = _binary_records(f, path) if binary else _text_records(f, path)
            return _collect(records, path, set(words), int(extend))
    except (OSError, EOFError) as err:
        raise InputError(f"cannot read word vectors: {err}", path) from None


def vectors_for_vocabulary(path, vocabulary, extend=0, known=None):
    """``(WordVectors, vocabulary)``: the vectors of a :class:`~data.vocabulary.Vocabulary`'s
    words, and the vocabulary with the ``extend`` extra words of the file appended (count 0),
    so a word seen only in the vectors is not out of vocabulary.

    ``known`` (vectors read earlier, e.g. for an earlier tuning trial) is returned as it is
    when it was read from ``path`` for these words, so the file is read once per run.
    """
    words = vocabulary.items[vocabulary.specials:]
    if (known is not None and known.path == path and not extend
            and known.asked.union(known.extra).issuperset(words)):
        return known, vocabulary
    vectors = read_word_vectors(path, words, extend)
    if vectors.extra:
        items = vocabulary.items[vocabulary.specials:] + vectors.extra
        counts = None if vocabulary.counts is None else (
            vocabulary.counts[vocabulary.specials:] + [0] * len(vectors.extra))
        vocabulary = Vocabulary(items, unk=vocabulary.unk, counts=counts)
    return vectors, vocabulary


def _collect(records, path, wanted, extend):
    variants = {}  # lower-cased form -> the wanted words with that form
    for word in wanted:
        variants.setdefault(word.lower(), []).append(word)
    dim = None
    vectors, exact, extra = {}, set(), []
    for line, word, values in records:
        if dim is None:
            dim = _dimension(values, path, line)
        if not isinstance(values, np.ndarray):
            word, values = _split_word(word, values, dim)
        try:
            word = word.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the word is not UTF-8 text", path, line) from None
        if word in wanted:
            if word in exact:
                continue  # a repeated word: its first row wins
            exact.add(word)
        keys = [w for w in variants.get(word.lower(), ()) if w not in vectors and w != word]
        if word in exact:
            keys.append(word)
        elif not keys and len(extra) < extend and word and word not in vectors:
            keys = [word]
            extra.append(word)
        if keys:
            vector = _parse(values, dim, path, line)
            for key in keys:
                vectors[key] = vector
    if dim is None:
        raise InputError("holds no word vectors", path)
    return WordVectors(path, dim, vectors, extra, frozenset(wanted))


def _split_word(word, values, dim):
    """``(word, values)`` of a text line whose word may hold spaces (GloVe 840B has some):
    the last ``dim`` fields are the vector, the fields before them the word."""
    surplus = values.count(b" ") + 1 - dim
    if surplus <= 0:
        return word, values
    parts = values.split(b" ", surplus)
    return b" ".join([word, *parts[:surplus]]), parts[surplus]


def _text_records(f, path):
    """``(line number, word, values)`` per line, both unparsed bytes."""
    first = True
    for number, raw in enumerate(f, 1):
        line = raw.rstrip()  # fastText lines end with a space
        if not line:
            continue
        if first:
            first = False
            parts = line.split()
            if len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # fastText / word2vec header: COUNT DIM
        word, _, values = line.partition(b" ")
        yield number, word, values


def _binary_records(f, path):
    """``(record number, word, float32 values)`` from a word2vec binary file."""
    header = f.readline().split()
    if len(header) != 2 or not all(p.isdigit() for p in header):
        raise InputError("not a word2vec binary file (expected a 'COUNT DIM' first line)",
                         path, 1)
    count, dim = int(header[0]), int(header[1])
    for number in range(1, count + 1):
        word = bytearray()
        while True:
            char = f.read(1)
            if not char:
                raise InputError(f"ends after {number - 1} of {count} vectors", path)
            if char == b" ":
                break
            if char != b"\n" or word:  # a newline may end the previous record
                word += char
        values = f.read(4 * dim)
        if len(values) != 4 * dim:
            raise InputError(f"vector {number} is cut short", path)
        yield number, bytes(word), np.frombuffer(values, "<f4")


def _dimension(values, path, line):
    size = len(values) if isinstance(values, np.ndarray) else len(values.split())
    if size < 1:
        raise InputError("a word with no vector values", path, line)
    return size


def _parse(values, dim, path, line):
    if isinstance(values, np.ndarray):
        return values.astype(np.float32)
    try:
        vector = np.fromstring(values, dtype=np.float32, sep=" ")  # ~8x faster than split
    except ValueError:
        raise InputError("a vector value is not a number", path, line) from None
    if len(vector) != dim:
        raise InputError(f"expected {dim} vector values, found {len(vector)}", path, line)
    return vector
