"""From tagged files to the tagger's batches.

Two paths give the same examples: the notes' "load all data" / "load all batches"
(:func:`load_all_data`, :func:`load_all_batches`: NumPy arrays, padded X, one-hot Y) and
the faster ``tf.data`` path training uses by default (:func:`training_datasets`: sparse
tag ids, sentences of similar length batched together). ``PosTagger.train`` takes either.

Example::

    meta, X, Y = load_all_data("train.conllu")
    tagger = PosTagger(TaggerConfig().to_dict(), meta.get_config())
    tagger.train(lambda: load_all_batches("train.conllu", meta), None, "runs/t", epochs=5)
"""

from applications.core import progress
from applications.pos_tagger.config import TaggerConfig
from data import sequence_batches
from data.padded_batches import padded_batches
from data.sequence_batches import TaggingMetadata, bucketed_dataset, encode_sentences
from data.splits import held_out_split
from data.tagged_text import read_tagged


def load_all_data(path, metadata=None, config=None):
    """The notes' "load all data": read a tagged file, collect metadata, build X and Y.

    Args:
        path: a CoNLL-U or two-column file.
        metadata: a :class:`~data.sequence_batches.TaggingMetadata` (or its config, e.g. a
            trained model's ``metadata``); built from this file when None.
        config: a :class:`TaggerConfig` (``tag_column``, ``min_word_count``); the defaults
            when None.

    Returns:
        ``(metadata, X, Y)``: X ``{"words": [N, T], "chars": [N, T, C]}`` zero-padded to the
        longest sentence, Y one-hot ``[N, T, tags]`` (all zero at padding).
    """
    config = config or TaggerConfig()
    return sequence_batches.load_all_data(path, _metadata(metadata), config.tag_column,
                                          min_word_count=config.min_word_count)


def load_all_batches(path, metadata, config=None, shuffle=False):
    """The notes' "load all batches": a generator of ``(X, Y)`` batches of a tagged file.

    Each batch is X ``{"words": [B, T], "chars": [B, T, C]}`` padded to its longest
    sentence and Y one-hot ``[B, T, tags]``: the tagger's input and its targets.

    Args:
        path: a CoNLL-U or two-column file (read now, so errors show at once).
        metadata: the training :class:`~data.sequence_batches.TaggingMetadata` or its config.
        config: a :class:`TaggerConfig` (``tag_column``, ``batch_size``, ``seed``).
        shuffle: visit the sentences in an order drawn from ``config.seed``; otherwise in
            file order.
    """
    config = config or TaggerConfig()
    metadata = _metadata(metadata)
    examples = encode_sentences(read_tagged(path, config.tag_column), metadata, path)
    return padded_batches(examples, config.batch_size, len(metadata.tags), shuffle, config.seed)


def training_datasets(config, train_path, dev_path=None, metadata=None, order=None,
                      words_hook=None):
    """``(metadata config, train dataset, dev dataset or None)`` for ``train``.

    The training sentences are batched by length (``config.batch_tokens`` caps a batch's
    padded tokens) and shuffled each epoch by ``order``; dev batches hold four times the
    sentences. Without ``dev_path``, ``config.dev_split`` of the training sentences (seeded
    by ``config.seed``) are dev and the word and character vocabularies come from the rest
    (the tags from every sentence, so a tag only held-out sentences have is still a tag).
    ``metadata`` (a resumed run's) is used instead of building new vocabularies.
    ``words_hook(vocabulary)``, if given, returns the word vocabulary to encode with (e.g.
    one that pretrained word vectors extend).
    """
    train = progress.reading(train_path, "sentences", read_tagged, config.tag_column,
                             config.max_sentence_tokens)
    held, whole = [], train
    if not dev_path and config.dev_split > 0:
        kept, held = held_out_split(len(train), config.dev_split, config.seed)
        progress.held_out(train_path, len(held), len(train), "sentences", config.dev_split,
                          config.seed)
        train, held = [train[i] for i in kept], [train[i] for i in held]
    with progress.stage(f"indexing {progress.file_label(train_path)}",
                        unit="sentences") as step:
        meta = (TaggingMetadata.from_config(metadata) if metadata is not None
                else TaggingMetadata.from_sentences(train, config.min_word_count,
                                                    tag_sentences=whole))
        if words_hook is not None:
            meta.words = words_hook(meta.words)
        encoded = encode_sentences(train, meta, train_path)
        step.count = len(encoded)
    train_ds = bucketed_dataset(encoded, config.batch_size,
                                shuffle=True, seed=config.seed, max_tokens=config.batch_tokens,
                                order=order)
    dev_ds = None
    if dev_path:
        held = progress.reading(dev_path, "sentences", read_tagged, config.tag_column,
                                config.max_sentence_tokens)
    if held:
        dev_ds = bucketed_dataset(encode_sentences(held, meta, dev_path or train_path),
                                  config.batch_size * 4, shuffle=False,
                                  max_tokens=config.batch_tokens * 2)
    return meta.get_config(), train_ds, dev_ds


def _metadata(metadata):
    if metadata is None or isinstance(metadata, TaggingMetadata):
        return metadata
    return TaggingMetadata.from_config(metadata)
