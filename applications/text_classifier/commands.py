"""The text classifier's part of the shared command line."""


import numpy as np

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.config import UsageError, held_out_share
from applications.core.evaluation import warn_unseen
from applications.text_classifier.config import ClassifierConfig
from applications.text_classifier.model import TextClassifier
from applications.text_classifier.pipeline import TextMetadata, encode_corpus, text_dataset
from applications.text_classifier.sample_data import sample_paths
from applications.text_classifier.scoring import classification_scores
from data.files import batches_or_refuse, iter_lines
from data.splits import held_out_part, held_out_split
from data.text_table import read_text_table
from data.word_vectors import vectors_for_vocabulary
from encoders.embeddings import start_from_vectors

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".csv.gz", ".tsv.gz")
CHUNK = 256


class ClassifierCommands(AppCommands):
    name = "text_classifier"
    config_class = ClassifierConfig
    model_class = TextClassifier

    def add_arguments(self, verb, parser):
        if verb in ("train", "evaluate"):
            parser.add_argument("--text-column", help="header name of the text column "
                                "(default: text, sentence, comment_text, review, ...)")
            parser.add_argument("--label-columns", help="comma-separated label column names "
                                "(default: a 'label' column, else every non-id column)")
        if verb == "evaluate":
            parser.add_argument("--held-out", action="store_true",
                                help="score only the rows of --data that training held out "
                                     "as dev (dev_split, same seed)")
        if verb == "predict":
            parser.add_argument("--format", choices=["text", "table"],
                                help="raw text, one text a line, or a CSV/TSV file with a "
                                     "header (default: by file name)")
            parser.add_argument("--text-column", help="text column of a table input")
            parser.add_argument("--mc-samples", type=int, default=0, metavar="N",
                                help="Monte-Carlo dropout: average N passes with dropout on "
                                     "and report the standard deviation too")

    def extra_verbs(self):
        from applications.core.attention_maps import attention_verb
        from applications.text_classifier import ensemble

        return {"ensemble": (ensemble.add_arguments, ensemble.run_ensemble),
                "attention": attention_verb()}

    def read_training_data(self, args, config, metadata=None, order=None):
        if args.text_column:
            config.text_column = args.text_column
        if args.label_columns:
            config.label_columns = _names(args.label_columns)
        if not 0.0 <= config.word_dropout < float("inf"):
            raise UsageError(f"word_dropout must be 0 (off) or more, not {config.word_dropout}")
        if config.max_length < 1:
            raise UsageError(f"max_length must be 1 or more, not {config.max_length}")
        train_path = args.train or sample_paths()["train"]
        dev_path = args.dev or (None if args.train else sample_paths()["dev"])
        if metadata is not None:  # resuming: the columns and vocabulary of the first run
            meta = TextMetadata.from_config(metadata)
            train = progress.reading(train_path, "texts", read_text_table, meta.text_column,
                                     meta.label_columns, size=_size)
        else:
            train = progress.reading(train_path, "texts", read_text_table,
                                     config.text_column or None, config.label_columns or None,
                                     size=_size)
        held, whole = None, train
        if dev_path:
            config.dev_split = 0.0  # nothing of --train is held out (evaluate --held-out)
        elif config.dev_split > 0:
            kept, held = held_out_split(len(train.texts), config.dev_split, config.seed)
            progress.held_out(train_path, len(held), len(train.texts), "texts",
                              config.dev_split, config.seed)
            train, held = _rows(train, kept), _rows(train, held)
        if metadata is None:
            with progress.stage(f"indexing {progress.file_label(train_path)}",
                                unit="texts") as step:
                meta = TextMetadata.from_table(train, config.task, config.max_length,
                                               config.max_vocab, config.min_word_count,
                                               whole=whole)
                step.count = len(train.texts)
        if config.word_vectors:  # before encoding: the vectors may add words
            self.vectors, meta.words = vectors_for_vocabulary(
                config.word_vectors, meta.words,
                config.word_vectors_extend_vocab if metadata is None else 0,
                getattr(self, "vectors", None))
            config.embedding_dim = self.vectors.dim
        # Every file is read and checked before the caller writes anything.
        dev = progress.reading(dev_path, "texts", read_text_table, meta.text_column,
                               meta.label_columns, size=_size) if dev_path else held
        train_ds = text_dataset(encode_corpus(train.texts, meta), meta.encode_labels(train),
                                config.batch_size, shuffle=True, seed=config.seed, order=order)
        dev_ds = None
        if dev is not None and len(dev.texts):  # a tiny file's held-out part may be empty
            dev_ds = text_dataset(encode_corpus(dev.texts, meta), meta.encode_labels(dev),
                                  config.batch_size * 4, shuffle=False)
        return meta.get_config(), train_ds, dev_ds

    def prepare_model(self, model, args, config):
        """Start the word embeddings from ``word_vectors``, when given."""
        if config.word_vectors:
            words = TextMetadata.from_config(model.metadata).words.items
            for embedding in model.embeddings:
                account = start_from_vectors(embedding, self.vectors, words)
            progress.line(account)

    def evaluate(self, model, args):
        meta = TextMetadata.from_config(model.metadata)
        label_columns = _names(args.label_columns) or meta.label_columns
        if len(label_columns) != len(meta.label_columns):
            raise UsageError(f"the model reads {len(meta.label_columns)} label column(s), "
                             f"--label-columns names {len(label_columns)}")
        path = args.data or sample_paths()["dev"]
        table = progress.reading(path, "texts", read_text_table,
                                 args.text_column or meta.text_column, label_columns, size=_size)
        if args.held_out:
            table = _rows(table, held_out_part(len(table.texts), held_out_share(model.config),
                                               model.config["seed"], path))
        targets = meta.encode_labels(table, unseen_ok=True)
        probabilities = served_probabilities(model.serving_module(), table.texts,
                                             f"classifying {progress.file_label(path)}")
        scores = classification_scores(meta.task, probabilities, targets, meta.labels)
        scores["task"] = meta.task
        unseen = [] if meta.task == "multilabel" else [
            row[0] for row in table.labels if row[0] not in meta.labels]
        scores["unseen_labels"] = len(unseen)
        warn_unseen(path, len(unseen), "text", "label", sorted(set(unseen)))
        return scores

    def predict(self, model, args, out):
        meta = TextMetadata.from_config(model.metadata)
        name = str(args.input).lower()
        fmt = args.format or ("table" if name.endswith(TABLE_SUFFIXES) else "text")
        if args.mc_samples < 0:
            raise UsageError("--mc-samples must be 0 or more")
        if fmt == "table":
            texts = progress.reading(args.input, "texts", read_text_table,
                                     args.text_column or meta.text_column,
                                     require_labels=False, size=_size).texts
        else:
            # Raw text is read, classified and written a chunk at a time: memory does not
            # grow with the input. A blank line gets an empty row, so row N is line N.
            texts = (text for _, text in iter_lines(args.input))
        chunks = batches_or_refuse(texts, CHUNK, args.input, "no texts to classify")
        server = model.serving_module()
        header = ["predicted", *meta.labels]
        if args.mc_samples:
            header += [f"std({label})" for label in meta.labels]
        out.write("\t".join(header) + "\n")
        for chunk in progress.track(chunks,
                                    f"classifying {progress.file_label(args.input)}",
                                    total=len(texts) if isinstance(texts, list) else None,
                                    unit="texts", size=len):
            real = [text for text in chunk if text.strip()]
            rows = iter(_classified(server, meta, real, args.mc_samples) if real else ())
            for text in chunk:
                if not text.strip():
                    out.write("\t" * (len(header) - 1) + "\n")
                    continue
                label, row = next(rows)
                out.write("\t".join([label, *(f"{v:.6f}" for v in row)]) + "\n")


def _classified(server, meta, texts, mc_samples):
    """``(predicted label, output columns)`` per text: the probabilities, and with
    ``mc_samples`` their standard deviations over that many dropout draws."""
    if mc_samples:
        mean, std = mc_dropout(server, texts, mc_samples)
        return zip(predicted_labels(meta.task, mean, meta.labels),
                   np.concatenate([mean, std], axis=-1))
    import tensorflow as tf

    result = server.serve(tf.constant(texts))
    return zip([p.decode("utf-8") for p in result["predicted"].numpy()],
               result["probabilities"].numpy())


def served_probabilities(server, texts, label="classifying"):
    """``[N, K]`` probabilities from the serving function, in the order of ``texts``.

    Texts are run shortest first, so each chunk is padded to a similar length. Progress is
    shown as a stage named ``label``.
    """
    import tensorflow as tf

    order = np.argsort([len(t) for t in texts], kind="stable")
    chunks = [server.serve(tf.constant([texts[i] for i in part]))["probabilities"].numpy()
              for part in progress.track([order[s:s + CHUNK] for s in range(0, len(order), CHUNK)],
                                         label, total=len(texts), unit="texts", size=len)]
    probabilities = np.empty((len(texts), chunks[0].shape[1]), np.float32)
    probabilities[order] = np.concatenate(chunks)
    return probabilities


def mc_dropout(server, texts, samples):
    """Mean and standard deviation of ``samples`` probability draws with dropout on."""
    import tensorflow as tf

    batch = tf.constant(texts)
    draws = np.stack([server.sample(batch).numpy() for _ in range(samples)])
    return draws.mean(axis=0), draws.std(axis=0)


def predicted_labels(task, probabilities, names):
    """The served rule on given probabilities: arg-max, or multi-label names above 0.5."""
    if task == "multilabel":
        return [",".join(n for n, p in zip(names, row) if p > 0.5) for row in probabilities]
    return [names[i] for i in np.argmax(probabilities, axis=-1)]


def _size(table):
    return len(table.texts)


def _names(text):
    return [name.strip() for name in text.split(",") if name.strip()] if text else []


def _rows(table, indices):
    pick = lambda values: [values[i] for i in indices]
    return table._replace(texts=pick(table.texts), labels=pick(table.labels),
                          lines=pick(table.lines))
