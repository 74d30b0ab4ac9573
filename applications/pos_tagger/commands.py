"""The tagger's part of the shared command line."""

import numpy as np

from applications.core import progress
from applications.core.cli import AppCommands
from applications.core.evaluation import warn_unseen
from applications.pos_tagger.config import TaggerConfig
from applications.pos_tagger.model import PosTagger
from applications.pos_tagger.pipeline import training_datasets
from applications.pos_tagger.sample_data import sample_paths
from data.files import batches_or_refuse, nonblank_lines
from data.sequence_batches import TaggingMetadata, bucketed_dataset, encode_sentences
from data.tagged_text import MAX_SENTENCE_TOKENS, iter_conllu, read_tagged
from data.word_vectors import vectors_for_vocabulary
from encoders.embeddings import start_from_vectors


class TaggerCommands(AppCommands):
    name = "pos_tagger"
    config_class = TaggerConfig
    model_class = PosTagger

    def add_arguments(self, verb, parser):
        if verb == "predict":
            parser.add_argument(
                "--format", choices=["text", "conllu"],
                help="input format: raw text, one sentence a line, or CoNLL-U "
                     "(default: by file name, .conllu is CoNLL-U)")

    def extra_verbs(self):
        from applications.core.attention_maps import attention_verb
        from applications.core.ensemble import build_ensemble, ensemble_verb

        # Options that shape a member's weights; the vocabularies are checked as metadata.
        shape = ("word_dim", "char_dim", "char_encoder", "encoder")
        return {"ensemble": ensemble_verb(
            lambda members, sources: build_ensemble(members, sources, PosTagger, shape)),
                "attention": attention_verb()}

    def read_training_data(self, args, config, metadata=None, order=None):
        train_path = args.train or sample_paths()["train"]
        dev_path = args.dev or (None if args.train else sample_paths()["dev"])
        words_hook = None
        if config.word_vectors:
            def words_hook(words):  # the vectors may add words
                self.vectors, words = vectors_for_vocabulary(
                    config.word_vectors, words,
                    config.word_vectors_extend_vocab if metadata is None else 0,
                    getattr(self, "vectors", None))
                config.word_dim = self.vectors.dim
                return words
        return training_datasets(config, train_path, dev_path, metadata, order, words_hook)

    def prepare_model(self, model, args, config):
        """Start the word embedding from ``word_vectors``, when given."""
        if config.word_vectors:
            words = TaggingMetadata.from_config(model.metadata).words.items
            progress.line(start_from_vectors(model.word_embedding, self.vectors, words))

    def evaluate(self, model, args):
        path = args.data or sample_paths()["dev"]
        meta = TaggingMetadata.from_config(model.metadata)
        sentences = progress.reading(path, "sentences", read_tagged, model.config["tag_column"],
                                     model.config.get("max_sentence_tokens",
                                                      MAX_SENTENCE_TOKENS))
        examples = encode_sentences(sentences, meta, path, unseen_ok=True)
        scores = tagging_scores(model, examples, label=f"tagging {progress.file_label(path)}",
                                unseen_id=meta.unseen_tag_id)
        unseen = sorted({tag for s in sentences for tag in s.tags if tag not in meta.tags})
        warn_unseen(path, scores["unseen_labels"], "token", "tag", unseen)
        return scores

    def predict(self, model, args, out):
        import tensorflow as tf

        server = model.serving_module()
        fmt = args.format or ("conllu" if args.input.endswith(".conllu") else "text")
        # Read, tag and write batch by batch: memory does not grow with the input.
        if fmt == "conllu":
            sentences = iter_conllu(args.input, model.config["tag_column"],
                                    model.config.get("max_sentence_tokens", MAX_SENTENCE_TOKENS))
            tokens = (s.tokens for s in sentences)
            tag = lambda batch: server.tag_tokens(tf.ragged.constant(batch, dtype=tf.string))
        else:
            tokens = nonblank_lines(args.input)
            tag = lambda batch: server.serve(tf.constant(batch))
        batches = batches_or_refuse(tokens, 64, args.input, "no sentences to tag")
        for batch in progress.track(batches, f"tagging {progress.file_label(args.input)}",
                                    unit="sentences", size=len):
            result = tag(batch)
            if isinstance(result, dict):
                tokens_b = [row[:n] for row, n in zip(result["tokens"].numpy(),
                                                       result["lengths"].numpy())]
                tags_b = [row[:n] for row, n in zip(result["tags"].numpy(),
                                                     result["lengths"].numpy())]
            else:
                tokens_b = [[t.encode() for t in sent] for sent in batch]
                tags_b = result.to_list()
            for toks, tags in zip(tokens_b, tags_b):
                for token, tag_name in zip(toks, tags):
                    out.write(f"{token.decode()}\t{tag_name.decode()}\n")
                out.write("\n")


def tagging_scores(model, examples, batch_size=128, label="tagging", unseen_id=None):
    """Token accuracy, accuracy on words unseen in training (id ``<unk>``), and token count.

    Tokens whose tag id is ``unseen_id`` (a tag never seen in training) count as errors
    and are counted in ``unseen_labels``. Progress is shown as a stage named ``label``.
    """
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    correct = total = oov_correct = oov_total = unseen = 0
    batches = bucketed_dataset(examples, batch_size, shuffle=False)
    for features, tags, weights in progress.track(batches, label, total=len(examples),
                                                  unit="sentences",
                                                  size=lambda batch: int(batch[1].shape[0])):
        predicted = np.argmax(forward(features).numpy()[..., 1:], axis=-1) + 1
        real = weights.numpy() > 0
        hit = (predicted == tags.numpy()) & real
        oov = (features["words"].numpy() == 1) & real
        correct += int(hit.sum())
        total += int(real.sum())
        oov_correct += int((hit & oov).sum())
        oov_total += int(oov.sum())
        if unseen_id is not None:
            unseen += int(((tags.numpy() == unseen_id) & real).sum())
    return {
        "accuracy": correct / total,
        "oov_accuracy": oov_correct / oov_total if oov_total else None,
        "oov_tokens": oov_total,
        "tokens": total,
        "unseen_labels": unseen,
    }
