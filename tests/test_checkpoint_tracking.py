"""Every weight is in the model's own ``tf.train.Checkpoint``: a fresh model restored from
``tf.train.Checkpoint(model=...)`` alone (no optimizer) computes exactly what the saved one did.

Layers held in Python lists (``RNN_Encoder``'s stacked layers, ``CNN_Encoder.blocks`` with
their batch norms, the autoencoder's decoder) are the case these tests watch.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from applications.autoencoder.config import AutoencoderConfig
from applications.autoencoder.model import Autoencoder
from applications.image_classifier.config import ImageClassifierConfig
from applications.image_classifier.model import ImageClassifier
from applications.pos_tagger.config import TaggerConfig
from applications.pos_tagger.model import PosTagger
from data import TaggedSentence, TaggingMetadata
from data.image_sets import ImageMetadata
from encoders import CNN_Encoder, RNN_Encoder

rng = np.random.default_rng(0)


def weights_outside_the_checkpoint(model):
    """Paths of the model's weights that ``tf.train.Checkpoint(model=model)`` does not reach
    except through the optimizer (which refers to the trainable ones itself)."""
    seen, queue = set(), [model]
    while queue:
        node = queue.pop()
        if id(node) in seen or isinstance(node, keras.optimizers.Optimizer):
            continue
        seen.add(id(node))
        queue.extend(node._trackable_children("checkpoint").values())
    return [w.path for w in model.weights if id(w) not in seen]


def checkpoint_round_trip(model, build_fresh, inputs, tmp_path):
    """Write ``model``'s checkpoint, restore it into a fresh built model, compare outputs."""
    assert weights_outside_the_checkpoint(model) == []
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    fresh = build_fresh()
    fresh(inputs, training=False)
    tf.train.Checkpoint(model=fresh).read(path).assert_existing_objects_matched()
    for saved, restored in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy(), err_msg=saved.path)
    expected, found = model(inputs, training=False), fresh(inputs, training=False)
    tf.nest.map_structure(lambda a, b: np.testing.assert_array_equal(np.asarray(a),
                                                                     np.asarray(b)),
                          expected, found)
    return path


def test_tagger_restores_from_its_own_checkpoint(tmp_path):
    meta = TaggingMetadata.from_sentences([
        TaggedSentence(["ab", "ba", "c"], ["X", "Y", "Z"], [1, 2, 3])]).get_config()
    config = TaggerConfig(word_dim=6, char_dim=4, embedding_dropout=0.0, word_dropout=0.0,
                          char_encoder={"name": "rnn", "cell": "gru", "nodes": [5]},
                          encoder={"name": "rnn", "cell": "lstm", "nodes": [7, 6]}).to_dict()
    words = rng.integers(1, 5, size=(3, 6)).astype("int32")
    words[1, 4:] = 0
    chars = (rng.integers(1, 5, size=(3, 6, 3)) * (words[..., None] > 0)).astype("int32")
    inputs = {"words": tf.constant(words), "chars": tf.constant(chars)}
    model = PosTagger(config, meta)
    model(inputs, training=False)
    checkpoint_round_trip(model, lambda: PosTagger(config, meta), inputs, tmp_path)


def test_cnn_batch_norm_statistics_restore_after_training(tmp_path):
    meta = ImageMetadata(12, 12, 1, ["a", "b"], ["a", "b"], 16).get_config()
    config = ImageClassifierConfig(
        encoder={"name": "cnn", "preset": "small", "filters": [4, 8], "batch_norm": True},
        hidden=[8], augment_translation=0.0, augment_rotation=0.0, epochs=1,
        batch_size=8).to_dict()
    images = rng.integers(0, 256, size=(16, 12, 12, 1)).astype("uint8")
    labels = rng.integers(0, 2, size=16)
    model = ImageClassifier(config, meta)
    model.compile_for_training(jit_compile=False)
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    moving = [w for w in model.weights if "moving_mean" in w.path]
    assert moving and all(np.abs(w.numpy()).max() > 0 for w in moving)  # statistics moved
    checkpoint_round_trip(model, lambda: ImageClassifier(config, meta), images[:4], tmp_path)


@pytest.mark.parametrize("kind", ["conv", "dense"])
def test_autoencoder_restores_from_its_own_checkpoint(kind, tmp_path):
    meta = ImageMetadata(8, 8, 1, train_examples=4).get_config()
    config = AutoencoderConfig(kind=kind, code_dim=3, hidden=[6], encoder={
        "name": "cnn", "filters": [4, 8], "strides": 2, "pooling": None, "batch_norm": True,
        "summary": "flatten"}).to_dict()
    images = rng.integers(0, 256, size=(4, 8, 8, 1)).astype("uint8")
    model = Autoencoder(config, meta)
    model(images, training=True)  # one training-mode pass moves the batch-norm statistics
    checkpoint_round_trip(model, lambda: Autoencoder(config, meta), images, tmp_path)


def test_encoders_list_every_stacked_layer_in_the_checkpoint(tmp_path):
    rnn = RNN_Encoder([5, 4], cell="lstm")
    sequence = rng.normal(size=(2, 3, 2)).astype("float32")
    rnn(sequence)
    path = checkpoint_round_trip(rnn, lambda: RNN_Encoder([5, 4], cell="lstm"), sequence,
                                 tmp_path)
    saved = [name for name, _ in tf.train.list_variables(path) if name.startswith("model/")]
    assert len(saved) == len(rnn.weights) == 2 * 2 * 3  # two layers, two directions

    cnn = CNN_Encoder(preset="vgg", filters=[2, 3])
    image = rng.normal(size=(2, 8, 8, 1)).astype("float32")
    cnn(image, training=True)
    path = checkpoint_round_trip(cnn, lambda: CNN_Encoder(preset="vgg", filters=[2, 3]), image,
                                 tmp_path / "cnn")
    saved = [name for name, _ in tf.train.list_variables(path) if name.startswith("model/")]
    assert len(saved) == len(cnn.weights)
    assert sum("moving_variance" in name for name in saved) == 4  # 2 blocks x 2 convolutions
