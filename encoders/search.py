"""Greedy and beam-search decoding as TensorFlow loops, so they run inside a SavedModel.

They drive any model with ``encode(source)`` (the decoder's per-example memory, holding at
least ``state`` and ``mask [B, Ts]``) and a ``decoder`` with ``step(token, state, memory)``
(:class:`~encoders.seq_decoder.AttentionDecoder`,
:class:`~encoders.transformer_decoder.TransformerDecoder`), and optionally
``search_memory(memory)``, which adds to the memory what every step would otherwise
recompute. A state is a tensor or a nest of them, batch first; in a tensor of rank 3 or
more, axis 1 may grow from step to step (a key-value cache). The source may be ids ``[B, Ts]``
(the translator) or images (the captioner); ``Ts`` is the number of attended positions.

Both return ``(tokens [B, T], weights [B, T, Ts], scores [B])``: output ids (``</s>`` and
then padding after the end), the attention weights of every output step, and each
output's log-probability divided by the length penalty. A hypothesis' length counts its
words and its ``</s>``. Output vocabularies hold padding, ``<unk>``, ``<s>`` and ``</s>`` at
ids 0-3 (:func:`output_vocabulary`).
"""

import tensorflow as tf

from data.vocabulary import Vocabulary

BOS, EOS = "<s>", "</s>"
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
NEG_INF = -1e9


def length_penalty(lengths, alpha):
    """GNMT's ``((5 + length) / 6) ** alpha`` (Wu et al. 2016); 1 when ``alpha`` is 0."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def step_limits(memory, max_steps=None):
    """Each row's most output steps ``[B]``: ``max_steps`` for every row, or by default
    twice the row's own source length (its unmasked positions) plus ten, so what a
    sentence translates to does not depend on the lengths of the others in its batch."""
    mask = memory["mask"]
    if max_steps is None:
        return 2 * tf.reduce_sum(tf.cast(mask, tf.int32), axis=1) + 10
    return tf.fill([tf.shape(mask)[0]], tf.cast(max_steps, tf.int32))


def output_vocabulary(words):
    """A decoder's output :class:`~data.vocabulary.Vocabulary`: ``<s>`` and ``</s>`` at ids
    2 and 3 after padding and ``<unk>``, then the words of ``words`` (a vocabulary)."""
    return Vocabulary([BOS, EOS] + words.items[words.specials:],
                      counts=[0, 0] + (words.counts or [0] * len(words))[words.specials:])


def check_output_vocabulary(vocabulary):
    """ValueError unless ``<s>`` and ``</s>`` are at ids 2 and 3."""
    if vocabulary.items[BOS_ID] != BOS or vocabulary.items[EOS_ID] != EOS:
        raise ValueError("the target vocabulary must hold <s> and </s> at ids 2 and 3")


def _log_probs(logits):
    # Padding, <unk> and <s> are never produced.
    vocab = tf.shape(logits)[-1]
    banned = tf.reduce_any(tf.equal(tf.range(vocab)[:, None],
                                    tf.constant([[PAD_ID, UNK_ID, BOS_ID]])), axis=1)
    return tf.nn.log_softmax(tf.where(banned, NEG_INF, tf.cast(logits, tf.float32)), axis=-1)


def _search_memory(model, source):
    """The model's memory of ``source``, with the decoder's ``search_memory`` additions."""
    memory = model.encode(source)
    add = getattr(model.decoder, "search_memory", None)
    return add(memory) if add else memory


def _state_shapes(state, any_batch):
    """Loop shape invariants of a state: a growing axis 1 in tensors of rank 3 or more and,
    with ``any_batch``, any batch size."""
    def loose(tensor):
        dims = tensor.shape.as_list()
        return tf.TensorShape([None if (i == 0 and any_batch) or (i == 1 and len(dims) > 2)
                               else d for i, d in enumerate(dims)])
    return tf.nest.map_structure(loose, state)


def greedy_decode(model, source, alpha=0.0, max_steps=None):
    """Pick the most probable word at each step until every output has ended (at most
    ``max_steps``; by default each row's own limit, see :func:`step_limits`)."""
    memory = _search_memory(model, source)
    batch, source_length = tf.shape(memory["mask"])[0], tf.shape(memory["mask"])[1]
    limits = step_limits(memory, max_steps)
    alpha = tf.cast(alpha, tf.float32)

    def body(t, token, state, finished, total, lengths, tokens, weights):
        logits, state, attention = model.decoder.step(token, state, memory)
        log_probs = _log_probs(logits)
        best = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        gained = tf.gather(log_probs, best, batch_dims=1)
        finished |= t >= limits  # a row at its limit stops without </s>
        best = tf.where(finished, PAD_ID, best)
        total += tf.where(finished, 0.0, gained)
        lengths += tf.cast(~finished, tf.int32)
        finished |= best == EOS_ID
        return (t + 1, best, state, finished, total, lengths, tokens.write(t, best),
                weights.write(t, attention))

    def cond(t, token, state, finished, *_):
        return ~tf.reduce_all(finished | (t >= limits))

    start = (tf.constant(0), tf.fill([batch], BOS_ID), memory["state"],
             tf.zeros([batch], tf.bool), tf.zeros([batch]), tf.zeros([batch], tf.int32),
             tf.TensorArray(tf.int32, size=0, dynamic_size=True),
             tf.TensorArray(tf.float32, size=0, dynamic_size=True))
    # The batch size stays as the start gives it (relaxing it changed results in the last
    # digits, enough to flip near ties of an untrained model).
    shapes = (*(x.shape for x in start[:2]), _state_shapes(start[2], any_batch=False),
              *(x.shape for x in start[3:6]), tf.TensorShape(None), tf.TensorShape(None))
    *_, total, lengths, tokens, weights = tf.while_loop(cond, body, start,
                                                        shape_invariants=shapes)
    # A loop that never ran (no rows, or no steps allowed) leaves nothing to stack.
    ran = tokens.size() > 0
    tokens = tf.cond(ran, lambda: tf.transpose(tokens.stack(), [1, 0]),
                     lambda: tf.zeros([batch, 0], tf.int32))
    weights = tf.cond(ran, lambda: tf.transpose(weights.stack(), [1, 0, 2]),
                      lambda: tf.zeros([batch, 0, source_length]))
    return tokens, weights, total / length_penalty(lengths, alpha)


def beam_decode(model, source, beam_size, alpha=0.0, max_steps=None):
    """Keep the ``beam_size`` best hypotheses of every sentence at each step.

    Hypotheses are ranked by log-probability over the length penalty. One that has
    produced ``</s>`` stays in the beam unchanged (it extends only by padding, at no cost)
    and competes with the live ones; the search stops when every hypothesis has ended or
    reached its sentence's step limit (:func:`step_limits`). With ``beam_size`` 1 this is greedy decoding.
    """
    memory = _search_memory(model, source)
    beam = tf.cast(beam_size, tf.int32)
    batch = tf.shape(memory["mask"])[0]
    source_length = tf.shape(memory["mask"])[1]
    rows = batch * beam
    memory = tf.nest.map_structure(lambda value: tf.repeat(value, beam, axis=0), memory)
    limits = step_limits(memory, max_steps)
    alpha = tf.cast(alpha, tf.float32)
    # Only the first hypothesis of each sentence is live at the start; the others would
    # repeat it.
    first = tf.concat([[0.0], tf.fill([beam - 1], NEG_INF)], axis=0)
    scores = tf.tile(first, [batch])

    def body(t, token, state, finished, scores, lengths, history, attention_history):
        logits, state, attention = model.decoder.step(token, state, memory)
        log_probs = _log_probs(logits)
        finished |= t >= limits  # hypotheses at their sentence's limit stop without </s>
        vocab = tf.shape(log_probs)[1]
        only_padding = tf.where(tf.range(vocab) == PAD_ID, 0.0, NEG_INF)
        candidates = scores[:, None] + tf.where(finished[:, None], only_padding[None, :],
                                                log_probs)
        candidate_lengths = tf.where(finished, lengths, t + 1)
        ranked = candidates / length_penalty(candidate_lengths, alpha)[:, None]
        _, chosen = tf.math.top_k(tf.reshape(ranked, [batch, beam * vocab]), beam)
        parent = tf.reshape(chosen // vocab + tf.range(batch)[:, None] * beam, [rows])
        word = tf.reshape(chosen % vocab, [rows])
        scores = tf.gather(tf.reshape(candidates, [-1]), parent * vocab + word)
        parent_finished = tf.gather(finished, parent)
        lengths = tf.where(parent_finished, tf.gather(lengths, parent), t + 1)
        finished = parent_finished | (word == EOS_ID)
        history = tf.concat([tf.gather(history, parent), word[:, None]], axis=1)
        attention_history = tf.concat([tf.gather(attention_history, parent),
                                       tf.gather(attention, parent)[:, None]], axis=1)
        state = tf.nest.map_structure(lambda value: tf.gather(value, parent), state)
        return (t + 1, word, state, finished, scores, lengths, history, attention_history)

    def cond(t, token, state, finished, *_):
        return ~tf.reduce_all(finished | (t >= limits))

    start = (tf.constant(0), tf.fill([rows], BOS_ID), memory["state"],
             tf.zeros([rows], tf.bool), scores, tf.zeros([rows], tf.int32),
             tf.zeros([rows, 0], tf.int32), tf.zeros([rows, 0, source_length]))
    invariants = (tf.TensorShape([]), tf.TensorShape([None]),
                  _state_shapes(memory["state"], any_batch=True), tf.TensorShape([None]),
                  tf.TensorShape([None]), tf.TensorShape([None]),
                  tf.TensorShape([None, None]), tf.TensorShape([None, None, None]))
    *_, scores, lengths, history, attention_history = tf.while_loop(
        cond, body, start, shape_invariants=invariants)
    final = tf.reshape(scores / length_penalty(lengths, alpha), [batch, beam])
    best = tf.argmax(final, axis=1, output_type=tf.int32) + tf.range(batch) * beam
    return (tf.gather(history, best), tf.gather(attention_history, best),
            tf.reduce_max(final, axis=1))


def decode(model, source, beam_size, alpha, max_steps=None):
    """Greedy when ``beam_size`` is 1, else beam search; usable in a graph.

    Raises:
        tf.errors.InvalidArgumentError: a beam under 1, or a length penalty ``alpha`` that
            is negative, infinite or NaN (checked when the graph runs).
    """
    beam_size = tf.convert_to_tensor(beam_size, tf.int32)
    alpha = tf.convert_to_tensor(alpha, tf.float32)
    checks = [
        tf.debugging.Assert(beam_size >= 1, ["beam_size must be 1 or more, not", beam_size]),
        tf.debugging.Assert(tf.logical_and(alpha >= 0.0, alpha < float("inf")),
                            ["length_penalty must be finite and not negative, not", alpha])]
    with tf.control_dependencies(checks):
        beam_size = tf.identity(beam_size)
    return tf.cond(beam_size <= 1, lambda: greedy_decode(model, source, alpha, max_steps),
                   lambda: beam_decode(model, source, beam_size, alpha, max_steps))
