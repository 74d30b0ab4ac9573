"""Classification scores in NumPy: accuracy, macro F1 and ROC AUC by the rank formula."""

import numpy as np


def rank_average(values):
    """1-based ranks of ``values``; tied values share the mean of their ranks."""
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="mergesort")
    _, inverse, counts = np.unique(values[order], return_inverse=True, return_counts=True)
    # Tied run j spans ranks (ends[j] - counts[j], ends[j]]: its mean is the midpoint.
    ends = np.cumsum(counts)
    ranks = np.empty(len(values))
    ranks[order] = (ends - (counts - 1) / 2.0)[inverse]
    return ranks


def roc_auc(truth, scores):
    """Area under the ROC curve: P(score of a positive > score of a negative), ties count 1/2.

    Mann-Whitney form: ``(sum of positive ranks - P(P+1)/2) / (P * N)``. None when the
    column has only one class.

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    truth = np.asarray(truth).astype(bool)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = rank_average(scores)
    return float((ranks[truth].sum() - positives * (positives + 1) / 2.0)
                 / (positives * negatives))


def f1(truth, predicted):
    """F1 of boolean arrays; 0 when there is nothing to find and nothing found (as sklearn)."""
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    tp = int((truth & predicted).sum())
    denominator = 2 * tp + int((truth ^ predicted).sum())
    return 2.0 * tp / denominator if denominator else 0.0


def classification_scores(task, probabilities, targets, label_names):
    """The scores ``evaluate`` reports.

    Args:
        task: ``binary``, ``multiclass`` or ``multilabel``.
        probabilities: ``[N, K]``, as the served model returns them (binary: K = 2).
        targets: class ids ``[N]`` (binary / multi-class; binary may be ``[N, 1]``; -1 for
            a label never seen in training, always an error), or 0/1 ``[N, K]``
            (multi-label).
        label_names: the K names.

    Returns:
        ``accuracy`` (multi-label: over every (text, label) pair), ``macro_f1`` (mean F1 over
        classes present in the truth or the predictions; multi-label: over columns),
        ``examples``; multi-label adds ``exact_match``, ``auc`` per column and ``mean_auc``
        over the columns that hold both classes.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if task == "multilabel":
        truth = np.asarray(targets) > 0.5
        predicted = probabilities > 0.5
        aucs = {name: roc_auc(truth[:, k], probabilities[:, k])
                for k, name in enumerate(label_names)}
        defined = [v for v in aucs.values() if v is not None]
        return {
            "accuracy": float((truth == predicted).mean()),
            "exact_match": float((truth == predicted).all(axis=1).mean()),
            "macro_f1": float(np.mean([f1(truth[:, k], predicted[:, k])
                                       for k in range(truth.shape[1])])),
            "auc": aucs,
            "mean_auc": float(np.mean(defined)) if defined else None,
            "examples": int(len(truth)),
        }
    truth = np.asarray(targets).reshape(-1).astype(np.int64)
    predicted = probabilities.argmax(axis=-1)
    # A label never seen in training (id -1) is a miss; F1 is over the model's classes.
    present = np.union1d(truth[truth >= 0], predicted)
    return {
        "accuracy": float((truth == predicted).mean()),
        "macro_f1": float(np.mean([f1(truth == k, predicted == k) for k in present])),
        "examples": int(len(truth)),
    }
