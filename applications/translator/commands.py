"""The translator's part of the shared command line, plus the ``translate`` verb."""

import os
import sys
import time

import numpy as np
import tensorflow as tf

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError, held_out_share
from applications.core.decoding import (add_decoding_arguments, decoding_options,
                                         valid_decoding)
from applications.core.outputs import make_folder
from applications.translator.config import TranslatorConfig
from applications.translator.model import Translator
from applications.translator.pipeline import (TranslationMetadata, corpus_tokens, encode_pairs,
                                              keep_short, translation_dataset)
from applications.translator.sample_data import sample_paths
from data.errors import InputError
from data.files import batches_or_refuse, iter_lines, source_name
from data.parallel_text import read_parallel_files, read_tab_pairs, split_pairs
from data.splits import held_out_part, held_out_split
from data.word_vectors import vectors_for_vocabulary
from encoders.embeddings import start_from_vectors

# predict reads, translates and writes this many lines at a time.
PREDICT_WINDOW = 4096
NOTHING_TO_TRANSLATE = "no sentences to translate (the input is empty)"


class TranslatorCommands(AppCommands):
    name = "translator"
    config_class = TranslatorConfig
    model_class = Translator

    def add_arguments(self, verb, parser):
        if verb in ("train", "evaluate"):
            prefix = "train" if verb == "train" else "data"
            parser.add_argument(f"--{prefix}-src", help="source side of parallel files "
                                "(line i translates line i of the target file)")
            parser.add_argument(f"--{prefix}-tgt", help="target side of parallel files")
            parser.add_argument("--reverse", action="store_true",
                                help="translate the other way: tab-separated files hold "
                                     "target<TAB>source (parallel files: -tgt is the source)")
        if verb == "train":
            parser.add_argument("--dev-src", help="source side of parallel dev files")
            parser.add_argument("--dev-tgt", help="target side of parallel dev files")
        if verb == "evaluate":
            parser.add_argument("--held-out", action="store_true",
                                help="score only the pairs of --data that training held "
                                     "out as dev (dev_split, same seed)")
        if verb in ("evaluate", "predict"):
            add_decoding_arguments(parser)

    def extra_verbs(self):
        from applications.core.attention_maps import attention_verb

        return {"translate": (add_translate_arguments, self.translate),
                "attention": attention_verb()}

    def read_training_data(self, args, config, metadata=None, order=None):
        if args.reverse:
            if metadata is not None and not config.reverse:
                raise UsageError(f"{args.out} holds a run trained without --reverse")
            config.reverse = True
        check_options(config)
        train = read_corpus(args.train, args.train_src, args.train_tgt, config.reverse,
                            "--train")
        dev = read_corpus(args.dev, args.dev_src, args.dev_tgt, config.reverse, "--dev")
        if train is None:
            paths = sample_paths()
            train = progress.reading(paths["train"], "pairs", read_tab_pairs, config.reverse,
                                     size=_pairs)
            dev = dev or progress.reading(paths["dev"], "pairs", read_tab_pairs, config.reverse,
                                          size=_pairs)
        if dev is not None:
            config.dev_split = 0.0  # nothing of --train is held out (evaluate --held-out)
        elif config.dev_split > 0:
            kept, held = held_out_split(len(train.sources), config.dev_split, config.seed)
            progress.held_out(train.source_path, len(held), len(train.sources), "pairs",
                              config.dev_split, config.seed)
            if len(held):  # a file of a few pairs may hold out none: no dev then
                train, dev = split_pairs(train, kept), split_pairs(train, held)
        sources, targets = corpus_tokens(train, config.lowercase_source,
                                         config.lowercase_target)
        kept = keep_short(sources, targets, config.max_length)
        if not kept:
            raise InputError(f"no pair has both sides within max_length={config.max_length} "
                             "tokens", train.source_path)
        if len(kept) < len(sources):
            print(f"note: {len(sources) - len(kept)} of {len(sources)} training pairs have "
                  f"a side longer than max_length={config.max_length} tokens; left out",
                  file=sys.stderr)
        sources, targets = [sources[i] for i in kept], [targets[i] for i in kept]
        with progress.stage("indexing the training pairs", unit="pairs") as step:
            meta = (TranslationMetadata.from_config(metadata) if metadata is not None
                    else TranslationMetadata.from_tokens(sources, targets, config))
            meta = self.pretrained_vocabularies(config, meta, metadata is None)
            encoded = encode_pairs(sources, targets, meta)
            step.count = len(sources)
        train_ds = translation_dataset(*encoded, config.batch_size, shuffle=True, seed=config.seed,
                                       order=order)
        dev_ds = None
        if dev is not None:
            dev_tokens = corpus_tokens(dev, meta.lowercase_source, meta.lowercase_target)
            dev_ds = translation_dataset(*encode_pairs(*dev_tokens, meta),
                                         config.batch_size * 2, shuffle=False)
        return meta.get_config(), train_ds, dev_ds

    def pretrained_vocabularies(self, config, meta, new_run):
        """Read each side's ``*_word_vectors`` for its vocabulary; the source vectors may
        extend the source vocabulary."""
        known = getattr(self, "vectors", {})
        self.vectors = {}
        for side, extend in (("source", config.source_word_vectors_extend_vocab), ("target", 0)):
            path = getattr(config, f"{side}_word_vectors")
            if path:
                self.vectors[side], words = vectors_for_vocabulary(
                    path, getattr(meta, side), extend if new_run else 0, known.get(side))
                setattr(meta, side, words)
        dims = {vectors.dim for vectors in self.vectors.values()}
        if len(dims) > 1:
            raise UsageError("source_word_vectors and target_word_vectors differ in size "
                             f"({' and '.join(map(str, sorted(dims)))}); both sides share "
                             "embedding_dim")
        if dims:
            config.embedding_dim = dims.pop()
            if config.target_word_vectors and config.tie_embeddings:
                config.output_dim = config.embedding_dim
        return meta

    def prepare_model(self, model, args, config):
        """Start each side's word embedding from its word vectors, when given."""
        meta = TranslationMetadata.from_config(model.metadata)
        layers = {"source": model.source_embedding, "target": model.decoder.embedding}
        for side, vectors in getattr(self, "vectors", {}).items():
            progress.line(start_from_vectors(layers[side], vectors, getattr(meta, side).items))

    def evaluate(self, model, args):
        config = model.config
        reverse = bool(args.reverse or config["reverse"])
        corpus = read_corpus(args.data, args.data_src, args.data_tgt, reverse, "--data")
        if corpus is None:
            corpus = progress.reading(sample_paths()["dev"], "pairs", read_tab_pairs, reverse,
                                      size=_pairs)
        if args.held_out:
            corpus = split_pairs(corpus, held_out_part(len(corpus.sources),
                                                       held_out_share(config), config["seed"],
                                                       corpus.source_path))
        beam, alpha = decoding_options(args, config)
        run = model.serving_module().translator(beam, alpha)
        run(tf.constant(corpus.sources[:1]))  # tracing is not decoding time
        started = time.perf_counter()
        hypotheses = translate_all(run, corpus.sources, beam, args.batch_size,
                                   label=f"translating {_corpus_label(args)}")["translations"]
        seconds = time.perf_counter() - started
        return translation_scores(hypotheses, corpus.targets, model.metadata["lowercase_target"],
                                  beam, alpha, seconds)

    def predict(self, model, args, out):
        beam, alpha = decoding_options(args, model.config)
        run = model.serving_module().translator(beam, alpha)
        # A window of lines at a time (sorted by length inside it, written in input order):
        # memory does not grow with the input.
        label = f"translating {progress.file_label(args.input)}"
        lines = (text for _, text in iter_lines(args.input))
        for window in batches_or_refuse(lines, PREDICT_WINDOW, args.input,
                                        NOTHING_TO_TRANSLATE):
            for line in translate_all(run, window, beam, args.batch_size,
                                      label=label)["translations"]:
                out.write(line + "\n")

    def translate(self, args):
        """Translate sentences (greedy or beam search), optionally plotting attention."""
        from applications.core.base import load_model

        if args.plot:  # refused before any work when a file stands in the way
            make_folder(args.plot, "--plot")
        model = load_model(args.model)
        lines = [text for _, text in iter_lines(args.input)]
        if not lines:
            raise InputError(NOTHING_TO_TRANSLATE, source_name(args.input))
        beam, alpha = decoding_options(args, model.config)
        result = translate_all(model.serving_module().translator(beam, alpha), lines, beam,
                               args.batch_size, with_attention=bool(args.plot),
                               label=f"translating {progress.file_label(args.input)}")
        for line in result["translations"]:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if args.plot:
            from applications.core.plots import plot_attention

            for i, (source, output, weights) in enumerate(result["attention"]):
                if source is not None:
                    plot_attention(os.path.join(args.plot, f"{i + 1:04d}.png"), source, output,
                                   weights, title=lines[i][:80])
        return 0


def add_translate_arguments(parser):
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", default="-",
                        help="source sentences, one a line, or - for stdin")
    parser.add_argument("--plot", metavar="DIR",
                        help="write an attention heatmap PNG per sentence (DIR/0001.png, ...)")
    add_decoding_arguments(parser)


def check_options(config):
    for name in ("max_length", "beam_size", "min_count"):
        if getattr(config, name) < 1:
            raise UsageError(f"{name} must be 1 or more, not {getattr(config, name)}")
    if not valid_decoding(config.beam_size, config.length_penalty):
        raise UsageError(f"length_penalty must be finite and not negative, not "
                         f"{config.length_penalty}")


def read_corpus(pairs_path, source_path, target_path, reverse, flag):
    """Pairs from a tab-separated file or from parallel files; None when none was named."""
    if (source_path is None) != (target_path is None):
        raise UsageError(f"{flag}-src and {flag}-tgt go together")
    if pairs_path and source_path:
        raise UsageError(f"give {flag} (tab-separated pairs) or {flag}-src/{flag}-tgt, "
                         "not both")
    if source_path:
        first, second = (target_path, source_path) if reverse else (source_path, target_path)
        return progress.reading(first, "pairs", read_parallel_files, second, size=_pairs)
    if not pairs_path:
        return None
    return progress.reading(pairs_path, "pairs", read_tab_pairs, reverse, size=_pairs)


def _pairs(corpus):
    return len(corpus.sources)


def _corpus_label(args):
    """How progress names the corpus ``evaluate`` reads."""
    return progress.file_label(args.data or args.data_src or "samples")


def translate_all(run, sentences, beam, batch_size=64, with_attention=False,
                  label="translating"):
    """Translate every sentence with ``run`` (``TranslatorServer.translator(beam, alpha)``),
    in order; blank lines give blank translations.

    Sentences are decoded in batches of similar length (shortest first), so little work
    goes to padding. Returns ``{"translations": [...]}`` and, with ``with_attention``,
    ``"attention"``: per sentence ``(source tokens, output tokens, weights)`` or Nones.
    Progress is shown as a stage named ``label``.
    """
    translations = [""] * len(sentences)
    attention = [(None, None, None)] * len(sentences)
    real = [i for i, s in enumerate(sentences) if s.strip()]
    real.sort(key=lambda i: len(sentences[i].split()))
    rows = max(1, batch_size // max(1, beam))  # a beam multiplies the rows decoded
    for start in progress.track(range(0, len(real), rows), label, total=len(real),
                                unit="sentences", size=lambda s: len(real[s:s + rows])):
        chunk = real[start:start + rows]
        result = run(tf.constant([sentences[i] for i in chunk]))
        for k, i in enumerate(chunk):
            translations[i] = result["translations"][k].numpy().decode("utf-8")
        if with_attention:
            sources = result["source_tokens"].to_list()
            outputs = result["output_tokens"].to_list()
            weights = result["weights"].numpy()
            for k, i in enumerate(chunk):
                attention[i] = ([t.decode("utf-8") for t in sources[k]],
                                [t.decode("utf-8") for t in outputs[k]], weights[k])
    return {"translations": translations, "attention": attention}


def translation_scores(hypotheses, references, lowercase, beam, alpha, seconds):
    """Corpus BLEU and chrF (sacrebleu, its default 13a tokenizer), exact match, speed."""
    import sacrebleu

    bleu = sacrebleu.corpus_bleu(hypotheses, [references], lowercase=lowercase)
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    same = (lambda a, b: a.lower() == b.lower()) if lowercase else (lambda a, b: a == b)
    exact = np.mean([same(h.strip(), r.strip()) for h, r in zip(hypotheses, references)])
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2),
            "exact_match": round(float(exact), 4), "sentences": len(references),
            "beam_size": beam, "length_penalty": alpha, "lowercased_bleu": bool(lowercase),
            "decode_seconds": round(seconds, 2),
            "sentences_per_second": round(len(references) / max(seconds, 1e-9), 1)}
