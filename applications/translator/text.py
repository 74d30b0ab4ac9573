"""In-graph tokenising and detokenising for the translator.

Training data, ``translate``, ``evaluate`` and the exported SavedModel all split sentences
with :func:`tokenize` and join output tokens with :func:`detokenize`, so they agree.

The split is deliberately simple (no subwords): optional lower-casing; every punctuation
mark is a token except apostrophes and hyphens inside words; the English clitics ``n't``,
``'s``, ``'re``, ``'ll``, ``'ve``, ``'m``, ``'d`` are split off. Detokenising undoes the
spacing: no space before closing marks or clitics, none after opening marks (``¿``, ``(``).
BLEU is computed by sacrebleu on the detokenised text, with its own tokenizer.
"""

import tensorflow as tf

_CLITICS = r"n't|'(?:s|re|ll|ve|m|d)"


def tokenize(sentences, lowercase=False):
    """Split a batch of sentences into tokens: ragged ``[N, (T)]`` strings.

    ``"Don't stop, it's ¿raining?"`` -> ``Do n't stop , it 's ¿ raining ?``
    """
    text = tf.strings.lower(sentences, encoding="utf-8") if lowercase else sentences
    text = tf.strings.regex_replace(text, r"(\pL)(" + _CLITICS + r")\b", r"\1 \2")
    text = tf.strings.regex_replace(text, r"([^\pL\pN\pM\s'\-])", r" \1 ")
    return tf.strings.split(text)


def detokenize(tokens):
    """Join ragged ``[N, (T)]`` token strings back into ``[N]`` sentences."""
    text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    text = tf.strings.regex_replace(text, r" ([.,!?;:%)\]}»])", r"\1")
    text = tf.strings.regex_replace(text, r"([(\[{¿¡«]) ", r"\1")
    return tf.strings.regex_replace(text, r" (" + _CLITICS + r")\b", r"\1")


def tokenize_corpus(sentences, lowercase=False, chunk=4096):
    """Python lists of token strings for a list of sentences, by :func:`tokenize`."""
    out = []
    for start in range(0, len(sentences), chunk):
        rows = tokenize(tf.constant(sentences[start:start + chunk]), lowercase).to_list()
        out.extend([token.decode("utf-8") for token in row] for row in rows)
    return out
