"""Looking inside a trained character model: which units track simple properties of a text.

Every recurrent unit's output is recorded after each character of the text and correlated
(Pearson) with properties of the text at that character (:func:`text_properties`): inside
quotes, inside brackets, on a speaker-name line, position in the line, inside a word. The
best units are reported, and an HTML page colours the text by one unit's activation, as in
the well-known char-RNN pictures. A Transformer has no recurrent units; its attention heads
stand in, each as the mean distance (in characters) that a query looks back.
"""

import html
import json
import re
import sys

import numpy as np

from applications.core.config import UsageError
from data.errors import InputError
from data.files import atomic_write_bytes, iter_lines

PROPERTIES = ("inside_quotes", "inside_brackets", "speaker_line", "line_position",
              "inside_word")
HTML_MARK = "<!-- encore language_model inspect -->"
_SPEAKER = re.compile(r"^[A-Z][A-Za-z' ]{0,40}:$")
_OPENING, _CLOSING = "([{", ")]}"


def text_properties(text):
    """``{property: float array [len(text)]}``, each value holding after its character is read.

    ``inside_quotes``: an odd number of ``"`` so far (the opening one included, the closing
    one not); ``inside_brackets``: more ``([{`` than ``)]}`` so far; ``speaker_line``: the
    character's line is a name and a colon after a blank line (``ROMEO:``);
    ``line_position``: characters since the last line break; ``inside_word``: a letter,
    digit or inner apostrophe.
    """
    size = len(text)
    quotes = np.cumsum([c == '"' for c in text]) % 2 if size else np.zeros(0)
    depth = np.cumsum([(c in _OPENING) - (c in _CLOSING) for c in text]) if size else []
    position, column = np.zeros(size, np.float32), 0
    speaker = np.zeros(size, np.float32)
    start, previous_blank = 0, True
    for i, char in enumerate(text):
        position[i] = column
        column = 0 if char == "\n" else column + 1
        if char == "\n" or i == size - 1:
            line = text[start:i + (char != "\n")]
            if previous_blank and _SPEAKER.match(line):
                speaker[start:i + 1] = 1.0
            previous_blank, start = not line.strip(), i + 1
    word = np.array([c.isalnum() or (c == "'" and 0 < i < size - 1 and text[i - 1].isalpha()
                                     and text[i + 1].isalpha()) for i, c in enumerate(text)],
                    np.float32)
    return {"inside_quotes": np.asarray(quotes, np.float32),
            "inside_brackets": (np.asarray(depth) > 0).astype(np.float32),
            "speaker_line": speaker, "line_position": position, "inside_word": word}


def unit_activations(model, ids):
    """``(activations [T, units], names)``: every recurrent layer's output after each id
    (names ``"layer:unit"``, from 0); for a Transformer, each head's look-back distance."""
    import keras

    if not model.recurrent:
        return head_distances(model, ids)
    x = model.embedding(keras.ops.convert_to_tensor(np.asarray(ids, np.int32)[None]))
    columns, names = [], []
    for number, layer in enumerate(model.encoder.forward_layers):
        x = layer(x, training=False)[0]
        columns.append(keras.ops.convert_to_numpy(x)[0])
        names += [f"{number}:{unit}" for unit in range(x.shape[-1])]
    return np.concatenate(columns, axis=1), names


def head_distances(model, ids):
    """For a Transformer: ``([T, layers * heads], names "L:H")``, each query's mean distance
    back to the keys it attends to, the text read in windows of the model's ``window``."""
    import keras

    ids = np.asarray(ids, np.int32)
    window = model.window
    padded = np.pad(ids, (0, -len(ids) % window)).reshape(-1, window)
    x = model.embedding(keras.ops.convert_to_tensor(padded))
    back = np.arange(window)[:, None] - np.arange(window)[None, :]
    columns, names = [], []
    for layer in range(model.encoder.num_layers):
        weights = keras.ops.convert_to_numpy(model.encoder.attention_scores(x, layer=layer))
        distance = (weights * back).sum(-1)  # [chunks, heads, window]
        columns.append(distance.transpose(0, 2, 1).reshape(-1, distance.shape[1]))
        names += [f"{layer}:{head}" for head in range(distance.shape[1])]
    return np.concatenate(columns, axis=1)[:len(ids)], names


def correlations(activations, values):
    """Pearson correlation of every column of ``activations`` with ``values`` (0 where
    either is constant)."""
    a = activations - activations.mean(0)
    v = values - values.mean()
    scale = np.sqrt((a * a).sum(0) * (v * v).sum())
    return np.divide(v @ a, scale, out=np.zeros(a.shape[1]), where=scale > 0)


def best_units(activations, names, properties, top=3):
    """``{property: [(unit name, r), ...]}``, the ``top`` units by ``|r|``; a property that
    is constant over the text (no quotes in it, say) is left out."""
    found = {}
    for prop, values in properties.items():
        if values.std() == 0:
            continue
        r = correlations(activations, values)
        order = np.argsort(-np.abs(r))[:top]
        found[prop] = [(names[k], float(r[k])) for k in order]
    return found


def html_page(text, values, title):
    """The text, each character's background coloured by ``values`` (red positive, blue
    negative, scaled by the largest magnitude)."""
    scale = float(np.abs(values).max()) or 1.0
    spans = []
    for char, value in zip(text, values / scale):
        colour = "214,39,40" if value > 0 else "31,119,180"
        shown = "\u21b5\n" if char == "\n" else html.escape(char)
        spans.append(f'<span style="background:rgba({colour},{abs(value):.2f})" '
                     f'title="{value * scale:.3f}">{shown}</span>')
    return (f"{HTML_MARK}\n<!doctype html><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><h3>{html.escape(title)}</h3>\n<pre style=\"font:14px monospace;"
            f"white-space:pre-wrap\">{''.join(spans)}</pre>\n")


def write_html(path, page):
    """Write ``page`` to ``path``, refusing to replace a file this command did not write."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            if handle.read(len(HTML_MARK)) != HTML_MARK:
                raise InputError("exists and is not a page inspect wrote; choose another "
                                 "--html path or move it away (nothing was changed)", path)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
        if isinstance(err, IsADirectoryError):
            raise InputError("is a folder, not a page to write", path) from None
    atomic_write_bytes(path, page.encode("utf-8"))  # a file above the path: one line


def inspect_text(model, text, top=3):
    """``(activations, names, {property: [(unit, r), ...]})`` of a character model on text."""
    from applications.language_model.pipeline import metadata_vocabulary

    if model.metadata.get("level") != "char":
        raise UsageError("inspect reads character models (level=char)")
    ids = metadata_vocabulary(model.metadata).encode(list(text))
    activations, names = unit_activations(model, ids)
    return activations, names, best_units(activations, names, text_properties(text), top)


def add_inspect_arguments(parser):
    parser.add_argument("--model", required=True)
    parser.add_argument("--text", required=True, help="UTF-8 text file to read")
    parser.add_argument("--max-chars", type=int, default=20000,
                        help="read at most this many characters of --text")
    parser.add_argument("--unit", help="unit to colour the page by, as LAYER:UNIT "
                                       "(a Transformer: LAYER:HEAD)")
    parser.add_argument("--property", choices=PROPERTIES,
                        help="colour by this property's best unit (default: the property "
                             "with the strongest correlation)")
    parser.add_argument("--html", default="inspect.html", help="page to write")
    parser.add_argument("--top", type=int, default=3, help="units listed per property")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run_inspect(args):
    """Report the units that track simple properties of a text; colour it by one of them."""
    from applications.core.base import load_model

    if args.max_chars < 2 or args.top < 1:
        raise UsageError("--max-chars must be at least 2 and --top positive")
    text = read_prefix(args.text, args.max_chars)
    model = load_model(args.model)
    activations, names, found = inspect_text(model, text, args.top)
    unit = args.unit or chosen_unit(found, args.property)
    if unit not in names:
        raise UsageError(f"--unit {unit}: no such unit (from {names[0]} to {names[-1]})")
    column = activations[:, names.index(unit)]
    kind = "unit" if model.recurrent else "attention head (look-back distance)"
    tracked = [f"{p} r={r:+.3f}" for p, units in found.items() for n, r in units if n == unit]
    write_html(args.html, html_page(text, column, f"{kind} {unit}: {', '.join(tracked)}"))
    report = {"characters": len(text), "units": len(names), "kind": kind,
              "best": {p: [{"unit": n, "r": round(r, 4)} for n, r in units]
                       for p, units in found.items()},
              "page": args.html, "page_unit": unit}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for prop, units in found.items():
            listed = "  ".join(f"{n} r={r:+.3f}" for n, r in units)
            print(f"{prop:16s} {listed}")
        print(f"wrote {args.html} coloured by {kind} {unit}", file=sys.stderr)
    return 0


def chosen_unit(found, prop=None):
    """The best unit for ``prop``, or for the property with the strongest correlation."""
    if not found:
        raise UsageError("no property varies over this text; give --unit")
    if prop is None:
        prop = max(found, key=lambda p: abs(found[p][0][1]))
    if prop not in found:
        raise UsageError(f"--property {prop}: constant over this text (none found)")
    return found[prop][0][0]


def read_prefix(path, limit):
    """The first ``limit`` characters of a UTF-8 text file (InputError if it is empty)."""
    parts, size = [], 0
    for _, line in iter_lines(path):
        parts.append(line + "\n")
        size += len(line) + 1
        if size >= limit:
            break
    text = "".join(parts)[:limit]
    if not text.strip():
        raise InputError("empty file: no text to inspect", path)
    return text
