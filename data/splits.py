"""Seeded train/dev splits, shared by every application that holds part of its data out."""

import numpy as np

from data.errors import InputError


def held_out_split(count, fraction, seed):
    """Indices ``(kept, held_out)``: a fixed, seeded ``fraction`` of ``count`` rows held out.

    The same ``(count, fraction, seed)`` always holds out the same rows, so ``evaluate
    --held-out`` scores exactly the rows training did not see.

    Args:
        count: the number of rows (examples, pairs, images).
        fraction: the share held out, in ``[0, 1)``; rounded to a whole number of rows.
        seed: the permutation's seed.

    Returns:
        Two sorted int arrays that together hold ``0 .. count - 1`` once each.

    Raises:
        InputError: the share rounds to every row, leaving none to train on.

    Example:
        >>> kept, held = held_out_split(10, 0.2, seed=0)
        >>> len(kept), len(held)
        (8, 2)
    """
    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * fraction))
    if count and cut >= count:
        raise InputError(f"dev_split={fraction:g} holds out all {count} examples, leaving "
                         "none to train on")
    return np.sort(order[cut:]), np.sort(order[:cut])


def held_out_part(count, fraction, seed, path):
    """The indices :func:`held_out_split` holds out of ``count`` rows, for ``evaluate
    --held-out`` on the file at ``path``.

    Raises:
        InputError: the share rounds to no row of this file (a file of a few rows).
    """
    held = held_out_split(count, fraction, seed)[1]
    if not len(held):
        raise InputError(f"--held-out: a share of {fraction:g} holds out no example of "
                         f"{count}", path)
    return held
