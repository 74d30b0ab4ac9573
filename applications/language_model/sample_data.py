"""The embedded default corpus: short rhyming verses generated from templates.

It lets ``train`` run with no download. The text is built from a hand-written word list
with a fixed seed, so it is the same on every machine; it is repetitive enough that a
small model learns its spelling, line shape and refrains within a few epochs.
"""

import os
import random

from data.files import atomic_write_bytes

ANIMALS = "cat dog fox hen owl bee goat lark mouse crow".split()
COLOURS = "red green brown grey white black golden silver".split()
PLACES = ("the hill", "the mill", "the river", "the town", "the wood", "the sea",
          "the barn", "the lane")
MOVES = "ran walked flew crept hopped sailed rode danced".split()
TIMES = ("in the morning", "at noon", "by the light of the moon", "before the rain",
         "when the bells rang", "after tea")
REFRAINS = (
    "Sing hey, sing ho, and round we go.",
    "Over the stile and home again.",
    "One for the road and two for the fire.",
)
VERSE = (
    "The {colour} {animal} {move} to {place},\n"
    "{time_cap}, {time_rest}.\n"
    "It met {other} {near} {place2},\n"
    "{refrain}\n"
)


def _with_article(noun):
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def generate_verses(count, seed=0):
    """Return ``count`` four-line verses, each followed by a blank line, as one string."""
    rng = random.Random(seed)
    verses = []
    for _ in range(count):
        time = rng.choice(TIMES)
        verses.append(VERSE.format(
            colour=rng.choice(COLOURS), animal=rng.choice(ANIMALS), move=rng.choice(MOVES),
            place=rng.choice(PLACES), time_cap="All alone" if rng.random() < 0.5 else "Oh",
            time_rest=time, other=_with_article(rng.choice(ANIMALS)),
            near=rng.choice(["near", "by", "beyond"]), place2=rng.choice(PLACES),
            refrain=rng.choice(REFRAINS)))
    return "\n".join(verses)


def sample_path(folder=None):
    """Write (once) and return the path of the embedded corpus (about 50,000 characters)."""
    folder = folder or os.path.join(os.path.expanduser("~"), ".cache", "encore", "lm_sample")
    path = os.path.join(folder, "verses-v1.txt")
    if not os.path.exists(path):
        atomic_write_bytes(path, generate_verses(400, seed=3).encode("utf-8"))
    return path
