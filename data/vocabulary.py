"""Vocabulary: the id of every token or tag the model knows, with padding and unknown entries."""

import collections

from data.errors import InputError
from data.files import atomic_write_json, read_json

PAD = "<pad>"
UNK = "<unk>"


class Vocabulary:
    """Maps strings to integer ids and back.

    Id 0 is always padding. With ``unk=True`` id 1 is the unknown entry and
    :meth:`encode` maps unseen strings to it; without it an unseen string is
    an error (the right choice for label sets).

    Args:
        items: the known strings, in id order (specials are added in front).
        unk: whether unseen strings map to ``<unk>``.
        counts: optional training frequency of each item (same order as ``items``).

    Example:
        >>> vocab = Vocabulary.build([["a", "b", "a"]], min_count=1)
        >>> vocab.encode(["a", "zzz"])
        [2, 1]
    """

    def __init__(self, items, unk=True, counts=None):
        specials = [PAD, UNK] if unk else [PAD]
        self.unk = unk
        self.items = specials + [item for item in items if item not in specials]
        self.index = {item: i for i, item in enumerate(self.items)}
        self.counts = None if counts is None else [0] * len(specials) + list(counts)

    @classmethod
    def build(cls, sequences, min_count=1, unk=True, max_size=None):
        """Collect items from an iterable of sequences, most frequent first."""
        counts = collections.Counter(item for seq in sequences for item in seq)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        items = [item for item, count in ranked if count >= min_count]
        if max_size is not None:
            items = items[:max_size]
        return cls(items, unk=unk, counts=[counts[item] for item in items])

    def __len__(self):
        return len(self.items)

    def __contains__(self, item):
        return item in self.index

    @property
    def specials(self):
        return 2 if self.unk else 1

    def encode(self, sequence):
        if self.unk:
            return [self.index.get(item, 1) for item in sequence]
        try:
            return [self.index[item] for item in sequence]
        except KeyError as err:
            raise KeyError(err.args[0]) from None

    def decode(self, ids):
        return [self.items[i] for i in ids]

    def get_config(self):
        config = {"items": self.items[self.specials:], "unk": self.unk}
        if self.counts is not None:
            config["counts"] = self.counts[self.specials:]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(config["items"], unk=config["unk"], counts=config.get("counts"))

    def save(self, path):
        atomic_write_json(path, self.get_config())

    @classmethod
    def load(cls, path):
        config = read_json(path)
        if not isinstance(config, dict) or "items" not in config:
            raise InputError("not a vocabulary file", path)
        return cls.from_config(config)
