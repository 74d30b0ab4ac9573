"""The periodic (PLR) embedding of numeric features."""

import keras
import numpy as np
import pytest

from encoders.numeric_embeddings import PeriodicEmbedding


def test_periodic_embedding_shape_values_and_round_trip(tmp_path):
    x = np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    layer = PeriodicEmbedding(frequencies=4, dim=5, sigma=0.5)
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (6, 15) and out.min() >= 0.0  # a ReLU output
    # Feature j's block depends on x[:, j] only: changing column 1 leaves block 0 alone.
    moved = x.copy()
    moved[:, 1] += 1.0
    again = keras.ops.convert_to_numpy(layer(moved))
    np.testing.assert_allclose(again[:, :5], out[:, :5], rtol=1e-6)
    assert not np.allclose(again[:, 5:10], out[:, 5:10])
    # By hand for one row and feature.
    c = keras.ops.convert_to_numpy(layer.coefficients)[0]
    angles = 2 * np.pi * x[0, 0] * c
    periodic = np.concatenate([np.cos(angles), np.sin(angles)])
    kernel = keras.ops.convert_to_numpy(layer.kernel)[0]
    bias = keras.ops.convert_to_numpy(layer.bias)[0]
    np.testing.assert_allclose(out[0, :5], np.maximum(periodic @ kernel + bias, 0), atol=1e-5)
    # Saved and loaded inside a model, the same outputs.
    model = keras.Sequential([keras.Input((3,)), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), out, rtol=1e-5)
    assert loaded.layers[0].get_config()["sigma"] == 0.5


def test_sigma_sets_the_initial_frequencies_and_bad_arguments_fail():
    keras.utils.set_random_seed(1)
    fine = PeriodicEmbedding(frequencies=64, dim=2, sigma=30.0)
    fine.build((None, 2))
    assert 20 < np.std(keras.ops.convert_to_numpy(fine.coefficients)) < 40
    for bad in (dict(frequencies=0), dict(dim=0), dict(sigma=0.0)):
        with pytest.raises(ValueError):
            PeriodicEmbedding(**bad)
