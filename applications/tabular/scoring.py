"""Scores per target: accuracy, macro F1 and ROC AUC for classes; RMSE, MAE and R² for
numbers, in the target's own units. Plain NumPy, no scikit-learn."""

import numpy as np


def roc_auc(positive, scores):
    """Area under the ROC curve: the chance a random positive outscores a random negative
    (ties count half), from the rank sum (Mann-Whitney U). None with one class only."""
    positive = np.asarray(positive, bool)
    count_pos, count_neg = int(positive.sum()), int((~positive).sum())
    if not count_pos or not count_neg:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranked = np.asarray(scores)[order]
    ranks = np.empty(len(ranked), np.float64)
    start = 0
    while start < len(ranked):  # tied scores share their mean rank
        end = start
        while end + 1 < len(ranked) and ranked[end + 1] == ranked[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    rank_sum = ranks[positive].sum()
    return float((rank_sum - count_pos * (count_pos + 1) / 2.0) / (count_pos * count_neg))


def classification_scores(true_ids, probabilities):
    """``{"accuracy", "macro_f1", "auc"}`` for class ids ``[N]`` and probabilities ``[N, K]``.

    Macro F1 averages the per-class F1 over the classes that occur in the truth or the
    predictions. AUC is that of the second class for two classes, else the mean one-vs-rest
    AUC over classes present with both outcomes.
    """
    true_ids = np.asarray(true_ids, np.int64)
    predicted = np.argmax(probabilities, axis=-1)
    f1s = []
    for k in sorted(set(true_ids.tolist()) | set(predicted.tolist())):
        tp = np.sum((predicted == k) & (true_ids == k))
        fp = np.sum((predicted == k) & (true_ids != k))
        fn = np.sum((predicted != k) & (true_ids == k))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    if probabilities.shape[1] == 2:
        auc = roc_auc(true_ids == 1, probabilities[:, 1])
    else:
        aucs = [roc_auc(true_ids == k, probabilities[:, k]) for k in range(probabilities.shape[1])]
        aucs = [a for a in aucs if a is not None]
        auc = float(np.mean(aucs)) if aucs else None
    return {"accuracy": float(np.mean(predicted == true_ids)), "macro_f1": float(np.mean(f1s)),
            "auc": auc}


def regression_scores(truth, predicted):
    """``{"rmse", "mae", "r2"}`` in the units of ``truth``."""
    truth, predicted = np.asarray(truth, np.float64), np.asarray(predicted, np.float64)
    error = predicted - truth
    spread = np.sum((truth - truth.mean()) ** 2)
    return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
            "r2": float(1.0 - np.sum(error ** 2) / spread) if spread > 0 else None}
