"""Attention layers: weights are a distribution over the real source positions only."""

import os
import tempfile

import keras
import numpy as np
import pytest

from encoders import BahdanauAttention, LuongAttention

B, TS, TQ, C = 3, 6, 4, 8
LENGTHS = [6, 4, 1]
LAYERS = {
    "bahdanau": lambda: BahdanauAttention(5),
    "luong_dot": lambda: LuongAttention("dot"),
    "luong_general": lambda: LuongAttention("general", units=C),
}


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(B, TS, C)).astype("float32")
    mask = np.arange(TS)[None, :] < np.array(LENGTHS)[:, None]
    return rng, values, mask


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("steps", [None, TQ])
def test_weights_sum_to_one_and_skip_padding(name, steps):
    rng, values, mask = _inputs()
    shape = (B, C) if steps is None else (B, steps, C)
    query = rng.normal(size=shape).astype("float32") * 3.0
    layer = LAYERS[name]()
    context, weights = layer(query, values, mask=mask)
    weights, context = np.asarray(weights), np.asarray(context)
    assert weights.shape == shape[:-1] + (TS,)
    assert context.shape == shape
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    padded = ~mask if steps is None else np.repeat(~mask[:, None, :], steps, axis=1)
    assert np.all(weights[padded] == 0.0), "a padded position got weight"
    assert np.all(weights[~padded] > 0.0)
    # The context is the weighted sum of the encoder states.
    expected = np.einsum("b...s,bsc->b...c", weights, values)
    np.testing.assert_allclose(context, expected, atol=1e-5)
    # The one-position sentence puts all its weight there.
    np.testing.assert_allclose(weights[2, ..., 0], 1.0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_padding_content_does_not_change_the_result(name):
    rng, values, mask = _inputs(1)
    query = rng.normal(size=(B, TQ, C)).astype("float32")
    layer = LAYERS[name]()
    context, weights = layer(query, values, mask=mask)
    noisy = values.copy()
    noisy[~mask] = 50.0
    context2, weights2 = layer(query, noisy, mask=mask)
    np.testing.assert_allclose(np.asarray(weights), np.asarray(weights2), atol=1e-6)
    np.testing.assert_allclose(np.asarray(context), np.asarray(context2), atol=1e-5)


def test_no_mask_means_every_position_counts():
    _, values, _ = _inputs()
    weights = np.asarray(LuongAttention("dot")(values[:, :2], values)[1])
    assert np.all(weights > 0) and np.allclose(weights.sum(-1), 1.0, atol=1e-5)


def test_one_step_equals_all_steps_at_once():
    rng, values, mask = _inputs(2)
    query = rng.normal(size=(B, TQ, C)).astype("float32")
    for name, make in LAYERS.items():
        layer = make()
        _, together = layer(query, values, mask=mask)
        keys = layer.prepare(values)
        for t in range(TQ):
            _, alone = layer.attend(query[:, t], keys, values, mask)
            np.testing.assert_allclose(np.asarray(alone), np.asarray(together)[:, t],
                                       atol=1e-6, err_msg=name)


def test_dot_score_sizes_must_match_and_bad_options_fail():
    _, values, _ = _inputs()
    with pytest.raises(ValueError, match="general"):
        LuongAttention("dot")(np.ones((B, 3), "float32"), values)
    with pytest.raises(ValueError, match="score must be"):
        LuongAttention("concat")
    with pytest.raises(ValueError, match="units"):
        LuongAttention("general")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_round_trip_and_saving(name):
    rng, values, mask = _inputs(3)
    query = rng.normal(size=(B, C)).astype("float32")
    layer = LAYERS[name]()
    context, _ = layer(query, values, mask=mask)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()

    q_in = keras.Input((C,))
    v_in = keras.Input((TS, C))
    m_in = keras.Input((TS,), dtype="bool")
    model = keras.Model([q_in, v_in, m_in], layer(q_in, v_in, mask=m_in)[0])
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "attention.keras")
        model.save(path)
        restored = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(restored([query, values, mask])), np.asarray(context),
                               atol=1e-6)
