"""A corpus of malformed inputs, generated here, for every text format the package reads.

Each case is a file that is wrong in one way. Read directly, its reader must raise
``InputError`` naming the file (and line and column where they apply) in one line; through
the command line a subset must exit 2 with that one line, no traceback, and leave what an
earlier run wrote in ``--out`` exactly as it was.
"""

import gzip

import pytest

from applications.anomaly_detector.commands import DetectorCommands
from applications.language_model.commands import LanguageModelCommands
from applications.language_model.pipeline import read_tokens
from applications.pos_tagger.commands import TaggerCommands
from applications.text_classifier.commands import ClassifierCommands
from data.errors import InputError
from data.tagged_text import read_conllu, read_two_column
from data.text_table import read_text_table
from data.time_series import read_time_series
from tests.helpers import assert_input_error

# Byte sequences that are not UTF-8: Latin-1, a lone continuation byte, an overlong "/",
# a UTF-16 surrogate, a code point past U+10FFFF, a cut-off 3-byte sequence, 0xff.
BAD_BYTES = [b"caf\xe9", b"\x80x", b"\xc0\xafx", b"\xed\xa0\x80x", b"\xf4\x90\x80\x80x",
             b"x\xe2\x82", b"\xffx"]


def file_cases(suffix, header=b""):
    """Cases wrong as a whole file: ``(name, bytes or None for a folder, line)``."""
    gz = gzip.compress(header + b"x\n")
    return [
        ("utf16_le", b"\xff\xfe" + (header or b"a\n").decode().encode("utf-16-le"), 1),
        ("utf16_be", b"\xfe\xff" + (header or b"a\n").decode().encode("utf-16-be"), 1),
        ("utf16_no_bom", (header or b"a\n").decode().encode("utf-16-le"), 1),
        ("binary", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, 1),
        ("gzip_bytes_unnamed", gz, 1),
        (f"not_gzip{suffix}.gz", header + b"plain text\n", None),
        (f"cut_gzip{suffix}.gz", gz[:len(gz) // 2], None),
        ("folder", None, None),
    ]


def positioned(lines, bad, at, ending="\n", final_newline=True):
    """Put the line ``bad`` (bytes) at index ``at`` of ``lines`` -> ``(bytes, its line number)``."""
    rows = [l.encode() if isinstance(l, str) else l for l in lines]
    rows[at] = bad
    payload = ending.encode().join(rows) + (ending.encode() if final_newline else b"")
    return payload, at + 1


def variants(lines, at_first, at_middle, bad):
    """The same bad line early, mid-file with CRLF endings, and last with no final newline."""
    return [positioned(lines, bad, at_first), positioned(lines, bad, at_middle, "\r\n"),
            positioned(lines[:at_middle + 1], bad, at_middle, final_newline=False)]


def corpus(kinds, lines, at_first, at_middle, suffix, header=b"", extra=()):
    cases = []
    for name, bad, column in kinds:
        for n, (payload, line) in enumerate(variants(lines, at_first, at_middle, bad)):
            cases.append((f"{name}-{n}{suffix}", payload, line, column))
    for name, payload, line in [*file_cases(suffix, header), *extra]:
        cases.append((name if "." in name else name + suffix, payload, line, None))
    return cases


def token(fields):
    return "\t".join(fields).encode()


GOOD_TOKEN = ["2", "dog", "dog", "NOUN", "NN", "_", "3", "nsubj", "_", "_"]
CONLLU_LINES = ["# text = The dog barks .", "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_",
                token(GOOD_TOKEN), "3\tbarks\tbark\tVERB\tVBZ\t_\t0\troot\t_\t_", ""] * 4
CONLLU_KINDS = [
    ("nine_columns", token(GOOD_TOKEN[:9]), None),
    ("eleven_columns", token(GOOD_TOKEN + ["_"]), None),
    ("trailing_tab", token(GOOD_TOKEN) + b"\t", None),
    ("one_column", b"2", None),
    ("spaces_not_tabs", " ".join(GOOD_TOKEN).encode(), None),
    ("tabs_only", b"\t" * 9, None),
    ("id_word", token(["x"] + GOOD_TOKEN[1:]), None),
    ("id_zero", token(["0"] + GOOD_TOKEN[1:]), None),
    ("id_skips", token(["3"] + GOOD_TOKEN[1:]), None),
    ("id_repeats", token(["1"] + GOOD_TOKEN[1:]), None),
    ("id_negative", token(["-1"] + GOOD_TOKEN[1:]), None),
    ("range_open", token(["2-"] + GOOD_TOKEN[1:]), None),
    ("range_three", token(["2-3-4"] + GOOD_TOKEN[1:]), None),
    ("empty_node_word", token(["2.x"] + GOOD_TOKEN[1:]), None),
    ("empty_form", token(["2", ""] + GOOD_TOKEN[2:]), None),
    ("upos_underscore", token(GOOD_TOKEN[:3] + ["_"] + GOOD_TOKEN[4:]), None),
    ("upos_empty", token(GOOD_TOKEN[:3] + [""] + GOOD_TOKEN[4:]), None),
    *[(f"bytes{i}", b"2\t" + bad + b"\t" + token(GOOD_TOKEN[2:]), None)
      for i, bad in enumerate(BAD_BYTES)],
]
CONLLU = corpus(CONLLU_KINDS, CONLLU_LINES, 2, 12, ".conllu", extra=[
    ("empty", b"", None), ("comments_only", b"# a\n# b\n", None),
    ("blank_lines_only", b"\n\n\r\n", None), ("bom_only", b"\xef\xbb\xbf", None)])

TWO_COLUMN_LINES = ["The\tDET", "dog\tNOUN", "barks\tVERB", ".\tPUNCT", ""] * 4
TWO_COLUMN_KINDS = [
    ("one_column", b"dog", None), ("token_tab", b"dog\t", None), ("tab_tag", b"\tNOUN", None),
    ("tab_only", b"\t", None), ("spaces_one_field", b"dog   ", None),
    ("empty_last_field", b"dog\tNN\t", None),
    *[(f"bytes{i}", bad + b"\tNOUN", None) for i, bad in enumerate(BAD_BYTES)],
]
TWO_COLUMN = corpus(TWO_COLUMN_KINDS, TWO_COLUMN_LINES, 1, 11, ".tsv", extra=[
    ("empty", b"", None), ("blank_lines_only", b"\n \n\r\n", None),
    ("docstart_only", b"-DOCSTART- O\n\n-DOCSTART- O\n", None)])

TABLE_LINES = ["text,label", "a fine film,pos", "a dull film,neg", "fine acting,pos",
               "dull plot,neg", "fine story,pos"]
CSV_KINDS = [
    ("fewer_fields", b"only text", None), ("more_fields", b"a,b,c", None),
    ("empty_text", b",pos", 1), ("blank_text", b"   ,pos", 1), ("empty_label", b"good film,", 2),
    ("blank_label", b"good film,  ", 2), ("open_quote", b'"good film,pos', None),
    ("text_after_quote", b'"good"film,pos', None), ("nul_byte", b"good\x00film,pos", None),
    ("bare_cr", b"good\rfilm,pos", None),
    *[(f"bytes{i}", bad + b",pos", None) for i, bad in enumerate(BAD_BYTES)],
]
CSV = corpus(CSV_KINDS, TABLE_LINES, 1, 3, ".csv", b"text,label\n", extra=[
    ("empty", b"", None), ("header_only", b"text,label\n", None),
    ("blank_header", b"\na,pos\n", 1), ("no_text_column", b"foo,bar\na,b\n", 1),
    ("no_label_column", b"text\nhello\n", 1), ("duplicate_column", b"text,label,label\na,b,c\n", 1),
    ("header_bytes", b"te\xffxt,label\na,b\n", 1)])
TSV_LINES = [l.replace(",", "\t") for l in TABLE_LINES]
TSV_KINDS = [(name, bad.replace(b",", b"\t"), column) for name, bad, column in CSV_KINDS
             if "quote" not in name]
TSV = corpus(TSV_KINDS, TSV_LINES, 1, 3, ".tsv", b"text\tlabel\n")

SERIES_LINES = ["timestamp,value,other"] + [
    f"2014-04-01 0{h}:00:00,{h}.5,{h}" for h in range(8)]
SERIES_KINDS = [
    *[(f"value_{name}", b"2014-04-02 00:00:00," + cell + b",1", 2) for name, cell in [
        ("word", b"abc"), ("empty", b""), ("nan", b"nan"), ("inf", b"inf"), ("minus_inf", b"-inf"),
        ("overflow", b"1e999"), ("hex", b"0x10"), ("comma", b'"1,5"')]],
    ("other_word", b"2014-04-02 00:00:00,1.0,x", 3),
    *[(f"time_{name}", cell + b",1.0,1", 1) for name, cell in [
        ("word", b"yesterday"), ("empty", b""), ("month13", b"2014-13-01 00:00:00"),
        ("nan", b"nan"), ("inf", b"inf"), ("number_among_dates", b"12345")]],
    ("fewer_fields", b"2014-04-02 00:00:00,1.0", None),
    ("more_fields", b"2014-04-02 00:00:00,1.0,1,1", None),
    ("open_quote", b'"2014-04-02 00:00:00,1.0,1', None),
    ("nul_byte", b"2014-04-02 00:00:00,1.\x000,1", None),
    ("bare_cr", b"2014-04-02 00:00:00,1.0\r,1", None),
    *[(f"bytes{i}", b"2014-04-02 00:00:00," + bad + b",1", None)
      for i, bad in enumerate(BAD_BYTES)],
]
SERIES = corpus(SERIES_KINDS, SERIES_LINES, 2, 5, ".csv", b"timestamp,value\n", extra=[
    ("empty", b"", None), ("header_only", b"timestamp,value\n", None),
    ("no_value_column", b"timestamp\n1\n2\n", 1), ("duplicate_column", b"t,v,v\n1,2,3\n", 1),
    ("blank_header", b"\n1,2\n", 1)])

TEXT_LINES = ["To be, or not to be: that is the question:",
              "Whether 'tis nobler in the mind to suffer", "The slings and arrows"] * 3
TEXT_KINDS = [(f"bytes{i}", b"some " + bad + b" text", None) for i, bad in enumerate(BAD_BYTES)]
TEXT = corpus(TEXT_KINDS, TEXT_LINES, 0, 4, ".txt", extra=[
    ("empty", b"", None), ("spaces_only", b"   \t \n", None), ("newlines_only", b"\n\n\r\n", None),
    ("bom_only", b"\xef\xbb\xbf", None)])

FORMATS = {
    "conllu": (CONLLU, read_conllu),
    "two_column": (TWO_COLUMN, read_two_column),
    "csv": (CSV, read_text_table),
    "tsv": (TSV, read_text_table),
    "time_series": (SERIES, lambda path: read_time_series(path, warn=False)),
    "text": (TEXT, lambda path: read_tokens(path, "char")),
}


def write_case(folder, name, payload):
    path = folder / name
    if payload is None:
        path.mkdir()
    else:
        path.write_bytes(payload)
    return path


def check_one_line_error(read, path, line, column):
    with pytest.raises(InputError) as caught:
        read(path)
    err = caught.value
    message = str(err)
    assert err.path == str(path), message
    assert message.startswith(f"{path}:") and "\n" not in message and "\r" not in message
    assert err.line == line, (message, line)
    if column is not None:
        assert err.column == column, (message, column)
    return message


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_reader_corpus(fmt, tmp_path):
    cases, read = FORMATS[fmt]
    assert len(cases) >= 30, len(cases)
    failures = []
    for name, payload, line, column in cases:
        path = write_case(tmp_path, name, payload)
        try:
            check_one_line_error(read, path, line, column)
        except (Exception, pytest.fail.Exception) as err:  # noqa: BLE001 - collect them all
            failures.append(f"{name}: {type(err).__name__}: {str(err)[:200]}")
    assert not failures, f"{len(failures)}/{len(cases)} {fmt} cases fail:\n" + "\n".join(failures)


def test_missing_file_is_one_line_for_every_reader(tmp_path):
    for fmt, (_, read) in FORMATS.items():
        check_one_line_error(read, tmp_path / f"missing-{fmt}", None, None)


CLI_APPS = {
    "conllu": (TaggerCommands(), CONLLU, []),
    "two_column": (TaggerCommands(), TWO_COLUMN, []),
    "csv": (ClassifierCommands(), CSV, []),
    "tsv": (ClassifierCommands(), TSV, []),
    "time_series": (DetectorCommands(), SERIES, ["--set", "window=2"]),
    "text": (LanguageModelCommands(), TEXT, ["--set", "window=4"]),
}


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("fmt", sorted(CLI_APPS))
def test_cli_subset_exits_2_and_keeps_earlier_output(fmt, tmp_path):
    app, cases, flags = CLI_APPS[fmt]
    out = tmp_path / "run"
    (out / "logs").mkdir(parents=True)
    for name, payload in [("model.keras", b"earlier model"), ("metrics.json", b"{}\n"),
                          ("config.json", b"{}\n"), ("logs/events", b"earlier events")]:
        (out / name).write_bytes(payload)
    before = snapshot(out)
    for name, payload, line, _ in cases[::7]:
        path = write_case(tmp_path, name, payload)
        assert_input_error(app, ["train", "--train", path, "--out", out, *flags], path, line)
        assert snapshot(out) == before, name


SHORT_INPUTS = [
    (LanguageModelCommands(), "short.txt", b"tiny\n", ["--set", "window=64"]),
    (LanguageModelCommands(), "short_dev.txt", b"x" * 300 + b"\n",
     ["--set", "window=64", "--set", "dev_fraction=0.1"]),
    (DetectorCommands(), "short.csv", b"t,v\n1,1\n2,2\n3,3\n", ["--set", "window=8"]),
    (ClassifierCommands(), "one_class.csv", b"text,label\na,pos\nb,pos\n", []),
    (ClassifierCommands(), "multi_label.csv", b"text,toxic,insult\na,1,0\nb,2,1\n", []),
]


@pytest.mark.parametrize("app,name,payload,flags", SHORT_INPUTS)
def test_well_formed_but_unusable_inputs(app, name, payload, flags, tmp_path):
    path = write_case(tmp_path, name, payload)
    out = tmp_path / "run"
    line = assert_input_error(app, ["train", "--train", path, "--out", out, *flags], path)
    assert not out.exists(), line
