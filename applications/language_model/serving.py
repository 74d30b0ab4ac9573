"""In-graph text generation and scoring for the language model.

``generate`` (the CLI verb) and the exported SavedModel use the same priming and stepping
code here, so greedy generation gives the same text in both.
"""

import io
import sys

import numpy as np
import tensorflow as tf

from applications.core.api import ExportedModel, exported_kind, one_or_many
from applications.core.serving import ServingModule
from applications.language_model.pipeline import (NEWLINE, join_piece, metadata_vocabulary,
                                                  prompt_tokens, text_tokens)


class LanguageModelServer(ServingModule):
    """Wraps a trained :class:`LanguageModel` with its vocabulary as a lookup table.

    Endpoints:
        ``generate(prompt, length, temperature, seed)``: a scalar prompt string, an
        ``int32`` number of tokens, a ``float32`` temperature (0 = greedy) and an ``int64``
        seed (the same seed, the same sample) in; ``{"text": ...}``, the continuation only,
        out. The sampling loop runs inside the graph.
        ``serve(texts)``: a batch of texts in; ``nats_per_token`` and ``tokens`` (how many
        were scored) for each, every text read from a fresh state after a line break
        (by a Transformer, in windows of ``window`` tokens, see :meth:`logits`).

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

    def pick(self, logits, temperature, seed):
        """Greedy at temperature 0, else a draw from ``softmax(logits / temperature)`` by a
        stateless generator at ``seed`` (two int64), so a seed repeats a sample."""
        logits = logits + self.special_penalty
        # Shifted first: a tiny temperature then sends the others to -inf, not inf - inf.
        shifted = logits - tf.reduce_max(logits, axis=-1, keepdims=True)
        return tf.cond(
            temperature > 0,
            lambda: tf.cast(tf.random.stateless_categorical(shifted / temperature, 1,
                                                            seed)[:, 0], tf.int32),
            lambda: tf.argmax(logits, axis=-1, output_type=tf.int32))

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="prompt"),
                                  tf.TensorSpec([], tf.int32, name="length"),
                                  tf.TensorSpec([], tf.float32, name="temperature"),
                                  tf.TensorSpec([], tf.int64, name="seed")])
    def generate(self, prompt, length, temperature, seed):
        tokens, ids = self.encode(prompt[tf.newaxis])
        tokens, ids = tokens[0], ids[0]
        logits, states = self.prime(ids)
        length = tf.maximum(length, 0)
        generated = tf.TensorArray(tf.int32, size=length, element_shape=[])
        for i in tf.range(length):
            token = self.pick(logits, temperature, tf.stack([seed, tf.cast(i, tf.int64)]))
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

    def logits(self, inputs):
        """Next-token logits ``[B, T, V]`` of ids ``[B, T]``. A Transformer reads them in
        consecutive windows of ``window`` tokens, each from a fresh start, as in training
        (its positions go no further); a recurrent model reads each row whole."""
        if self.model.recurrent:
            return self.model(inputs, training=False)
        window = self.model.window
        length = tf.shape(inputs)[1]
        padded = (length + window - 1) // window * window
        chunks = tf.reshape(tf.pad(inputs, [[0, 0], [0, padded - length]]), [-1, window])
        logits = self.model(chunks, training=False)
        shape = tf.stack([tf.shape(inputs)[0], padded, tf.shape(logits)[-1]])
        return tf.reshape(logits, shape)[:, :length]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve(self, texts):
        _, ids = self.encode(texts)
        # Each text is read after a line break, as a prompt would be: the first token is
        # predicted too.
        starts = tf.RaggedTensor.from_tensor(tf.fill([tf.shape(texts)[0], 1], self.newline_id))
        inputs = tf.concat([starts, ids[:, :-1]], axis=1).to_tensor(0)
        targets = ids.to_tensor(0, shape=tf.shape(inputs))
        weights = tf.sequence_mask(ids.row_lengths(), tf.shape(inputs)[1], tf.float32)
        logits = self.logits(inputs)
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits) * weights
        counts = tf.reduce_sum(weights, axis=1)
        return {"nats_per_token": tf.math.divide_no_nan(tf.reduce_sum(nats, axis=1), counts),
                "tokens": tf.cast(counts, tf.int32)}


def stream_generation(server, prompt, length, temperature=1.0, top_k=0, seed=None,
                      out=sys.stdout):
    """Write ``prompt`` and then ``length`` generated tokens to ``out``, one at a time.

    The prompt is read once; after that each token costs one recurrent step, the state
    carried from the last. Returns the generated continuation.
    """
    level = server.level
    tokens = prompt_tokens(prompt, level)
    ids = tf.constant(server.vocabulary.encode(tokens), tf.int32)
    logits, states = traced(server, "prime")(ids)
    advance = traced(server, "advance")
    rng = np.random.default_rng(seed)
    previous = tokens[-1] if tokens else NEWLINE
    pieces = []
    out.write(prompt)
    out.flush()
    for position in range(length):
        token_id = pick_token(logits.numpy()[0], temperature, top_k, rng, server.specials)
        token = server.vocabulary.items[token_id]
        pieces.append(join_piece(token, previous, level))
        out.write(pieces[-1])
        out.flush()  # show each token as it comes, not when a buffer fills
        previous = token
        if position + 1 < length:
            logits, states = advance(tf.constant([token_id], tf.int32), states)
    out.write("\n")
    out.flush()
    return "".join(pieces)


def traced(server, name):
    """``tf.function`` of the server's method ``name``, traced once per server and prompt
    length, so generating from many prompts does not retrace each time."""
    functions = server.__dict__.setdefault("_traced_functions", {})
    if name not in functions:
        functions[name] = tf.function(getattr(server, name), reduce_retracing=True)
    return functions[name]


def pick_token(logits, temperature, top_k, rng, specials):
    """Greedy (temperature 0) or a draw from the top-k softmax at ``temperature``."""
    logits = np.array(logits, np.float64)
    logits[:specials] = -np.inf  # padding and <unk> are never generated
    if temperature <= 0:
        return int(np.argmax(logits))
    if top_k and top_k < len(logits):
        logits[logits < np.sort(logits)[-top_k]] = -np.inf
    # Shifted first: a tiny temperature then sends the others to -inf, not inf - inf.
    probabilities = np.exp((logits - logits.max()) / temperature)
    return int(rng.choice(len(probabilities), p=probabilities / probabilities.sum()))


def generate_texts(server, prompts, length=200, temperature=1.0, top_k=0, seed=None):
    """The continuation of each prompt, generated as the ``generate`` command does.

    Each prompt gets a generator seeded with ``seed``, so a list of prompts gives what one
    ``generate --seed`` run per prompt prints (after the prompt).
    """
    if length < 0 or not 0 <= temperature < np.inf or top_k < 0:
        raise ValueError("length, temperature and top_k must not be negative (temperature "
                         "finite)")
    return [stream_generation(server, prompt, length, temperature, top_k, seed, io.StringIO())
            for prompt in prompts]


def score_texts(serve, texts, batch_size=256):
    """``{"nats_per_token", "tokens"}`` for each text, as the ``predict`` command writes them."""
    results = []
    for start in range(0, len(texts), batch_size):
        served = serve(texts=tf.constant(texts[start:start + batch_size]))
        results += [{"nats_per_token": float(nats), "tokens": int(count)} for nats, count
                    in zip(served["nats_per_token"].numpy(), served["tokens"].numpy())]
    return results


@exported_kind
class ExportedLanguageModel(ExportedModel):
    """A language model's SavedModel, called like :class:`LanguageModel`.

    ``predict(prompts, length, temperature, seed)`` runs the export's ``generate``
    signature, which samples inside the graph: at temperature 0 (greedy) it gives the text
    the application gives; a sample is repeated by its ``seed`` (None: a fresh one each
    call), though it is not the application's sample for that seed (that one draws in
    NumPy). ``top_k`` needs the application directory.
    """

    serve_outputs = frozenset({"nats_per_token", "tokens"})

    def predict(self, prompts, length=200, temperature=1.0, top_k=0, seed=None):
        if length < 0 or not 0 <= temperature < np.inf:
            raise ValueError("length and temperature must not be negative (temperature "
                             "finite)")
        if top_k:
            raise ValueError("top_k: the exported generate signature draws from every token; "
                             "load the application directory for top-k sampling")
        seed = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0] >> np.uint64(1)
        generate = self.signatures["generate"]
        # Exports written before the signature took a seed draw unseeded.
        seeded = "seed" in generate.structured_input_signature[1]
        options = {"seed": tf.constant(int(seed), tf.int64)} if seeded else {}

        def run(batch):
            return [generate(prompt=tf.constant(prompt), length=tf.constant(length, tf.int32),
                             temperature=tf.constant(temperature, tf.float32), **options)["text"]
                    .numpy().decode("utf-8") for prompt in batch]

        return one_or_many(prompts, run)

    generate = predict

    def score(self, texts):
        serve = self.signatures["serve"]
        return one_or_many(texts, lambda batch: score_texts(serve, batch))
