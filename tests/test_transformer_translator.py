"""The translator with a Transformer encoder under the attention GRU, and with the full
encoder-decoder Transformer."""

import keras
import numpy as np
import pytest

from tests.helpers import cli, load_saved_model_without_package
from tests.test_checkpoint_tracking import weights_outside_the_checkpoint
from tests.test_transformer import SMALL, train


def tiny_translator():
    """An untrained full-Transformer translator (width 16, one decoder block), its options
    and its metadata."""
    from applications.translator.config import TranslatorConfig
    from applications.translator.model import Translator
    from applications.translator.pipeline import TranslationMetadata
    from data import Vocabulary

    meta = TranslationMetadata(Vocabulary(["ein", "hund", "katze"]),
                               Vocabulary(["<s>", "</s>", "a", "dog", "cat"]), True, False)
    config = TranslatorConfig(encoder={"name": "transformer", **SMALL, "width": 16},
                              decoder={"name": "transformer", "num_layers": 1},
                              embedding_dim=8, dropout=0.0).to_dict()
    return Translator(config, meta.get_config()), config, meta


def test_transformer_decoder_steps_like_teacher_forcing_and_beam_one_is_greedy(tmp_path):
    import tensorflow as tf

    from encoders import search
    from applications.translator.model import Translator

    model, config, meta = tiny_translator()
    assert (model.decoder.width, model.decoder.num_layers) == (16, 1)  # width from the encoder
    source = np.array([[3, 4, 2, 0], [2, 3, 0, 0]], "int32")
    target_in = np.array([[2, 5, 6, 4, 3], [2, 6, 5, 4, 4]], "int32")
    logits = np.asarray(model({"source": source, "target_in": target_in}))
    assert weights_outside_the_checkpoint(model) == []
    weights = np.asarray(model.attention_weights(source, target_in))
    np.testing.assert_allclose(weights[:, :, 2:][source[:, None, 2:].repeat(5, 1) == 0], 0.0)
    memory = model.encode(source)
    state = memory["state"]
    for t in range(target_in.shape[1]):
        step_logits, state, step_weights = model.decoder.step(tf.constant(target_in[:, t]),
                                                              state, memory)
        np.testing.assert_allclose(np.asarray(step_logits), logits[:, t], atol=1e-5)
        np.testing.assert_allclose(np.asarray(step_weights), weights[:, t], atol=1e-6)
    greedy = search.greedy_decode(model, tf.constant(source))[0].numpy()
    np.testing.assert_array_equal(search.beam_decode(model, tf.constant(source), 1)[0], greedy)
    assert search.beam_decode(model, tf.constant(source), 3)[0].shape[0] == 2
    model.save(tmp_path / "translator.keras")
    restored = keras.saving.load_model(tmp_path / "translator.keras")
    np.testing.assert_array_equal(search.greedy_decode(restored, tf.constant(source))[0],
                                  greedy)
    with pytest.raises(ValueError, match="scheduled_sampling"):
        Translator({**config, "scheduled_sampling": 0.5}, meta.get_config())


def test_reordered_caches_step_like_the_reordered_histories():
    """Beam search gathers the decoder's key-value caches by parent at every step: after a
    gather, each row must step as teacher forcing steps the history it now holds, and
    beam outputs must score what teacher forcing gives them."""
    import tensorflow as tf

    from encoders import search

    keras.utils.set_random_seed(3)
    model, _, _ = tiny_translator()
    source = np.array([[3, 4, 2, 0], [2, 3, 0, 0], [4, 4, 3, 2]], "int32")
    history = np.array([[2, 5, 6], [2, 6, 4], [2, 4, 4]], "int32")
    model({"source": source, "target_in": history})  # builds the layers
    memory = model.decoder.search_memory(model.encode(source))
    state = memory["state"]
    for t in range(2):
        _, state, _ = model.decoder.step(tf.constant(history[:, t]), state, memory)
    parent = np.array([2, 0, 0])
    state = tf.nest.map_structure(lambda value: tf.gather(value, parent), state)
    memory = tf.nest.map_structure(lambda value: tf.gather(value, parent), memory)
    logits, state, weights = model.decoder.step(tf.constant(history[parent, 2]), state, memory)
    assert state["keys"][0].shape[1] == 3
    forced_logits, forced_weights = model.decoder.teacher_forced(history[parent],
                                                                 model.encode(source[parent]))
    np.testing.assert_allclose(np.asarray(logits), np.asarray(forced_logits)[:, 2], atol=1e-5)
    np.testing.assert_allclose(np.asarray(weights), np.asarray(forced_weights)[:, 2], atol=1e-6)

    tokens, _, scores = (np.asarray(x) for x in search.beam_decode(
        model, tf.constant(source), 3, alpha=0.0, max_steps=6))
    lengths = [list(row).index(search.EOS_ID) + 1 if search.EOS_ID in row else len(row)
               for row in tokens]
    target_in = np.concatenate([np.full((3, 1), search.BOS_ID), tokens[:, :-1]], axis=1)
    log_probs = np.asarray(search._log_probs(
        model.decoder.teacher_forced(target_in, model.encode(source))[0]))
    for row, length in enumerate(lengths):
        picked = log_probs[row, np.arange(length), tokens[row, :length]]
        np.testing.assert_allclose(picked.sum(), scores[row], rtol=1e-5, atol=1e-4)


def test_each_sentence_has_its_own_step_limit_and_empty_batches_decode():
    """With </s> out of reach every output runs to its limit: twice its own source length
    plus ten, whatever the batch-mates' lengths; a batch of no sentences gives none."""
    import tensorflow as tf


    keras.utils.set_random_seed(3)
    model, _, _ = tiny_translator()
    short, long = "ein", "ein hund katze ein hund katze ein hund"
    alone = model.predict([short], beam_size=1, length_penalty=0.0)  # before any forward pass
    bias = model.decoder.score_bias.numpy()
    bias[3] = -100.0  # </s>
    model.decoder.score_bias.assign(bias)
    server = model.serving_module()
    for beam in (1, 3):
        run = server.translator(beam, 0.0)
        together = run(tf.constant([short, long]))["translations"].numpy()
        by_itself = run(tf.constant([short]))["translations"].numpy()
        assert [len(t.split()) for t in together] == [2 * 1 + 10, 2 * 8 + 10]
        assert together[0] == by_itself[0]
        assert run(tf.constant([], tf.string))["translations"].shape == (0,)
    assert isinstance(alone[0], str)
    with pytest.raises(ValueError, match="num_layers"):
        from encoders.transformer_decoder import TransformerDecoder
        TransformerDecoder(10, width=8, num_layers=0, num_heads=2)


@pytest.mark.integration
@pytest.mark.parametrize("decoder", ["rnn", "transformer"])
def test_translator_with_transformer_encoder_translate_equals_export(decoder, tmp_path):
    from applications.translator.commands import TranslatorCommands

    app, out = TranslatorCommands(), tmp_path / "translator"
    train(app, out, "--set", "embedding_dim=16", "--set", "decoder_units=16",
          "--set", "output_dim=16", "--set", "attention_units=16", "--set", "beam_size=2",
          "--set", f'decoder={{"name": "{decoder}"}}', "--batch-size", 32)
    sentences = ["The cat sees a red apple.", "Does the boy have a book?"]
    code, text, err = cli(app, "translate", "--model", out, "--plot", tmp_path / "plots",
                          stdin="\n".join(sentences) + "\n")
    assert code == 0, err
    translated = text.splitlines()
    assert len(translated) == 2
    # Cross-attention maps, one per sentence (a Transformer decoder's: its last block's).
    assert (tmp_path / "plots" / "0002.png").read_bytes()[:4] == b"\x89PNG"
    assert cli(app, "export", "--model", out, "--out", tmp_path / "export")[0] == 0
    exported = load_saved_model_without_package(tmp_path / "export", (
        f"out = model.signatures['serve'](sentences=tf.constant({sentences!r}))\n"
        "print(json.dumps([t.decode() for t in out['translations'].numpy()]))"))
    assert exported == translated
