"""In-graph text generation and scoring for the language model.

``generate`` (the CLI verb) and the exported SavedModel use the same priming and stepping
code here, so greedy generation gives the same text in both.
"""

import tensorflow as tf

from applications.core.base import ServingModule
from applications.language_model.pipeline import NEWLINE, metadata_vocabulary, text_tokens


class LanguageModelServer(ServingModule):
    """Wraps a trained :class:`LanguageModel` with its vocabulary as a lookup table.

    Endpoints:
        ``generate(prompt, length, temperature)``: a scalar prompt string, an ``int32``
        number of tokens and a ``float32`` temperature (0 = greedy) in; ``{"text": ...}``,
        the continuation only, out. The sampling loop runs inside the graph.
        ``serve(texts)``: a batch of texts in; ``nats_per_token`` and ``tokens`` (how many
        were scored) for each, every text read from a fresh state after a line break.

    Args:
        model: a trained :class:`LanguageModel`.

    Example:
        >>> server = model.serving_module()  # doctest: +SKIP
        >>> server.generate(tf.constant("The "), tf.constant(40), tf.constant(0.0))["text"]
    """

    def __init__(self, model):
        super().__init__(model)
        vocab = metadata_vocabulary(model.metadata)
        self.level = model.metadata["level"]
        self.specials = vocab.specials
        self.vocabulary = vocab
        keys = tf.constant(vocab.items[vocab.specials:], tf.string)
        values = tf.range(vocab.specials, len(vocab), dtype=tf.int32)
        self.token_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, values), 1)
        self.names = tf.constant(vocab.items, tf.string)
        self.newline_id = vocab.index.get(NEWLINE, 1)
        # Padding and <unk> are never generated.
        self.special_penalty = tf.constant(
            [-1e9] * vocab.specials + [0.0] * (len(vocab) - vocab.specials), tf.float32)

    def endpoints(self):
        return {"serve": self.serve, "generate": self.generate}

    def encode(self, texts):
        """Token strings (ragged ``[N, (T)]``) and their ids."""
        tokens = text_tokens(texts, self.level)
        return tokens, tf.ragged.map_flat_values(self.token_table.lookup, tokens)

    def prime(self, ids):
        """Read prompt ids ``[T]`` (a line break when empty): last logits ``[1, V]``, states."""
        ids = tf.cond(tf.size(ids) > 0, lambda: ids, lambda: tf.constant([self.newline_id]))
        states = self.model.initial_state(1)
        logits = tf.zeros([1, len(self.vocabulary)])
        for i in tf.range(tf.size(ids)):
            logits, states = self.model.step(ids[i][tf.newaxis], states)
        return logits, states

    def advance(self, token_ids, states):
        return self.model.step(token_ids, states)

    def pick(self, logits, temperature):
        """Greedy at temperature 0, else a draw from ``softmax(logits / temperature)``."""
        logits = logits + self.special_penalty
        return tf.cond(
            temperature > 0,
            lambda: tf.cast(tf.random.categorical(logits / temperature, 1)[:, 0], tf.int32),
            lambda: tf.argmax(logits, axis=-1, output_type=tf.int32))

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="prompt"),
                                  tf.TensorSpec([], tf.int32, name="length"),
                                  tf.TensorSpec([], tf.float32, name="temperature")])
    def generate(self, prompt, length, temperature):
        tokens, ids = self.encode(prompt[tf.newaxis])
        tokens, ids = tokens[0], ids[0]
        logits, states = self.prime(ids)
        length = tf.maximum(length, 0)
        generated = tf.TensorArray(tf.int32, size=length, element_shape=[])
        for i in tf.range(length):
            token = self.pick(logits, temperature)
            generated = generated.write(i, token[0])
            logits, states = self.model.step(token, states)
        names = tf.gather(self.names, generated.stack())
        last = tf.cond(tf.size(tokens) > 0, lambda: tokens[-1:], lambda: tf.constant([NEWLINE]))
        if self.level == "char":
            pieces = names
        else:
            previous = tf.concat([last, names[:-1]], axis=0)
            plain = (names == NEWLINE) | (previous == NEWLINE)
            pieces = tf.where(plain, names, tf.strings.join([" ", names]))
        return {"text": tf.strings.reduce_join(pieces)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(self, texts):
        _, ids = self.encode(texts)
        # Each text is read after a line break, as a prompt would be: the first token is
        # predicted too.
        starts = tf.RaggedTensor.from_tensor(tf.fill([tf.shape(texts)[0], 1], self.newline_id))
        inputs = tf.concat([starts, ids[:, :-1]], axis=1).to_tensor(0)
        targets = ids.to_tensor(0, shape=tf.shape(inputs))
        weights = tf.sequence_mask(ids.row_lengths(), tf.shape(inputs)[1], tf.float32)
        logits = self.model(inputs, training=False)
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits) * weights
        counts = tf.reduce_sum(weights, axis=1)
        return {"nats_per_token": tf.math.divide_no_nan(tf.reduce_sum(nats, axis=1), counts),
                "tokens": tf.cast(counts, tf.int32)}
