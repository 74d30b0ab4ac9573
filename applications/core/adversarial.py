"""Adversarial training on input vectors (Miyato et al. 2017), shared by the text applications.

Each example's vectors (word embeddings, or word and character vectors) are moved a fixed L2
distance ``epsilon`` -- measured over the whole example, padding excluded -- in the direction
that raises the loss most to first order, and the loss at the moved vectors is added to the
clean loss. Only the direction is taken from the gradient, so no gradient flows through the
move itself; the step costs about two plain ones.
"""

import tensorflow as tf


def adversarial_loss(loss_at, vectors, mask, epsilon):
    """``(y_pred, clean loss + adversarial loss)`` for vectors that ``loss_at`` scores.

    Args:
        loss_at: ``points -> (y_pred, loss)``, the forward pass and loss from a list of
            ``[B, T, D]`` tensors shaped like ``vectors``.
        vectors: list of ``[B, T, D]`` input vectors (several when members each embed).
        mask: ``[B, T]`` booleans, True at real tokens.
        epsilon: L2 length of each example's move.
    """
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        y_pred, loss = loss_at(vectors)
    keep = tf.cast(mask, vectors[0].dtype)[..., None]
    moved = []
    for v, g in zip(vectors, tape.gradient(loss, vectors)):
        g = tf.stop_gradient(g) * keep
        norm = tf.sqrt(tf.reduce_sum(tf.square(g), axis=[1, 2], keepdims=True))
        moved.append(v + epsilon * g / (norm + 1e-12))
    return y_pred, loss + loss_at(moved)[1]
