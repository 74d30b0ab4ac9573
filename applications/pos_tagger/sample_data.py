"""The embedded default corpus: English-like sentences from a small tagged grammar.

It lets every command run with no download. Sentences are generated from templates over a
hand-written lexicon with a fixed seed, so the corpus is the same on every machine.
"""

import os
import random

from data.files import atomic_write_bytes

LEXICON = {
    "DET": "the a this that every some no each".split(),
    "ADJ": ("old young small large red green quiet happy tired bright dark cold warm new "
            "strange careful famous early").split(),
    "NOUN": ("man woman dog cat city river book letter teacher student car house garden tree "
             "window song idea market doctor child bird train road friend table storm "
             "morning village").split(),
    "PROPN": "Anna Boris Paris London Maria Tokyo Omar Lisbon Chen Kenya".split(),
    "VERB": ("saw found liked wrote read opened carried watched visited painted heard "
             "followed helped bought sold").split(),
    "IVERB": "slept laughed waited arrived left smiled sang ran".split(),
    "ADV": "quickly slowly often never quietly yesterday today soon again".split(),
    "ADP": "in on near under behind with from into across".split(),
    "PRON": "she he they we it I you".split(),
    "AUX": "will can should might must".split(),
    "BARE": "see find like write read open carry watch visit paint hear follow help".split(),
    "CCONJ": "and but or".split(),
    "NUM": "two three four five ten twelve".split(),
    "PLURAL": "dogs cats books letters trees songs birds friends houses".split(),
    "SCONJ": "because while although when".split(),
}

# Each template is a list of slots; 'NP' expands to a noun phrase, PP to a prepositional one.
TEMPLATES = [
    "NP VERB NP PUNCT",
    "NP IVERB ADV PUNCT",
    "NP AUX BARE NP PP PUNCT",
    "PRON VERB NP PP PUNCT",
    "NP VERB NP CCONJ NP VERB NP PUNCT",
    "ADV COMMA PRON IVERB PP PUNCT",
    "NP IVERB SCONJ PRON VERB NP PUNCT",
    "PRON AUX BARE NUM PLURAL PUNCT",
    "NP PP VERB NP PUNCT",
    "PROPN IVERB PP PUNCT",
]

_TAG_OF = {"IVERB": "VERB", "BARE": "VERB", "PLURAL": "NOUN"}


def _noun_phrase(rng):
    roll = rng.random()
    if roll < 0.2:
        return [(rng.choice(LEXICON["PROPN"]), "PROPN")]
    phrase = [(rng.choice(LEXICON["DET"]), "DET")]
    if roll < 0.6:
        phrase.append((rng.choice(LEXICON["ADJ"]), "ADJ"))
    phrase.append((rng.choice(LEXICON["NOUN"]), "NOUN"))
    return phrase


def generate_sentences(count, seed=0):
    """Return ``count`` sentences as lists of ``(token, UPOS tag)`` pairs."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(count):
        sentence = []
        for slot in rng.choice(TEMPLATES).split():
            if slot == "NP":
                sentence.extend(_noun_phrase(rng))
            elif slot == "PP":
                sentence.append((rng.choice(LEXICON["ADP"]), "ADP"))
                sentence.extend(_noun_phrase(rng))
            elif slot == "PUNCT":
                sentence.append((rng.choice([".", ".", "!"]), "PUNCT"))
            elif slot == "COMMA":
                sentence.append((",", "PUNCT"))
            else:
                sentence.append((rng.choice(LEXICON[slot]), _TAG_OF.get(slot, slot)))
        first, tag = sentence[0]
        sentence[0] = (first[0].upper() + first[1:], tag)
        sentences.append(sentence)
    return sentences


def write_two_column(sentences, path):
    text = "".join("".join(f"{token}\t{tag}\n" for token, tag in sentence) + "\n"
                   for sentence in sentences)
    atomic_write_bytes(path, text.encode("utf-8"))


def sample_paths(folder=None):
    """Write (once) and return the paths of the embedded train and dev files."""
    folder = folder or os.path.join(os.path.expanduser("~"), ".cache", "encore", "pos_sample")
    paths = {"train": os.path.join(folder, "train.tsv"), "dev": os.path.join(folder, "dev.tsv")}
    if not all(os.path.exists(p) for p in paths.values()):
        write_two_column(generate_sentences(1500, seed=1), paths["train"])
        write_two_column(generate_sentences(300, seed=2), paths["dev"])
    return paths
