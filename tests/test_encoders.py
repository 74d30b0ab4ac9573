import keras
import numpy as np
import pytest

from encoders import CNN_Encoder, RNN_Encoder, build_encoder, encoder_names
from tests.helpers import run_encoder_test

rng = np.random.default_rng(0)
SEQ = rng.normal(size=(3, 6, 4)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]], bool)


@pytest.mark.parametrize("cell", ["simple", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_encoder(cell, bidirectional):
    width = 5 * (2 if bidirectional else 1)
    run_encoder_test(RNN_Encoder, dict(cell=cell, nodes=[7, 5], bidirectional=bidirectional),
                     SEQ, {"sequence": (3, 6, width), "pooled": (3, width)}, mask=MASK)


def test_rnn_pooled_is_final_state_at_last_real_position():
    encoder = RNN_Encoder(cell="gru", nodes=[4], bidirectional=False)
    full = encoder(SEQ, mask=MASK)
    # Row 1 has three real steps: its final state equals the output at step 3.
    np.testing.assert_allclose(np.asarray(full["pooled"])[1], np.asarray(full["sequence"])[1, 2],
                               atol=1e-6)
    # And running only the real prefix gives the same summary.
    alone = encoder(SEQ[1:2, :3])
    np.testing.assert_allclose(np.asarray(alone["pooled"])[0], np.asarray(full["pooled"])[1],
                               atol=1e-5)


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_rnn_max_and_mean_pooling_use_only_real_positions(pooling):
    encoder = RNN_Encoder(cell="lstm", nodes=[4], bidirectional=True, pooling=pooling)
    out = encoder(SEQ, mask=MASK)
    sequence, pooled = np.asarray(out["sequence"]), np.asarray(out["pooled"])
    reduce = np.max if pooling == "max" else np.mean
    for row, length in enumerate(MASK.sum(axis=1)):
        np.testing.assert_allclose(pooled[row], reduce(sequence[row, :length], axis=0), atol=1e-6)
    rebuilt = RNN_Encoder.from_config(encoder.get_config())
    assert rebuilt.pooling == pooling


def test_rnn_encoder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="cell"):
        RNN_Encoder(cell="transformer")
    with pytest.raises(ValueError, match="nodes"):
        RNN_Encoder(nodes=[])
    with pytest.raises(ValueError, match="pooling"):
        RNN_Encoder(pooling="attention")


def test_cnn_encoder_1d_is_mask_aware():
    run_encoder_test(CNN_Encoder, dict(mode="1d", filters=[6, 4], kernel_sizes=[2, 3]),
                     SEQ, {"sequence": (3, 6, 8), "pooled": (3, 8)}, mask=MASK)


def test_cnn_encoder_1d_residual_layer_norm_is_mask_aware():
    run_encoder_test(CNN_Encoder, dict(mode="1d", filters=[4, 4], kernel_sizes=[3],
                                       residual=True, layer_norm=True),
                     SEQ, {"sequence": (3, 6, 4), "pooled": (3, 4)}, mask=MASK)


def test_cnn_encoder_1d_residual_adds_the_layer_input():
    encoder = CNN_Encoder(mode="1d", filters=[4], kernel_sizes=[3], residual=True,
                          activation="linear")
    encoder(SEQ)
    for weight in encoder.weights:
        weight.assign(np.zeros(weight.shape, "float32"))
    # With the convolution zeroed, a residual layer passes its input through unchanged.
    np.testing.assert_allclose(np.asarray(encoder(SEQ, mask=MASK)["sequence"]),
                               SEQ * MASK[..., None], atol=1e-6)
    assert CNN_Encoder.from_config(encoder.get_config()).residual


@pytest.mark.parametrize("preset,pooled", [("lenet5", 84), ("small", 7 * 7 * 64), ("vgg", 128)])
def test_cnn_encoder_2d_presets(preset, pooled):
    images = rng.normal(size=(2, 28, 28, 1)).astype("float32")
    run_encoder_test(CNN_Encoder, dict(preset=preset), images, {"pooled": (2, pooled)})


def test_cnn_encoder_explicit_arguments_override_preset():
    encoder = CNN_Encoder(preset="lenet5", dense=[10])
    assert encoder.get_config()["dense"] == [10]
    assert encoder.get_config()["filters"] == [6, 16]
    with pytest.raises(TypeError, match="unknown"):
        CNN_Encoder(filterz=[3])


def test_registry_builds_by_name():
    assert {"rnn", "cnn"} <= set(encoder_names())
    assert isinstance(build_encoder({"name": "rnn", "cell": "gru", "nodes": [3]}), RNN_Encoder)
    with pytest.raises(ValueError, match="unknown encoder"):
        build_encoder({"name": "nope"})
    with pytest.raises(ValueError, match="bad arguments"):
        build_encoder({"name": "rnn", "units": 3})


def test_rnn_encoder_notes_form_builds_stacked_gru_layers():
    """The notes' ``RNN_Encoder([256, 128])``: nodes first, GRU layers by default."""
    encoder = RNN_Encoder([256, 128])
    out = encoder(SEQ[:, :3], mask=MASK[:, :3])
    assert encoder.cell == "gru" and encoder.nodes == [256, 128]
    layers = encoder.forward_layers
    assert [type(layer) for layer in layers] == [keras.layers.GRU] * 2
    assert [layer.units for layer in layers] == [256, 128]
    assert [layer.units for layer in encoder.backward_layers] == [256, 128]  # bidirectional
    assert tuple(out["sequence"].shape) == (3, 3, 256) and tuple(out["pooled"].shape) == (3, 256)
    one_way = RNN_Encoder([6, 4], bidirectional=False)
    assert one_way.backward_layers == [] and one_way.output_size == 4
    with pytest.raises(ValueError, match="nodes must be a list"):
        RNN_Encoder("lstm", [4])  # the old positional order names the cell first


def test_rnn_encoder_keywords_and_config_round_trip():
    encoder = RNN_Encoder(cell="lstm", nodes=[5, 3], bidirectional=False, dropout=0.25,
                          pooling="mean")
    assert [type(layer) for layer in encoder.forward_layers] == [keras.layers.LSTM] * 2
    config = encoder.get_config()
    assert {k: config[k] for k in ("cell", "nodes", "bidirectional", "dropout", "pooling")} == {
        "cell": "lstm", "nodes": [5, 3], "bidirectional": False, "dropout": 0.25,
        "pooling": "mean"}
    rebuilt = RNN_Encoder.from_config(config)
    assert rebuilt.get_config() == config
    assert [type(layer) for layer in rebuilt.forward_layers] == [keras.layers.LSTM] * 2
    # A config without ``cell`` (never written by get_config) now means GRU.
    assert RNN_Encoder.from_config({"nodes": [3]}).cell == "gru"


def test_rnn_encoder_initializer_and_kernel_penalties():
    encoder = RNN_Encoder([4], cell="gru", initializer="he", l2=0.01)
    inputs = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("float32")
    encoder(inputs)
    forward = encoder.forward_layers[0].cell
    assert isinstance(forward.kernel_initializer, keras.initializers.HeNormal)
    # Both directions, input and recurrent kernels: four penalties, each positive.
    assert len(encoder.losses) == 4 and all(float(loss) > 0 for loss in encoder.losses)
    config = encoder.get_config()
    assert (config["initializer"], config["l1"], config["l2"]) == ("he", 0.0, 0.01)
    assert RNN_Encoder.from_config(config).get_config() == config
    # The default adds no penalty and keeps Keras' own kernel initialiser.
    plain = RNN_Encoder([4])
    plain(inputs)
    assert plain.losses == [] and isinstance(
        plain.forward_layers[0].cell.kernel_initializer, keras.initializers.GlorotUniform)
    with pytest.raises(ValueError, match="initializer must be"):
        RNN_Encoder([4], initializer="zeros")
    with pytest.raises(ValueError, match="l1 and l2"):
        RNN_Encoder([4], l1=-1)


def test_cnn_input_size_check_agrees_with_the_layers():
    for options, size in ((dict(filters=[4, 4]), (17, 12)),
                          (dict(filters=[4], padding="valid", strides=2, convs_per_block=2),
                           (19, 23)),
                          (dict(preset="lenet5"), (28, 28))):
        encoder = CNN_Encoder(**options)
        features = encoder(np.zeros((1, *size, 1), "float32"))["sequence"]
        assert encoder.check_input_size(*size) == tuple(features.shape[1:3]), options
    with pytest.raises(ValueError, match="4x4 images are too small .* block 3 of 3"):
        CNN_Encoder(filters=[4, 4, 4]).check_input_size(4, 4)
