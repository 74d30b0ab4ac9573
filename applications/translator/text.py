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

from data.tokenize import CLITICS, split_words, word_lists

# Every mark but apostrophes, hyphens and combining marks is a token of its own.
MARKS = r"[^\pL\pN\pM\s'\-]"


def tokenize(sentences, lowercase=False):
    """Split a batch of sentences into tokens: ragged ``[N, (T)]`` strings.

    ``"Don't stop, it's ¿raining?"`` -> ``Do n't stop , it 's ¿ raining ?``
    """
    return split_words(sentences, lowercase=lowercase, marks=MARKS, one_pass=True)


def detokenize(tokens):
    """Join ragged ``[N, (T)]`` token strings back into ``[N]`` sentences."""
    text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    text = tf.strings.regex_replace(text, r" ([.,!?;:%)\]}»])", r"\1")
    text = tf.strings.regex_replace(text, r"([(\[{¿¡«]) ", r"\1")
    return tf.strings.regex_replace(text, r" (" + CLITICS + r")\b", r"\1")


def tokenize_corpus(sentences, lowercase=False, chunk=4096):
    """Python lists of token strings for a list of sentences, by :func:`tokenize`."""
    return word_lists(sentences, chunk, lowercase=lowercase, marks=MARKS, one_pass=True)
