"""Ensembles of separately trained text classifiers: one model that averages their logits.

    python -m applications.text_classifier ensemble --models runs/a runs/b --out runs/ab

The result is an ordinary saved classifier whose members live inside one
:class:`TextClassifier` (``ensemble_size`` > 1), so ``predict --mc-samples`` works on it
too; the checks and the command are the shared ones of :mod:`applications.core.ensemble`.
"""

import keras

from applications.core.ensemble import check_members, ensemble_verb
from applications.text_classifier.model import TextClassifier

# Options that shape a member's weights; members must agree on them (and on the metadata).
MUST_MATCH = ("encoder", "embedding_dim")


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
    check_members(members, sources, TextClassifier, MUST_MATCH,
                  is_ensemble=lambda model: len(model.heads) != 1)
    first = members[0]
    config = dict(first.config, ensemble_size=len(members))
    ensemble = TextClassifier(config, first.metadata)
    ensemble(keras.ops.ones((1, 4), "int32"))  # creates the variables
    for i, model in enumerate(members):
        for mine, theirs in ((ensemble.embeddings[i], model.embeddings[0]),
                             (ensemble.encoders[i], model.encoders[0]),
                             (ensemble.heads[i], model.heads[0])):
            mine.set_weights(theirs.get_weights())
    return ensemble


add_arguments, run_ensemble = ensemble_verb(build_ensemble)
