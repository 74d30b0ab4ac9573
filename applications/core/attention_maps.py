"""Self-attention maps of a Transformer encoder: the ``attention`` verb of the sequence
applications.

An application's model names what its encoder reads for raw texts
(``attention_inputs(texts) -> (tokens, encoder, vectors, mask)``); this module asks the
encoder for one layer's attention weights and writes them as JSON lines and heatmaps.
"""

import json
import os
import sys

import numpy as np

from applications.core import progress
from applications.core.config import UsageError
from applications.core.outputs import make_folder


def add_arguments(parser):
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", default="-", help="texts, one a line, or - for stdin")
    parser.add_argument("--layer", type=int, default=-1,
                        help="the encoder block, from 0 (default -1: the last)")
    parser.add_argument("--head", type=int, metavar="N",
                        help="one attention head, from 0 (default: the mean of all heads)")
    parser.add_argument("--plot", metavar="DIR",
                        help="also write a heatmap PNG per text (DIR/0001.png, ...)")


def attention_verb():
    """``(add_arguments, run)`` for an application's ``extra_verbs``."""
    return add_arguments, run


def run(args):
    """Self-attention weights of a Transformer encoder's layer and head, per input text."""
    from applications.core.base import load_model
    from data.files import iter_lines

    if args.plot:  # refused before any work when a file stands in the way
        make_folder(args.plot, "--plot")
    texts = [text for _, text in iter_lines(args.input)]
    model = load_model(args.model)
    maps = self_attention(model, texts, args.layer, args.head, where=args.model)
    for i, (text, (tokens, weights)) in enumerate(zip(texts, maps)):
        print(json.dumps({"text": text, "layer": args.layer, "head": args.head,
                          "tokens": tokens, "weights": np.round(weights, 4).tolist()}))
        if args.plot and tokens:
            from applications.core.plots import plot_attention

            plot_attention(os.path.join(args.plot, f"{i + 1:04d}.png"), tokens, tokens,
                           weights, title=text[:80], columns_label="attended to",
                           rows_label="attending")
    sys.stdout.flush()
    if args.plot:
        progress.line(f"wrote {sum(1 for t, _ in maps if t)} heatmaps to {args.plot}")
    return 0


def token_lists(tokens):
    """Python lists of strings from a ragged ``[N, (T)]`` string tensor."""
    return [[token.decode("utf-8") for token in row] for row in tokens.to_list()]


def self_attention(model, texts, layer=-1, head=None, where="the model"):
    """``(tokens, weights [T, T])`` per text: one block's attention, rows attending.

    Args:
        model: an application model with ``attention_inputs`` and a Transformer encoder.
        texts: raw texts, as ``predict`` reads them.
        layer: the block, from 0; negative counts from the last.
        head: one head, or None for the mean over heads.
        where: how errors name the model.

    Raises:
        UsageError: the model has no self-attention, or no such layer or head.
    """
    inputs = getattr(model, "attention_inputs", None)
    if inputs is None:
        raise UsageError(f"{where}: this application has no self-attention maps")
    if not texts:
        return []
    tokens, encoder, vectors, mask = inputs(texts)
    if not hasattr(encoder, "attention_scores"):
        raise UsageError(f"{where}: the encoder is not a Transformer (trained with encoder "
                         f"name {model.config['encoder'].get('name')!r}); attention maps need "
                         "--set 'encoder={\"name\": \"transformer\"}'")
    if not -encoder.num_layers <= layer < encoder.num_layers:
        raise UsageError(f"--layer {layer}: the encoder has {encoder.num_layers} layers "
                         f"(0 to {encoder.num_layers - 1}, or -1 for the last)")
    if head is not None and not 0 <= head < encoder.num_heads:
        raise UsageError(f"--head {head}: the encoder has {encoder.num_heads} heads "
                         f"(0 to {encoder.num_heads - 1})")
    scores = np.asarray(encoder.attention_scores(vectors, mask, layer=layer), np.float64)
    chosen = scores.mean(axis=1) if head is None else scores[:, head]
    return [(words, chosen[i, :len(words), :len(words)]) for i, words in enumerate(tokens)]
