"""What every application's ``evaluate`` shares: labels the model never saw are errors.

A tag, class or image label missing from the training data cannot be predicted, so each
example (or token) carrying one is scored as a wrong answer, counted in the result's
``unseen_labels``, and named once in a warning on stderr; the file is not refused.
"""

import sys

UNSEEN_ID = -1  # the class id an example with an unseen label gets in evaluation


def warn_unseen(path, count, unit, kind, names):
    """Print one ``warning:`` line when ``count`` > 0 ``unit`` s carried an unseen ``kind``.

    Args:
        path: the evaluated file.
        count: how many tokens or examples carried one.
        unit: what was counted, singular (``token``, ``text``, ``image``).
        kind: ``tag`` or ``label``.
        names: the unseen tags or labels (the first ten are shown).

    Example:
        >>> warn_unseen("dev.conllu", 3, "token", "tag", ["PART"])  # doctest: +SKIP
        warning: dev.conllu: 3 tokens carry a tag never seen in training (PART); ...
    """
    if not count:
        return
    names = list(names)
    shown = ", ".join(map(str, names[:10])) + (f" and {len(names) - 10} more"
                                               if len(names) > 10 else "")
    counted = f"1 {unit} carries" if count == 1 else f"{count} {unit}s carry"
    print(f"warning: {path}: {counted} a {kind} never seen in training ({shown}); counted as "
          "errors", file=sys.stderr)
