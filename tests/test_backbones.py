"""keras.applications backbones as CNN_Encoder presets, and the encoder's weight options."""

import keras
import numpy as np
import pytest

from data.errors import InputError
from encoders import CNN_Encoder
from encoders.backbones import BackboneInput, build_backbone, has_pretrained_weights, restoring

TINY = dict(preset="mobilenet_v2", alpha=0.35)


@pytest.fixture(scope="module")
def encoder():
    return CNN_Encoder(**TINY)


@pytest.fixture(scope="module")
def weights_file(encoder, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "mobilenet.weights.h5"
    encoder(np.zeros((1, 32, 32, 3), "float32"))
    encoder.backbone_model.save_weights(str(path))
    return path


def test_input_becomes_what_each_backbone_expects():
    grey = np.full((2, 16, 24, 1), 0.5, "float32")
    x = keras.ops.convert_to_numpy(BackboneInput("mobilenet_v2")(grey))
    assert x.shape == (2, 32, 48, 3)  # the smaller side scaled up to 32, the ratio kept
    np.testing.assert_allclose(x, 0.0, atol=1e-6)  # [0, 1] -> [-1, 1]
    rgb = np.zeros((1, 32, 32, 3), "float32")
    rgb[..., 0] = 1.0  # pure red
    caffe = keras.ops.convert_to_numpy(BackboneInput("resnet50")(rgb))[0, 0, 0]
    np.testing.assert_allclose(caffe, [-103.939, -116.779, 255.0 - 123.68], rtol=1e-5)
    pixels = keras.ops.convert_to_numpy(BackboneInput("efficientnet_b0")(rgb))[0, 0, 0]
    np.testing.assert_allclose(pixels, [255.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="1 or 3 channels"):
        BackboneInput("resnet50")(np.zeros((1, 32, 32, 2), "float32"))


def test_backbone_keeps_the_encoder_contract_and_config(encoder):
    out = encoder(np.zeros((2, 28, 28, 1), "float32"))
    assert tuple(out["sequence"].shape) == (2, 1, 1, 1280)
    assert tuple(out["pooled"].shape) == (2, 1280)
    config = encoder.get_config()
    assert config["backbone"] == "mobilenet_v2" and config["weights"] is None
    clone = CNN_Encoder.from_config(config)
    clone(np.zeros((1, 32, 32, 3), "float32"))
    assert clone.get_config() == config
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in encoder.get_weights()]


def test_local_weights_file_is_loaded(encoder, weights_file):
    loaded = CNN_Encoder(**TINY, weights=str(weights_file))
    for mine, theirs in zip(loaded.backbone_model.get_weights(),
                            encoder.backbone_model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert has_pretrained_weights({"preset": "mobilenet_v2", "weights": str(weights_file)})
    assert not has_pretrained_weights({"preset": "mobilenet_v2", "weights": "none"})
    assert not has_pretrained_weights({"preset": "small", "weights": "imagenet"})


def test_weights_that_cannot_be_had_are_one_line_errors(weights_file, tmp_path, monkeypatch):
    with pytest.raises(InputError) as err:
        build_backbone("mobilenet_v2", str(weights_file), alpha=0.5)  # another width
    assert str(weights_file) in str(err.value) and "do not fit mobilenet_v2" in str(err.value)
    with pytest.raises(InputError, match="no such mobilenet_v2 weights file"):
        build_backbone("mobilenet_v2", str(tmp_path / "missing.h5"))

    url = "https://storage.googleapis.com/x/mobilenet_v2_no_top.h5"

    def offline(**options):
        raise Exception(f"URL fetch failure on {url}: None -- [Errno -2] Name or service "
                        "not known")

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    with pytest.raises(InputError) as err:
        build_backbone("mobilenet_v2", "imagenet")
    assert url in str(err.value) and "\n" not in str(err.value)


def test_a_restored_model_fetches_no_weights(monkeypatch):
    seen = []

    def record(**options):
        seen.append(options["weights"])
        raise RuntimeError("stop")

    monkeypatch.setattr(keras.applications, "ResNet50", record)
    with restoring(), pytest.raises(RuntimeError):
        build_backbone("resnet50", "imagenet")
    assert seen == [None]


def test_initializer_and_penalties_and_old_configs():
    enc = CNN_Encoder(preset="small", initializer="he", l2=1e-3, dense=[8])
    enc(np.zeros((1, 28, 28, 1), "float32"))
    conv = enc.blocks[0][0]
    assert isinstance(conv.kernel_initializer, keras.initializers.HeNormal)
    assert len(enc.losses) == 3  # two convolutions and the dense layer
    config = enc.get_config()
    assert (config["initializer"], config["l1"], config["l2"]) == ("he", 0.0, 1e-3)
    old = {k: v for k, v in config.items()
           if k not in ("initializer", "l1", "l2", "backbone", "weights", "alpha")}
    again = CNN_Encoder.from_config(old)  # saved before these options existed
    assert again.initializer == "auto" and again.backbone is None
    with pytest.raises(ValueError, match="initializer"):
        CNN_Encoder(initializer="uniformish")
    with pytest.raises(ValueError, match="l1 and l2"):
        CNN_Encoder(l1=-1.0)


def test_frozen_backbone_trains_the_head_only_and_reloads(weights_file, tmp_path):
    import shutil

    from applications.core.base import load_model
    from applications.image_classifier.config import ImageClassifierConfig
    from applications.image_classifier.model import ImageClassifier
    from data.image_sets import ImageMetadata

    local = tmp_path / "local.weights.h5"
    shutil.copy(weights_file, local)
    config = ImageClassifierConfig(hidden=[], freeze_encoder=True, augment_translation=0.0,
                                   augment_rotation=0.0, learning_rate=0.1)
    config.encoder = {"name": "cnn", **TINY, "weights": str(local)}
    meta = ImageMetadata(28, 28, 1, ["0", "1"], ["zero", "one"], 8)
    model = ImageClassifier(config.to_dict(), meta.get_config())
    model.compile_for_training()
    model.run_eagerly = True  # two small steps: tracing the training graph would cost more
    images = np.random.default_rng(0).integers(0, 255, (8, 28, 28, 1), dtype=np.uint8)
    model(images)
    before, head_before = model.encoder.get_weights(), model.head.get_weights()
    model.fit(images, np.arange(8) % 2, batch_size=4, epochs=1, verbose=0)
    for mine, theirs in zip(model.encoder.get_weights(), before):
        np.testing.assert_array_equal(mine, theirs)  # batch-norm statistics included
    assert not np.array_equal(model.head.get_weights()[0], head_before[0])
    path = tmp_path / "model.keras"
    model.save(path)
    local.unlink()  # restoring needs only the saved model
    restored = load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(images)),
                               keras.ops.convert_to_numpy(model(images)), atol=1e-5)
