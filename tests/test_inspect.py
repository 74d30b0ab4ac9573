"""``inspect``: text properties, and finding a unit planted to track "inside quotes"."""

import json

import numpy as np
import pytest

from applications.language_model.commands import LanguageModelCommands
from applications.language_model.config import LanguageModelConfig
from applications.language_model.inspection import HTML_MARK, inspect_text, text_properties
from applications.language_model.model import LanguageModel
from applications.language_model.pipeline import make_metadata
from data import Vocabulary
from tests.helpers import cli

TEXT = ('he said "yes" and then "no, not now" to me.\n'
        '\nROMEO:\n"a long quoted line" (with brackets) here.\nplain words, no quote.\n'
        'she wrote "x" and "a much longer answer than that".\n') * 3
PLANTED = 1  # the unit that copies the inside-quotes signal


def test_text_properties():
    found = text_properties('ab "cd" e\n\nROMEO:\n(x [y]) z\n')
    assert found["inside_quotes"].tolist()[2:8] == [0, 1, 1, 1, 0, 0]  # after each character
    assert found["line_position"].tolist()[:4] == [0, 1, 2, 3]
    assert found["line_position"][11] == 0  # "R" starts a line
    assert found["speaker_line"].tolist()[10:18] == [0, 1, 1, 1, 1, 1, 1, 1]
    assert found["inside_brackets"].tolist()[18:26] == [1, 1, 1, 1, 1, 1, 0, 0]
    assert found["inside_word"].tolist()[:3] == [1, 1, 0]


def planted_model(cell="gru"):
    """A one-layer GRU whose unit ``PLANTED`` flips at every quote: +1 inside, -1 after."""
    vocabulary = Vocabulary(sorted(set(TEXT)))
    config = LanguageModelConfig(embedding_dim=3, encoder={
        "name": "rnn", "cell": cell, "nodes": [4], "bidirectional": False, "dropout": 0.0})
    model = LanguageModel(config.to_dict(), make_metadata("char", vocabulary))
    model(np.ones((1, 4), np.int32))
    rng = np.random.default_rng(0)
    table = rng.normal(0, 0.5, (len(vocabulary), 3)).astype("float32")
    table[:, 0] = 0.0
    table[vocabulary.index['"'], 0] = 1.0  # dimension 0 says "this is a quote"
    model.embedding.embeddings.assign(table)
    layer = model.encoder.forward_layers[0]
    kernel, recurrent, bias = (rng.normal(0, 0.5, w.shape).astype("float32")
                               for w in layer.get_weights())
    units, k = 4, PLANTED
    z, r, h = k, units + k, 2 * units + k  # Keras orders a GRU's gates update, reset, new
    kernel[:, [z, r, h]] = 0.0
    recurrent[:, [z, r, h]] = 0.0
    bias[:, [z, r, h]] = 0.0
    kernel[0, z], bias[0, z] = -20.0, 10.0  # keep the state, except at a quote
    bias[0, r] = 10.0
    kernel[0, h], recurrent[k, h] = 5.0, -10.0  # at a quote: tanh(5 - 10 h), a flip
    layer.set_weights([kernel, recurrent, bias])
    return model


def test_finds_the_planted_quote_unit():
    _, names, found = inspect_text(planted_model(), TEXT)
    assert names == ["0:0", "0:1", "0:2", "0:3"]
    unit, r = found["inside_quotes"][0]
    assert unit == f"0:{PLANTED}" and r > 0.95, found
    assert all(abs(r) < 0.9 for unit, r in found["inside_quotes"][1:])
    assert set(found) == {"inside_quotes", "inside_brackets", "speaker_line", "line_position",
                          "inside_word"}


@pytest.mark.integration
def test_inspect_command_writes_the_page(tmp_path):
    model = planted_model()
    model.save_to(tmp_path / "lm")
    text = tmp_path / "text.txt"
    text.write_text(TEXT)
    app = LanguageModelCommands()
    page = tmp_path / "page.html"
    code, out, err = cli(app, "inspect", "--model", tmp_path / "lm", "--text", text,
                         "--property", "inside_quotes", "--html", page, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["page_unit"] == f"0:{PLANTED}"
    assert report["best"]["inside_quotes"][0]["r"] > 0.95
    html = page.read_text()
    assert html.startswith(HTML_MARK) and html.count("<span") == len(TEXT)
    # Run again: its own page is replaced; someone else's file is not.
    assert cli(app, "inspect", "--model", tmp_path / "lm", "--text", text, "--html", page)[0] == 0
    other = tmp_path / "notes.html"
    other.write_text("<p>mine</p>")
    code, _, err = cli(app, "inspect", "--model", tmp_path / "lm", "--text", text,
                       "--html", other)
    assert code == 2 and "notes.html: exists" in err and other.read_text() == "<p>mine</p>"
    code, _, err = cli(app, "inspect", "--model", tmp_path / "lm", "--text", text,
                       "--html", other / "page.html")  # a folder path through a file
    assert code == 2 and "cannot be written:" in err, err
    assert "is a file (nothing was changed)" in err, err
    code, _, err = cli(app, "inspect", "--model", tmp_path / "lm", "--text", text,
                       "--unit", "3:9", "--html", page)
    assert code == 2 and "no such unit" in err


@pytest.mark.parametrize("cell", ["lstm", "simple"])
def test_every_recurrent_cell_is_read(cell):
    vocabulary = Vocabulary(sorted(set(TEXT)))
    config = LanguageModelConfig(embedding_dim=4, encoder={
        "name": "rnn", "cell": cell, "nodes": [3, 2], "bidirectional": False, "dropout": 0.0})
    model = LanguageModel(config.to_dict(), make_metadata("char", vocabulary))
    activations, names, found = inspect_text(model, TEXT[:80], top=2)
    assert names == ["0:0", "0:1", "0:2", "1:0", "1:1"] and activations.shape == (80, 5)
    assert all(len(units) == 2 and all(-1 <= r <= 1 for _, r in units)
               for units in found.values())


def test_transformer_heads_stand_in_for_units():
    vocabulary = Vocabulary(sorted(set(TEXT)))
    config = LanguageModelConfig(window=16, embedding_dim=8, encoder={
        "name": "transformer", "width": 8, "num_layers": 2, "num_heads": 2})
    model = LanguageModel(config.to_dict(), make_metadata("char", vocabulary))
    activations, names, found = inspect_text(model, TEXT[:100])
    assert names == ["0:0", "0:1", "1:0", "1:1"] and activations.shape == (100, 4)
    assert (activations >= -1e-4).all() and (activations <= 15 + 1e-4).all()
    assert "line_position" in found
