"""The embedded default data: short generated reviews, and toxic-comment-style rows for tests.

Both come from templates over small hand-written word lists with a fixed seed, so every
machine gets the same files and no command needs a download.
"""

import csv
import io
import os
import random

from data.files import atomic_write_bytes

POSITIVE = ("wonderful moving brilliant funny charming clever delightful gripping beautiful "
            "superb touching memorable").split()
NEGATIVE = ("dull boring clumsy awful tedious predictable lifeless bland painful silly "
            "forgettable shallow").split()
SUBJECTS = ("the film", "the movie", "this picture", "the story", "the script", "the cast",
            "the ending", "the director's work", "the plot", "the acting")
FILLERS = ("from start to finish", "for most of its running time", "in the second half",
           "despite a slow start", "as expected", "more often than not", "overall")
INTENSIFIERS = ("", "", "really ", "truly ", "quite ", "utterly ")
TEMPLATES = (
    "{s} is {i}{w} {f} .",
    "{s} feels {i}{w} , {f} .",
    "what a {w} experience : {s} is {i}{w} .",
    "i found {s} {i}{w} {f} .",
    "{s} was {i}{w} but the music was {o} .",
)

# Toxic-comment-style rows: each label column has its own cue words.
NEUTRAL = ("thanks for the edit i think the source is fine please check the talk page the "
           "article needs a citation see the discussion above good point agreed").split()
CUES = {
    "toxic": "idiot stupid moron dumb pathetic".split(),
    "obscene": "damn crap hell bloody".split(),
    "insult": "loser clown fool coward".split(),
}


def generate_reviews(count, seed=0):
    """``count`` rows ``(text, label)``, label ``positive`` or ``negative``.

    One sentence in eight mentions a word of the other polarity ("... but the music was
    dull"), so the task is not a single word lookup.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice(["positive", "negative"])
        words, other = (POSITIVE, NEGATIVE) if label == "positive" else (NEGATIVE, POSITIVE)
        text = rng.choice(TEMPLATES).format(s=rng.choice(SUBJECTS), i=rng.choice(INTENSIFIERS),
                                            w=rng.choice(words), f=rng.choice(FILLERS),
                                            o=rng.choice(other))
        rows.append((text[0].upper() + text[1:], label))
    return rows


def generate_toxic_comments(count, seed=0, rate=0.3):
    """``count`` rows ``(comment_text, toxic, obscene, insult)`` with 0/1 labels.

    Each column is switched on independently with probability ``rate``; a comment carrying a
    label contains one of that label's cue words among neutral words.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        flags = [int(rng.random() < rate) for _ in CUES]
        words = [rng.choice(NEUTRAL) for _ in range(rng.randint(4, 9))]
        for flag, cues in zip(flags, CUES.values()):
            if flag:
                words.insert(rng.randrange(len(words) + 1), rng.choice(cues))
        rows.append((" ".join(words), *flags))
    return rows


def write_csv(rows, header, path):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))


def sample_paths(folder=None):
    """Write (once) and return the paths of the embedded train and dev review files."""
    folder = folder or os.path.join(os.path.expanduser("~"), ".cache", "encore", "text_sample")
    paths = {"train": os.path.join(folder, "train.csv"), "dev": os.path.join(folder, "dev.csv")}
    if not all(os.path.exists(p) for p in paths.values()):
        write_csv(generate_reviews(1200, seed=1), ["text", "label"], paths["train"])
        write_csv(generate_reviews(300, seed=2), ["text", "label"], paths["dev"])
    return paths
