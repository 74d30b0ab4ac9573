"""Word splitting shared by the text applications: English clitics and marks set apart.

:func:`split_words` is the one in-graph tokenizer: training data, ``predict`` and the
exported SavedModels of the tagger, the text classifier, the translator and the language
model all split text with it (each with its own options), so an application cannot split
differently in training and in serving. :func:`word_lists` runs it over a Python list of
texts and returns Python strings, for code that builds vocabularies or batches in Python.

Example:
    >>> import tensorflow as tf
    >>> split_words(tf.constant(["I don't know, Bob's car."])).to_list()
    [[b'I', b'do', b"n't", b'know', b',', b'Bob', b"'s", b'car', b'.']]
    >>> word_lists(["It's late!"], lowercase=True)
    [['it', "'s", 'late', '!']]
"""

import tensorflow as tf

# The English clitics split off the word before them: don't -> do n't, it's -> it 's.
CLITICS = r"n't|'(?:s|re|ll|ve|m|d)"
# Every mark but the apostrophe is a token of its own (a word keeps don't, o'clock).
ALL_MARKS = r"[^\pL\pN\s']"


def split_clitics(texts, letter=r"\pL", ignore_case=False, one_pass=False):
    """Put a space before a clitic that follows a ``letter`` and ends a word.

    ``n't`` is split first, then ``'s``, ``'re``, ``'ll``, ``'ve``, ``'m``, ``'d``, so
    ``shouldn't've`` becomes ``should n't 've``; with ``one_pass`` all are split by one
    regex pass, which leaves ``n't've`` whole (the translator's split).

    Args:
        texts: a ``tf.string`` tensor of any shape.
        letter: the regex class a clitic must follow (``\\pL``: any letter; ``\\w``:
            ASCII letters, digits and ``_``).
        ignore_case: also split upper-case clitics (``DON'T``).
        one_pass: one pass for every clitic, as described above.
    """
    before = ("(?i)" if ignore_case else "") + "(" + letter + ")"
    if one_pass:
        return tf.strings.regex_replace(texts, before + "(" + CLITICS + r")\b", r"\1 \2")
    texts = tf.strings.regex_replace(texts, before + r"(n't)\b", r"\1 \2")
    return tf.strings.regex_replace(texts, before + r"('(?:s|re|ll|ve|m|d))\b", r"\1 \2")


def split_words(texts, lowercase=False, clitics=True, marks=ALL_MARKS, letter=r"\pL",
                ignore_case=False, one_pass=False):
    """Split a batch of texts into words: ragged ``[N, (T)]`` strings.

    Args:
        texts: ``[N]`` ``tf.string`` texts.
        lowercase: lower-case first (Unicode-aware).
        clitics: set English clitics apart (:func:`split_clitics`, with ``letter``,
            ``ignore_case`` and ``one_pass``).
        marks: a regex matching each mark that becomes a token of its own.
    """
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if clitics:
        texts = split_clitics(texts, letter, ignore_case, one_pass)
    texts = tf.strings.regex_replace(texts, "(" + marks + ")", r" \1 ")
    return tf.strings.split(texts)


def word_lists(texts, chunk=4096, **options):
    """:func:`split_words` over a Python list of texts: a list of lists of ``str``.

    Texts are split ``chunk`` at a time, so a large corpus never becomes one huge tensor.
    ``options`` are :func:`split_words`' keyword arguments.
    """
    out = []
    for start in range(0, len(texts), chunk):
        rows = split_words(tf.constant(list(texts[start:start + chunk])), **options).to_list()
        out.extend([token.decode("utf-8") for token in row] for row in rows)
    return out
