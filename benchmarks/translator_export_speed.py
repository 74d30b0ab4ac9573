"""Decoding speed of a trained translator's export: sentences per second, greedy and beam.

Exports the model with the translator's own ``export`` command, loads the SavedModel the
way a user's program does (``applications.core.api.load_exported``, which calls the
``translate`` signature of ``tf.saved_model.load``) and translates every source sentence
in the ``predict`` command's batches (64 rows: 64 sentences greedy, 64 // beam with a beam),
after one warm-up batch; with ``--ref``, also the BLEU of what it wrote:

    python benchmarks/translator_export_speed.py --model runs/m30k-transformer/model \\
        --src ../shared/data/multi30k/val.de --ref ../shared/data/multi30k/val.en

Prints JSON (and writes it to ``--out`` when given).
"""

import argparse
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO]

from benchmarks.translator_bleu import cli, read_lines  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained translator's folder")
    parser.add_argument("--src", required=True, help="source sentences, one per line")
    parser.add_argument("--ref", help="reference translations, for BLEU")
    parser.add_argument("--beams", default="1,5")
    parser.add_argument("--out")
    args = parser.parse_args()

    from applications.core.api import load_exported

    sources = read_lines(args.src)
    results = {"sentences": len(sources)}
    with tempfile.TemporaryDirectory() as folder:
        export = os.path.join(folder, "export")
        cli("export", "--model", args.model, "--out", export)
        translator = load_exported(export)
        for beam in map(int, args.beams.split(",")):
            translator.predict(sources[:64], beam_size=beam, length_penalty=1.0)  # warm-up
            started = time.perf_counter()
            outputs = translator.predict(sources, beam_size=beam, length_penalty=1.0)
            seconds = time.perf_counter() - started
            entry = {"seconds": round(seconds, 2),
                     "sentences_per_second": round(len(sources) / seconds, 1)}
            if args.ref:
                import sacrebleu

                entry["bleu"] = round(sacrebleu.corpus_bleu(
                    outputs, [read_lines(args.ref)]).score, 2)
            results[f"beam{beam}"] = entry
    text = json.dumps(results, indent=2)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
