"""The language model's part of the shared command line, plus the ``generate`` verb."""

import math
import sys

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError, held_out_share
from applications.core.outputs import make_folder
from applications.language_model.config import LanguageModelConfig
from applications.language_model.model import LanguageModel
from applications.language_model.pipeline import (LEVELS, build_vocabulary, check_length,
                                                  make_metadata, metadata_vocabulary,
                                                  read_tokens, split_for_validation,
                                                  window_dataset)
from applications.language_model.inspection import add_inspect_arguments, run_inspect
from applications.language_model.pipeline import NEWLINE
from applications.language_model.serving import stream_generation
from applications.language_model.tunes import (FORMATS, describe_check, generate_tunes,
                                               midi_targets, render_midi, resolve_format,
                                               split_tunes_for_validation, tune_texts,
                                               tune_tokens, tune_training_data, tunes_dataset,
                                               write_tunes)
from data.abc_check import check_tunes
from applications.language_model.sample_data import sample_path
from data.errors import InputError
from data.files import batches_or_refuse, nonblank_lines
from data.word_vectors import vectors_for_vocabulary
from encoders.embeddings import start_from_vectors

CHUNK = 256


class LanguageModelCommands(AppCommands):
    name = "language_model"
    config_class = LanguageModelConfig
    model_class = LanguageModel

    def add_arguments(self, verb, parser):
        if verb == "train":
            parser.add_argument("--format", choices=FORMATS,
                                help="read files as plain text or as ABC tunes (default: "
                                     "ABC for .abc files and folders, text otherwise)")
        if verb == "evaluate":
            parser.add_argument("--held-out", action="store_true",
                                help="score only the last dev_fraction of --data, the part "
                                     "training held out")
            parser.add_argument("--stride", type=int, metavar="N",
                                help="score text in windows N tokens apart, each "
                                     "token after at least window - N tokens of context "
                                     "(default: half the window; the window itself scores "
                                     "windows side by side, as training's dev loss does)")

    def extra_verbs(self):
        from applications.core.attention_maps import attention_verb

        return {"generate": (add_generate_arguments, self.generate),
                "inspect": (add_inspect_arguments, run_inspect),
                "attention": attention_verb()}

    def read_training_data(self, args, config, metadata=None, order=None):
        if config.level not in LEVELS:
            raise UsageError(f"level must be one of {', '.join(LEVELS)}, not {config.level!r}")
        if config.window < 1:
            raise UsageError(f"window must be 1 or more, not {config.window}")
        if config.steps_per_epoch < 0:
            raise UsageError(f"steps_per_epoch must be 0 or more, not {config.steps_per_epoch}")
        if not 0.0 <= config.dev_fraction < 1.0:
            raise UsageError(f"dev_fraction must be in [0, 1), not {config.dev_fraction}")
        level, window = config.level, config.window
        if args.dev:
            config.dev_fraction = 0.0  # nothing of --train held out (evaluate --held-out)
        train_path = args.train or sample_path()
        if metadata is None:
            config.format = resolve_format(getattr(args, "format", None) or config.format,
                                           train_path)
        if config.format == "abc" or (metadata or {}).get("format") == "abc":
            given = [item.split("=", 1)[0].strip() for item in getattr(args, "set", [])]
            if config.steps_per_epoch and "steps_per_epoch" in given:
                raise UsageError("steps_per_epoch needs plain text, not ABC tunes")
            config.steps_per_epoch = 0  # the Transformer recipe's, for plain text
            return tune_training_data(train_path, args.dev, config, metadata, order)
        tokens = progress.reading(train_path, "tokens", read_tokens, level)
        check_length(tokens, window, train_path, level)
        if args.dev:
            train, dev = tokens, progress.reading(args.dev, "tokens", read_tokens, level)
            check_length(dev, window, args.dev, level)
        else:
            train, dev = split_for_validation(tokens, config.dev_fraction)
            share = f"{config.dev_fraction:.0%}"
            check_length(train, window, train_path, level, f"the first part (all but {share})")
            if dev is not None:
                check_length(dev, window, train_path, level,
                             f"the last {share} (held out for validation)")
                progress.line(f"no --dev: the last {share} of {progress.file_label(train_path)} "
                              f"({len(dev):,} tokens) held out as dev to choose the best "
                              "epoch and stop early")
        with progress.stage(f"indexing {progress.file_label(train_path)}",
                            unit="tokens") as step:
            vocab = (metadata_vocabulary(metadata) if metadata is not None
                     else build_vocabulary(train, level, config.max_vocab, config.min_count))
            vocab = self.pretrained_vocabulary(config, vocab, metadata is None)
            train_ids = vocab.encode(train)
            step.count = len(train_ids)
        train_ds = window_dataset(train_ids, window, config.batch_size, shuffle=True,
                                  seed=config.seed, order=order, steps=config.steps_per_epoch)
        dev_ds = (None if dev is None
                  else window_dataset(vocab.encode(dev), window, config.batch_size))
        return make_metadata(level, vocab), train_ds, dev_ds

    def pretrained_vocabulary(self, config, vocab, new_run):
        """Read ``word_vectors`` for ``vocab`` (word level); returns the vocabulary they
        extend."""
        if not config.word_vectors:
            return vocab
        if config.level != "word":
            raise UsageError("word_vectors needs level=word")
        self.vectors, vocab = vectors_for_vocabulary(
            config.word_vectors, vocab, config.word_vectors_extend_vocab if new_run else 0,
            getattr(self, "vectors", None))
        config.embedding_dim = self.vectors.dim
        return vocab

    def prepare_model(self, model, args, config):
        """Start the token embedding from ``word_vectors``, when given."""
        if config.word_vectors:
            words = metadata_vocabulary(model.metadata).items
            progress.line(start_from_vectors(model.embedding, self.vectors, words))

    def evaluate(self, model, args):
        config, level = model.config, model.metadata["level"]
        path = args.data or sample_path()
        if model.metadata.get("format") == "abc":
            return self.evaluate_tunes(model, args, path)
        tokens = progress.reading(path, "tokens", read_tokens, level)
        fraction = (held_out_share(config, "dev_fraction") if args.held_out
                    else config["dev_fraction"])
        part = "file"
        if args.held_out or (not args.data and fraction):
            tokens = split_for_validation(tokens, fraction)[1]
            part = f"the last {fraction:.0%} (held out)"
        window = config["window"]
        stride = scoring_stride(args, window)
        check_length(tokens, window, path, level, part)
        ids = metadata_vocabulary(model.metadata).encode(tokens)
        dataset = window_dataset(ids, window, config["batch_size"], stride=stride)
        return {**language_model_scores(model, dataset, f"scoring {progress.file_label(path)}"),
                "stride": stride}

    def evaluate_tunes(self, model, args, path):
        config = LanguageModelConfig.from_dict(model.config)
        if getattr(args, "stride", None) is not None:
            raise UsageError("--stride applies to text; tunes are scored window by window")
        tunes = [tune_tokens(text) for text in tune_texts(path)]
        if args.held_out:
            fraction = held_out_share(model.config, "dev_fraction")
            tunes = split_tunes_for_validation(tunes, fraction, config.seed)[1]
            if not tunes:
                raise InputError(f"--held-out: dev_fraction={fraction} holds out none of its "
                                 "tunes", path)
        if config.cross_tunes:
            check_length([t for tune in tunes for t in tune], config.window, path, "char",
                         "the tunes scored")
        dataset = tunes_dataset(metadata_vocabulary(model.metadata), tunes, config)
        return {**language_model_scores(model, dataset, f"scoring {progress.file_label(path)}"),
                **check_tunes(["".join(tune).strip(NEWLINE) + NEWLINE for tune in tunes])}

    def predict(self, model, args, out):
        import tensorflow as tf

        # Read, scored and written a chunk at a time: memory does not grow with the input.
        chunks = batches_or_refuse(nonblank_lines(args.input), CHUNK, args.input,
                                   "no texts to score")
        server = model.serving_module()
        out.write("nats_per_token\ttokens\ttext\n")
        for chunk in progress.track(chunks,
                                    f"scoring {progress.file_label(args.input)}",
                                    unit="texts", size=len):
            result = server.serve(tf.constant(chunk))
            for text, nats, count in zip(chunk, result["nats_per_token"].numpy(),
                                         result["tokens"].numpy()):
                out.write(f"{nats:.4f}\t{count}\t{text}\n")

    def generate(self, args):
        """Sample text from a trained model, optionally continuing a prompt."""
        from applications.core.base import load_model

        if args.length < 0 or not 0 <= args.temperature < math.inf or args.top_k < 0:
            raise UsageError("--length, --temperature and --top-k must not be negative (and "
                             "--temperature must be a finite number)")
        model = load_model(args.model)
        if model.metadata.get("format") == "abc":
            return generate_abc(model, args)
        stream_generation(model.serving_module(), args.prompt, args.length, args.temperature,
                          args.top_k, args.seed, sys.stdout)
        return 0


def add_generate_arguments(parser):
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompt", default="", help="text to continue (default: none)")
    parser.add_argument("--length", type=int, default=200, help="tokens to generate")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="softmax temperature; 0 picks the most likely token (greedy)")
    parser.add_argument("--top-k", type=int, default=0,
                        help="draw only from the K most likely tokens (0 = all)")
    parser.add_argument("--seed", type=int, help="random seed, for reproducible samples")
    parser.add_argument("--count", type=int, default=1,
                        help="tunes to write (ABC models; drawn side by side)")
    parser.add_argument("--max-length", type=int, default=2000,
                        help="most characters of one tune (ABC models)")
    parser.add_argument("--midi", metavar="DIR",
                        help="also render each tune as DIR/tune_NNN.mid (ABC models; music21)")


def generate_abc(model, args):
    """Write ``--count`` whole tunes to stdout, a check line to stderr, MIDI if asked."""
    if args.count < 1 or args.max_length < 1:
        raise UsageError("--count and --max-length must be positive")
    if args.midi:
        midi_targets(args.midi, args.count)  # refuse before any work
        make_folder(args.midi, "--midi")
    tunes, truncated = generate_tunes(model.serving_module(), args.count, args.prompt,
                                      args.temperature, args.top_k, args.seed,
                                      args.max_length)
    write_tunes(tunes)
    line, _ = describe_check(tunes)
    print(line + (f"; {truncated} cut at --max-length" if truncated else ""), file=sys.stderr)
    if args.midi:
        rendered = render_midi(tunes, args.midi)
        for number, (path, error) in enumerate(rendered, start=1):
            if error:
                progress.line(f"tune {number}: no MIDI ({error})")
        progress.line(f"wrote {sum(p is not None for p, _ in rendered)} MIDI files to "
                      f"{args.midi}")
    return 0


def scoring_stride(args, window):
    """``evaluate --stride``: tokens between scoring windows, half the window by default."""
    stride = getattr(args, "stride", None)
    if stride is None:
        return max(1, window // 2)
    if not 1 <= stride <= window:
        raise UsageError(f"--stride must be between 1 and the model's window ({window}), "
                         f"not {stride}")
    return stride


def language_model_scores(model, dataset, label="scoring"):
    """Nats per token, bits per character (or token), perplexity and the token count.

    Progress is shown as a stage named ``label``, counting windows.
    """
    import tensorflow as tf

    @tf.function
    def summed(x, y, w):
        logits = model(x, training=False)
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        return tf.reduce_sum(nats * w), tf.reduce_sum(w)

    total = count = 0.0
    for x, y, w in progress.track(dataset, label, unit="windows",
                                  size=lambda batch: int(batch[0].shape[0])):
        nats, weight = summed(x, y, w)
        total += float(nats)
        count += float(weight)
    loss = total / count
    bits = "bits_per_char" if model.metadata["level"] == "char" else "bits_per_token"
    return {"loss": loss, bits: loss / math.log(2.0), "perplexity": math.exp(loss),
            "tokens": int(count)}
