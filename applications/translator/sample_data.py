"""The embedded default data: short English -> Spanish sentence pairs from templates.

The pairs are generated from a small hand-written bilingual word list with a fixed seed,
so every machine gets the same files and ``train`` needs no download. Spanish puts
adjectives after nouns, inflects them for gender, and marks questions at both ends, so
the model has to reorder words, not only look them up.
"""

import os
import random

from data.files import atomic_write_bytes

# English noun: (Spanish noun, gender)
NOUNS = {
    "cat": ("gato", "m"), "dog": ("perro", "m"), "boy": ("niño", "m"),
    "girl": ("niña", "f"), "man": ("hombre", "m"), "woman": ("mujer", "f"),
    "teacher": ("profesor", "m"), "doctor": ("médica", "f"), "bird": ("pájaro", "m"),
    "horse": ("caballo", "m"),
}
OBJECTS = {
    "book": ("libro", "m"), "apple": ("manzana", "f"), "door": ("puerta", "f"),
    "house": ("casa", "f"), "letter": ("carta", "f"), "car": ("coche", "m"),
    "window": ("ventana", "f"), "bread": ("pan", "m"), "table": ("mesa", "f"),
    "ball": ("pelota", "f"),
}
# English adjective: (masculine, feminine)
ADJECTIVES = {
    "red": ("rojo", "roja"), "small": ("pequeño", "pequeña"), "old": ("viejo", "vieja"),
    "new": ("nuevo", "nueva"), "white": ("blanco", "blanca"), "black": ("negro", "negra"),
    "big": ("grande", "grande"), "happy": ("contento", "contenta"),
}
# English verb: (English third person singular, Spanish third person singular)
VERBS = {
    "see": ("sees", "ve"), "want": ("wants", "quiere"), "have": ("has", "tiene"),
    "open": ("opens", "abre"), "find": ("finds", "encuentra"), "buy": ("buys", "compra"),
    "carry": ("carries", "lleva"), "watch": ("watches", "mira"),
}


def _article(gender, definite):
    if definite:
        return "el" if gender == "m" else "la"
    return "un" if gender == "m" else "una"


def _english_article(noun, definite):
    if definite:
        return "the"
    return "an" if noun[0] in "aeiou" else "a"


def _phrase(rng, nouns, definite=None):
    """An English and a Spanish noun phrase, sometimes with an adjective."""
    noun = rng.choice(sorted(nouns))
    spanish, gender = nouns[noun]
    definite = rng.random() < 0.6 if definite is None else definite
    english = [_english_article(noun, definite)]
    words = [_article(gender, definite), spanish]
    if rng.random() < 0.5:
        adjective = rng.choice(sorted(ADJECTIVES))
        english = [_english_article(adjective, definite), adjective]
        words.append(ADJECTIVES[adjective][gender == "f"])
    return " ".join(english + [noun]), " ".join(words), gender


def generate_pairs(count, seed=0):
    """``count`` distinct ``(english, spanish)`` sentence pairs.

    Statements, negations (``does not`` -> ``no``), questions (``Does ...?`` ->
    ``¿...?``) and descriptions (``is`` + adjective, agreeing in gender).
    """
    rng = random.Random(seed)
    pairs, seen = [], set()
    while len(pairs) < count:
        subject, sujeto, gender = _phrase(rng, NOUNS, definite=True)
        thing, cosa, _ = _phrase(rng, OBJECTS)
        verb = rng.choice(sorted(VERBS))
        third, verbo = VERBS[verb]
        kind = rng.random()
        if kind < 0.45:
            english, spanish = f"{subject} {third} {thing} .", f"{sujeto} {verbo} {cosa} ."
        elif kind < 0.65:
            english = f"{subject} does not {verb} {thing} ."
            spanish = f"{sujeto} no {verbo} {cosa} ."
        elif kind < 0.85:
            english = f"does {subject} {verb} {thing} ?"
            spanish = f"¿ {verbo} {sujeto} {cosa} ?"
        else:
            adjective = rng.choice(sorted(ADJECTIVES))
            english = f"{subject} is {adjective} ."
            spanish = f"{sujeto} es {ADJECTIVES[adjective][gender == 'f']} ."
        pair = (_written(english), _written(spanish))
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs


def _written(text):
    """Capitalise and attach punctuation as in ordinary writing: ``¿Ve el gato el pan?``"""
    text = text.replace(" .", ".").replace(" ?", "?").replace("¿ ", "¿")
    first = 1 if text.startswith("¿") else 0
    return text[:first] + text[first].upper() + text[first + 1:]


def write_pairs(pairs, path):
    atomic_write_bytes(path, "".join(f"{a}\t{b}\n" for a, b in pairs).encode("utf-8"))


def sample_paths(folder=None):
    """Write (once) and return the paths of the embedded train and dev pair files."""
    folder = folder or os.path.join(os.path.expanduser("~"), ".cache", "encore",
                                    "translator_sample")
    paths = {"train": os.path.join(folder, "train.tsv"), "dev": os.path.join(folder, "dev.tsv")}
    if not all(os.path.exists(p) for p in paths.values()):
        pairs = generate_pairs(900, seed=1)
        write_pairs(pairs[:800], paths["train"])
        write_pairs(pairs[800:], paths["dev"])
    return paths
