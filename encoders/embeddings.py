"""Word embeddings that may start from pretrained vectors: fine-tuned, frozen or both.

Every application that embeds words builds its table with :func:`word_embedding` and, when
training starts from a vectors file, fills it with :func:`assign_word_vectors`. The filled
rows are ordinary weights, so the vectors travel inside the saved model and its export;
nothing reads the vectors file again once the model is trained.
"""

import keras
import numpy as np

from data.errors import InputError

MODES = ("fine_tune", "frozen", "multichannel")


def check_mode(mode, option="word_vectors_mode"):
    """Raise ValueError unless ``mode`` is one of :data:`MODES`."""
    if mode not in MODES:
        raise ValueError(f"{option} must be one of {', '.join(MODES)}, not {mode!r}")


def embedding_width(dim, mode, pretrained=True):
    """The size of the vectors :func:`word_embedding` returns: twice ``dim`` for two channels."""
    return 2 * dim if pretrained and mode == "multichannel" else dim


def word_embedding(vocab_size, dim, mode="fine_tune", pretrained=False, name=None):
    """The word embedding layer for ``mode`` (a plain trainable table without ``pretrained``).

    Args:
        vocab_size: rows (id 0 is padding).
        dim: the vectors' size.
        mode: ``fine_tune`` (one trainable table), ``frozen`` (one fixed table) or
            ``multichannel`` (a fixed and a trainable copy, concatenated: Kim 2014).
        pretrained: whether the table starts from pretrained vectors; without it ``mode``
            is ignored and the table is trainable, as every model's is by default.
        name: the layer's name.

    Example:
        >>> layer = word_embedding(100, 8, "multichannel", pretrained=True)
        >>> tuple(layer(np.ones((2, 5), "int32")).shape)
        (2, 5, 16)
    """
    check_mode(mode)
    if pretrained and mode == "multichannel":
        return MultichannelEmbedding(vocab_size, dim, name=name)
    trainable = not (pretrained and mode == "frozen")
    return keras.layers.Embedding(vocab_size, dim, trainable=trainable, name=name)


@keras.saving.register_keras_serializable(package="encore")
class MultichannelEmbedding(keras.layers.Layer):
    """Two tables over the same ids, a fixed one and a trainable one, concatenated.

    Kim (2014)'s multichannel input: both start from the pretrained vectors; training moves
    only the second, so a word keeps its pretrained meaning beside the tuned one.

    Args:
        input_dim: rows. output_dim: size of each channel (the output has twice as many).

    Example:
        >>> layer = MultichannelEmbedding(10, 4)
        >>> tuple(layer(np.zeros((1, 3), "int32")).shape)
        (1, 3, 8)
    """

    def __init__(self, input_dim, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.static = keras.layers.Embedding(self.input_dim, self.output_dim, trainable=False,
                                             name="static")
        self.tuned = keras.layers.Embedding(self.input_dim, self.output_dim, name="tuned")

    def build(self, input_shape=None):
        for table in (self.static, self.tuned):
            table.build(input_shape)
        self.built = True

    def call(self, inputs):
        return keras.ops.concatenate([self.static(inputs), self.tuned(inputs)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape, 2 * self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(input_dim=self.input_dim, output_dim=self.output_dim)
        return config


def tables(layer):
    """The ``keras.layers.Embedding`` tables of a :func:`word_embedding` layer."""
    if isinstance(layer, MultichannelEmbedding):
        return [layer.static, layer.tuned]
    return [layer]


def assign_word_vectors(layer, matrix, found):
    """Write the pretrained rows into every table of ``layer``; other rows keep their values.

    Args:
        layer: a layer from :func:`word_embedding`.
        matrix: ``[vocab_size, dim]`` vectors (row i for id i).
        found: ``[vocab_size]`` booleans: the rows that have a pretrained vector.

    Returns:
        The number of rows written.

    Raises:
        ValueError: the matrix does not fit the table (its size is in the message).
    """
    matrix, found = np.asarray(matrix, np.float32), np.asarray(found, bool)
    for table in tables(layer):
        if not table.built:
            table.build(None)
        weights = keras.ops.convert_to_numpy(table.embeddings)
        if weights.shape != matrix.shape:
            raise ValueError(f"the word vectors are {matrix.shape[1]}-dimensional for "
                             f"{matrix.shape[0]} words, the embedding is "
                             f"{weights.shape[1]}-dimensional for {weights.shape[0]}")
        weights[found] = matrix[found]
        table.embeddings.assign(weights)
    return int(found.sum())


def start_from_vectors(layer, vectors, items):
    """Fill ``layer`` (from :func:`word_embedding`) with the vectors of ``items`` (the words in
    id order, specials included) from a :class:`~data.word_vectors.WordVectors`.

    Returns:
        A one-line account: how many of the words got a pretrained vector, and from where.

    Raises:
        InputError: the vectors' size differs from the layer's (the file is named).
    """
    matrix, found = vectors.matrix_for(items)
    try:
        count = assign_word_vectors(layer, matrix, found)
    except ValueError as err:
        raise InputError(f"{err}; the embedding size must be {vectors.dim}",
                         vectors.path) from None
    return (f"{count} of {len(items)} words start from {vectors.dim}-dimensional vectors "
            f"in {vectors.path}")
