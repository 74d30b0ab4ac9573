"""The shared train step under ``mixed_float16`` does what Keras' own train step does.

Under that policy ``compile`` wraps the optimizer in a ``LossScaleOptimizer``, whose
``apply_gradients`` divides the gradients by its loss scale (2**15 at first). A step that
took the gradient of the unscaled loss would therefore move the weights 32768 times too
little; these tests compare the weights after a few steps with Keras' default step.
"""

import keras
import numpy as np
import pytest

from applications.core.base import Application


class TinyApplication(Application):
    """One dense layer over 4 features, mean squared error; the package's train step."""

    def __init__(self, config, metadata, **kwargs):
        super().__init__(config, metadata, **kwargs)
        self.dense = keras.layers.Dense(1)

    def call(self, x, training=False):
        return self.dense(x)


class KerasStepModel(keras.Model):
    """The same layer with Keras' default ``train_step``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1)

    def call(self, x, training=False):
        return self.dense(x)


@pytest.fixture
def mixed_float16():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    # Small targets: the loss times 2**15 gives float16 gradients that do not overflow.
    y = (0.1 * x @ np.array([[0.5], [-1.0], [2.0], [0.25]], "float32") + 0.01).astype("float32")
    return x, y


def train_both(optimizer_factory, steps=4):
    """Train both models from the same weights; returns ``(ours, keras', initial weights)``."""
    x, y = data()
    keras.utils.set_random_seed(0)  # the same initial weights whatever ran before
    ours, reference = TinyApplication({}, None), KerasStepModel()
    for model in (ours, reference):
        model.compile(optimizer=optimizer_factory(), loss="mse", jit_compile=False)
        model(x[:1])
    reference.set_weights(ours.get_weights())
    initial = [np.array(w) for w in ours.get_weights()]
    for model in (ours, reference):
        model.fit(x, y, batch_size=len(x) // steps, epochs=1, shuffle=False, verbose=0)
    return ours, reference, initial


def test_mixed_float16_step_matches_keras_step(mixed_float16):
    ours, reference, initial = train_both(lambda: keras.optimizers.SGD(0.5))
    assert isinstance(ours.optimizer, keras.optimizers.LossScaleOptimizer)
    assert ours.dense.compute_dtype == "float16"
    # Every step was applied at the initial scale (an overflow would have halved it).
    assert float(ours.optimizer.dynamic_scale) == 2.0 ** 15
    assert int(ours.optimizer.iterations) == int(reference.optimizer.iterations) == 4
    kernel, initial_kernel = np.array(ours.dense.kernel), initial[0]
    # The weights moved as far as SGD moves them (not 1/32768 of it) ...
    assert np.abs(kernel - initial_kernel).max() > 0.05
    # ... and exactly as Keras' own step moved the same weights.
    for mine, theirs in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-4)


def test_loss_scale_factor_step_matches_keras_step():
    # Outside mixed precision an optimizer's loss_scale_factor multiplies the loss and
    # apply_gradients divides by it again: the same weights as Keras' step, not 1/1024.
    ours, reference, initial = train_both(
        lambda: keras.optimizers.SGD(0.5, loss_scale_factor=1024.0))
    assert np.abs(np.array(ours.dense.kernel) - initial[0]).max() > 0.05
    for mine, theirs in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tie", [True, False])
def test_attention_decoder_searches_under_mixed_float16(mixed_float16, tie):
    # Search calls the decoder's step outside a layer call, where Keras casts no variables.
    import tensorflow as tf

    from encoders import search
    from tests.test_translator import SOURCE, TARGET_IN, tiny_model

    keras.utils.set_random_seed(0)
    model = tiny_model("luong", tie=tie)
    forced = np.asarray(model({"source": SOURCE, "target_in": TARGET_IN}), "float32")
    assert model.decoder.compute_dtype == "float16" and np.isfinite(forced).all()
    for tokens, weights, scores in (search.greedy_decode(model, tf.constant(SOURCE)),
                                    search.beam_decode(model, tf.constant(SOURCE), 3)):
        assert tokens.shape[0] == 3 and weights.dtype == tf.float32
        assert np.isfinite(np.asarray(scores)).all()


def test_weight_averaging_is_seen_through_loss_scaling(mixed_float16):
    import types

    from applications.core.training_state import averages_weights

    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(use_ema=True))
    assert not scaled.use_ema  # the wrapper's own flag: Keras never sets it
    assert averages_weights(types.SimpleNamespace(optimizer=scaled))
    plain = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())
    assert not averages_weights(types.SimpleNamespace(optimizer=plain))


@pytest.mark.parametrize("encoder", [{"name": "rnn", "cell": "gru", "nodes": [8]},
                                     {"name": "transformer", "width": 8, "num_heads": 2,
                                      "num_layers": 1}])
def test_language_model_generates_and_scores_under_mixed_float16(mixed_float16, encoder):
    from applications.language_model.config import LanguageModelConfig
    from applications.language_model.model import LanguageModel
    from applications.language_model.pipeline import make_metadata
    from data import Vocabulary

    config = LanguageModelConfig(encoder=encoder, window=5)
    model = LanguageModel(config.to_dict(), make_metadata("char", Vocabulary(list("abc\n"))))
    model(np.ones((1, 5), "int32"))
    assert model.head.compute_dtype == "float32"  # the scores, whatever the policy
    assert len(model.predict("ab", length=7, temperature=0.0)) == 7
    assert np.isfinite(model.score("abcab")["nats_per_token"])
