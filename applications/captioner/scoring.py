"""Caption scores against every reference: BLEU-1 to BLEU-4 (sacrebleu) and CIDEr-D."""

from applications.captioner.pipeline import caption_words


def caption_scores(hypotheses, references):
    """BLEU-n (sacrebleu, 0-100, lower-cased, all references of each image) and CIDEr-D.

    Args:
        hypotheses: one caption per image.
        references: each image's reference captions (any number, at least one).

    Returns:
        ``{"bleu_1" .. "bleu_4", "cider_d"}``; ``cider_d`` is ``pycocoevalcap``'s CIDEr-D
        (Vedantam et al. 2015, the COCO caption evaluation's, x10 scale, document
        frequencies from these references) over this package's caption tokens, or None
        with ``cider_d_missing`` saying why when ``pycocoevalcap`` is not installed
        (``pip install 'encore[caption]'``).
    """
    from sacrebleu.metrics import BLEU

    most = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references]
               for k in range(most)]
    scores = {f"bleu_{n}": round(BLEU(max_ngram_order=n, lowercase=True)
                                 .corpus_score(hypotheses, streams).score, 2)
              for n in range(1, 5)}
    try:
        from pycocoevalcap.cider.cider import Cider
    except ImportError:
        return {**scores, "cider_d": None,
                "cider_d_missing": "pycocoevalcap is not installed"}
    joined = [" ".join(words) for words in
              caption_words(list(hypotheses) + [r for refs in references for r in refs])]
    hyps, refs, start = {}, {}, len(hypotheses)
    for i, own in enumerate(references):
        hyps[i] = [joined[i]]
        refs[i] = joined[start:start + len(own)]
        start += len(own)
    cider, _ = Cider().compute_score(refs, hyps)
    return {**scores, "cider_d": round(float(cider), 4)}
