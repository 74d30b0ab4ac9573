"""Ensembles of separately trained text classifiers: one model that averages their logits.

    python -m applications.text_classifier ensemble --models runs/a runs/b --out runs/ab

Members trained with different seeds (their own initialisation, batch order and early
stopping) disagree on different sentences, so their mean is usually right more often than
any one of them. The result is an ordinary saved classifier: ``evaluate``, ``predict``
(``--mc-samples`` too) and ``export`` work on it as on a single model.
"""

import os
import sys

import keras

from applications.config import UsageError
from applications.text_classifier.model import TextClassifier
from data.files import atomic_write_json

# Options that shape a member's weights; members must agree on them (and on the metadata).
MUST_MATCH = ("encoder", "embedding_dim")


def add_arguments(parser):
    parser.description = "combine separately trained classifiers into one averaging model"
    parser.add_argument("--models", nargs="+", required=True, metavar="DIR",
                        help="two or more trained classifiers over the same training data")
    parser.add_argument("--out", required=True, help="application directory to write")


def build_ensemble(members, sources=None):
    """One :class:`TextClassifier` holding copies of ``members``' weights.

    Args:
        members: trained single-member ``TextClassifier`` models.
        sources: names for error messages (default: ``member 1``, ...).

    Raises:
        UsageError: fewer than two members, a member that is itself an ensemble or not a
            text classifier, or members that differ in vocabulary, labels, columns or in
            an option of ``MUST_MATCH``.
    """
    sources = sources or [f"member {i + 1}" for i in range(len(members))]
    if len(members) < 2:
        raise UsageError("an ensemble needs at least two models")
    first = members[0]
    for model, source in zip(members, sources):
        if not isinstance(model, TextClassifier):
            raise UsageError(f"{source}: not a text classifier")
        if len(model.heads) != 1:
            raise UsageError(f"{source}: already an ensemble; give its members instead")
        if model.metadata != first.metadata:
            raise UsageError(f"{source}: trained on a different vocabulary, label set or "
                             f"columns than {sources[0]}; members must share training data")
        for key in MUST_MATCH:
            if model.config.get(key) != first.config.get(key):
                raise UsageError(f"{source}: {key} differs from {sources[0]} "
                                 f"({model.config.get(key)!r} vs {first.config.get(key)!r})")
    config = dict(first.config, ensemble_size=len(members))
    ensemble = TextClassifier(config, first.metadata)
    ensemble(keras.ops.ones((1, 4), "int32"))  # creates the variables
    for i, model in enumerate(members):
        for mine, theirs in ((ensemble.embeddings[i], model.embeddings[0]),
                             (ensemble.encoders[i], model.encoders[0]),
                             (ensemble.heads[i], model.heads[0])):
            mine.set_weights(theirs.get_weights())
    return ensemble


def run_ensemble(args):
    from applications.base import load_model

    if os.path.abspath(args.out) in {os.path.abspath(m) for m in args.models}:
        raise UsageError(f"--out {args.out} is one of the members; write to a new directory")
    members = [load_model(path) for path in args.models]
    ensemble = build_ensemble(members, args.models)
    os.makedirs(args.out, exist_ok=True)
    ensemble.save_to(args.out)
    atomic_write_json(os.path.join(args.out, "config.json"), ensemble.config)
    atomic_write_json(os.path.join(args.out, "ensemble.json"),
                      {"members": [os.path.abspath(m) for m in args.models]})
    print(f"saved {os.path.join(args.out, 'model.keras')} ({len(members)} members)",
          file=sys.stderr)
    return 0
