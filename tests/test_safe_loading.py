"""Only ``.keras`` files of applications this package builds load; nothing in others runs.

Every hostile file is made here: a Lambda layer whose code writes a marker file, objects
from unknown classes, and configurations naming modules outside Keras and this package.
"""

import json
import zipfile

import keras
import numpy as np
import pytest

from applications.core.base import load_model
from applications.pos_tagger.commands import TaggerCommands
from applications.pos_tagger.config import TaggerConfig
from applications.pos_tagger.model import PosTagger
from applications.core.training_state import save_model_atomically
from data.errors import InputError
from data.sequence_batches import TaggingMetadata
from data.tagged_text import TaggedSentence
from tests.helpers import assert_input_error

TINY = {"word_dim": 8, "char_dim": 4, "encoder": {"name": "rnn", "cell": "gru", "nodes": [8]},
        "char_encoder": {"name": "rnn", "cell": "gru", "nodes": [4]}}


@pytest.fixture(scope="module")
def tagger_file(tmp_path_factory):
    """A real (untrained) tagger saved by Keras' own ``save``: with its compile settings and
    optimizer, which training leaves out of its files but a file from elsewhere may carry."""
    meta = TaggingMetadata.from_sentences([TaggedSentence(["The", "dog"], ["DET", "NOUN"], [1, 2])])
    config = {**TaggerConfig().to_dict(), **TINY}
    model = PosTagger(config, meta.get_config())
    model.compile_for_training()
    features = meta.encode_tokens(["The", "dog"])
    model.build_from_batch(({k: v[None] for k, v in features.items()}, None, None))
    path = tmp_path_factory.mktemp("tagger") / "model.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def lambda_file(tmp_path_factory):
    """A Keras model whose Lambda layer writes a marker file whenever its code runs."""
    folder = tmp_path_factory.mktemp("lambda")
    marker = folder / "code-ran"
    target = str(marker)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Lambda(lambda x: (open(target, "w").close(), x)[1]),
    ])
    model(np.ones((1, 2), "float32"))
    assert marker.exists(), "the fixture's code must really run when called"
    marker.unlink()
    path = folder / "lambda.keras"
    model.save(path)
    return path, marker


def rewrite_config(source, target, change):
    """Copy a ``.keras`` archive with its config.json passed through ``change(config)``."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return target


def refused(path, *words):
    with pytest.raises(InputError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


def test_the_package_own_file_loads(tagger_file, tmp_path):
    model = load_model(tagger_file)
    assert isinstance(model, PosTagger) and model.config["word_dim"] == 8
    assert model.compiled and model.optimizer.built
    # Training's own files: the model alone, no optimizer state or compile settings.
    save_model_atomically(model, tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        assert not json.loads(archive.read("config.json")).get("compile_config")
    again = load_model(tmp_path / "model.keras")
    assert not again.compiled and model.compiled and model.optimizer.built
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights()))
    assert (tmp_path / "model.keras").stat().st_size < tagger_file.stat().st_size


def test_lambda_model_is_refused_and_its_code_never_runs(lambda_file):
    path, marker = lambda_file
    refused(path, "refused", "Sequential")
    assert not marker.exists()


def test_lambda_hidden_inside_an_application_is_refused(tagger_file, lambda_file, tmp_path):
    path, marker = lambda_file
    with zipfile.ZipFile(path) as archive:
        layer = json.loads(archive.read("config.json"))["config"]["layers"][-1]
    assert layer["class_name"] == "Lambda"

    def hide_as_loss(config):
        config["compile_config"]["loss"] = layer

    def hide_as_function(config):
        config["compile_config"]["loss"] = layer["config"]["function"]

    for n, change in enumerate((hide_as_loss, hide_as_function)):
        bad = rewrite_config(tagger_file, tmp_path / f"hidden{n}.keras", change)
        refused(bad, "refused", "carries code")
    assert not marker.exists()


def test_unknown_classes_are_refused(tagger_file, tmp_path):
    def evil_top(config):
        config.update(module="evil_package.models", class_name="EvilModel",
                      registered_name="evil>EvilModel")

    def evil_optimizer(config):
        config["compile_config"]["optimizer"]["registered_name"] = "mystery>Optimizer"

    refused(rewrite_config(tagger_file, tmp_path / "top.keras", evil_top), "EvilModel")
    refused(rewrite_config(tagger_file, tmp_path / "opt.keras", evil_optimizer),
            "mystery>Optimizer")


def test_a_keras_class_that_does_not_exist_is_one_line(tagger_file, tmp_path):
    def no_such_loss(config):
        config["compile_config"]["loss"]["class_name"] = "NoSuchLoss"

    message = refused(rewrite_config(tagger_file, tmp_path / "loss.keras", no_such_loss),
                      "cannot load model")
    assert "Traceback" not in message


@pytest.mark.parametrize("module,name,arg", [
    ("os", "function", "system"),
    ("builtins", "function", "eval"),
    ("subprocess", "Popen", "touch pwned"),
    ("keras.config", "function", "enable_unsafe_deserialization"),
    ("keras.utils", "function", "get_file"),
])
def test_config_pointing_at_a_module_path_is_refused(tagger_file, tmp_path, module, name, arg):
    def point_elsewhere(config):
        config["compile_config"]["loss"] = {"module": module, "class_name": name,
                                            "config": arg, "registered_name": name}

    refused(rewrite_config(tagger_file, tmp_path / "module.keras", point_elsewhere), "refused")
    from keras.src.saving import serialization_lib

    assert serialization_lib.in_safe_mode() is not False  # safe mode was not switched off


def test_torn_and_foreign_files_are_refused(tagger_file, tmp_path):
    payload = tagger_file.read_bytes()
    for cut in (0, 100, len(payload) // 2, len(payload) - 10):
        torn = tmp_path / f"torn{cut}.keras"
        torn.write_bytes(payload[:cut])
        refused(torn, "not a whole .keras file")
    legacy = tmp_path / "model.h5"
    legacy.write_bytes(b"\x89HDF\r\n\x1a\n")
    refused(legacy, "only .keras files")
    not_zip = tmp_path / "text.keras"
    not_zip.write_text("{}")
    refused(not_zip, "not a whole .keras file")


def test_cli_refuses_with_one_line_and_exit_2(tagger_file, lambda_file, tmp_path):
    path, marker = lambda_file
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "model.keras").write_bytes(path.read_bytes())
    line = assert_input_error(TaggerCommands(), ["evaluate", "--model", folder],
                              folder / "model.keras")
    assert "refused" in line and not marker.exists()
