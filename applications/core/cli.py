"""The one command line every application shares: ``train | evaluate | predict | export``,
plus the verbs the launcher adds (:class:`Verb`, such as the tuner's ``tune``) and the
application's own.

An application describes itself with an :class:`AppCommands` object; the launcher
(:mod:`applications.main`, behind ``encore`` and every ``python -m applications.<app>``)
calls :func:`main` with it. User mistakes end as ``error: FILE:LINE: message`` on stderr and
exit code 2; anything else is a bug and keeps its traceback.
"""

import argparse
import io
import json
import os
import sys

from applications.core import progress
from applications.core.config import UsageError
from applications.core.train_run import run_train
from data.errors import InputError
from data.files import DiskFullError, disk_full_reason, is_disk_full

# The verbs every application has, in the order ``--help`` lists them.
SHARED_VERBS = ("train", "evaluate", "predict", "export")


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


class AppCommands:
    """What an application plugs into the shared command line.

    Subclasses set ``name``, ``config_class`` and ``model_class`` and implement the hooks.
    ``read_training_data`` must read and check every input file before anything is
    written, so a run that fails on bad input leaves ``--out`` untouched.
    """

    name = None
    config_class = None
    model_class = None

    def add_arguments(self, verb, parser):
        """Add application-specific flags to ``verb``'s parser."""

    def read_training_data(self, args, config, metadata=None, order=None):
        """Return ``(metadata, train_dataset, dev_dataset_or_None)``.

        ``order`` is the run's :class:`~data.epoch_order.EpochOrder`: the training dataset
        shuffles with it, and the trainer sets it to each epoch's number.
        """
        raise NotImplementedError

    def after_training(self, model, args, config):
        """Run once ``train()`` has finished (``out_dir/model.keras`` is the best model).

        For work that needs the trained model, such as choosing a decision threshold on
        the training data; returns a dict merged into ``metrics.json``, or None.
        """
        return None

    def prepare_model(self, model, args, config):
        """Run on the newly built model before anything is written (e.g. load initial weights).

        Raise InputError or UsageError here to stop the run with ``--out`` untouched.
        """

    def evaluate(self, model, args):
        """Return a dict of metrics."""
        raise NotImplementedError

    def predict(self, model, args, out):
        raise NotImplementedError

    def extra_verbs(self):
        """``{verb: (add_arguments(parser), run(args) -> exit code)}`` beyond the shared ones."""
        return {}


class Verb:
    """A verb every application gets from a package above the core (the tuner's ``tune``).

    Args:
        name: the verb on the command line.
        help: one line for ``--help``.
        add_arguments: ``add_arguments(app, parser)`` adds the verb's flags for ``app``.
        run: ``run(app, args)`` runs it; returns the exit code (None means 0).
    """

    def __init__(self, name, help, add_arguments, run):
        self.name, self.help = name, help
        self.add_arguments, self.run = add_arguments, run


def build_parser(app, added_verbs=(), prog=None):
    """The parser of ``app``'s command line with ``added_verbs`` (:class:`Verb`) added.

    Returns ``(parser, {verb name: run(args)})`` for the verbs beyond train, evaluate,
    predict and export.
    """
    parser = ArgumentParser(prog=prog or f"python -m applications.{app.name}")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=ArgumentParser)

    train = verbs.add_parser("train", help="train (or resume training) a model")
    train.add_argument("--train", help="training file (default: the embedded sample corpus)")
    train.add_argument("--dev", help="development file for early stopping and the best model")
    train.add_argument("--out", required=True, help="application directory to write")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--config", help="JSON file of options")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one option, e.g. encoder.nodes=[256,256]")
    train.add_argument("--seed", type=int)
    train.add_argument("--deterministic", action="store_true",
                       help="use TensorFlow's deterministic ops (slower)")
    train.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads for TensorFlow's ops (default: all cores)")
    train.add_argument("--restart", action="store_true",
                       help="start afresh: delete the run's own checkpoints and model in "
                            "--out instead of resuming them")
    train.add_argument("--distribute", choices=["none", "mirrored", "multi_worker"],
                       default="none",
                       help="data-parallel tf.distribute training: mirrored = this host's "
                            "GPUs (or 2 CPU devices); multi_worker = the hosts in TF_CONFIG")

    evaluate = verbs.add_parser("evaluate", help="score a model on a labelled file")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", help="labelled file (default: the embedded sample dev set)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    predict = verbs.add_parser("predict", help="run a model on new inputs")
    predict.add_argument("--model", required=True)
    predict.add_argument("--input", default="-", help="input file, or - for stdin")

    export = verbs.add_parser("export", help="write a TensorFlow SavedModel")
    export.add_argument("--model", required=True)
    export.add_argument("--out", required=True)

    for verb, sub in (("train", train), ("evaluate", evaluate), ("predict", predict),
                      ("export", export)):
        app.add_arguments(verb, sub)
    runners = {}
    for verb in added_verbs:
        verb.add_arguments(app, verbs.add_parser(verb.name, help=verb.help))
        runners[verb.name] = lambda args, verb=verb: verb.run(app, args)
    for verb, (add_arguments, run) in app.extra_verbs().items():
        # The first line of the verb's docstring is its line in ``--help``.
        summary = (run.__doc__ or "").strip().splitlines()
        add_arguments(verbs.add_parser(verb, help=summary[0] if summary else None))
        runners[verb] = run
    for sub in verbs.choices.values():
        sub.add_argument("--quiet", action="store_true",
                         help="no progress on stderr (errors are still reported)")
    return parser, runners


def main(app, argv=None, added_verbs=(), prog=None):
    """Run one command of ``app`` (``argv``, default ``sys.argv[1:]``); returns the exit code.

    Args:
        app: the application's :class:`AppCommands`.
        argv: the verb and its flags.
        added_verbs: :class:`Verb` objects beyond the four shared verbs (the launcher passes
            the tuner's ``tune``).
        prog: the command's name in usage lines (default ``python -m applications.<app>``).
    """
    args = None
    try:
        parser, extra = build_parser(app, added_verbs, prog)
        args = parser.parse_args(argv)
        progress.set_enabled(not args.quiet)
        if args.verb in extra:
            code = extra[args.verb](args) or 0
        else:
            code = {"train": run_train, "evaluate": run_evaluate, "predict": run_predict,
                    "export": run_export}[args.verb](app, args) or 0
        sys.stdout.flush()  # here, where a closed pipe is caught below
        return code
    except BrokenPipeError:
        # Whoever read stdout stopped (`predict ... | head`): end quietly with the status of
        # a process stopped by SIGPIPE, as Unix tools do.
        _silence_stdout()
        return 141
    except (InputError, UsageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        # A full disk met by a writer that does not say so itself (TensorFlow's, Keras').
        if not is_disk_full(err):
            raise
        where = (getattr(err, "filename", None) or getattr(args, "out", None)
                 or getattr(args, "dir", None))
        print(f"error: {DiskFullError(where, disk_full_reason(err))}", file=sys.stderr)
        return 2


def _silence_stdout():
    """Point stdout at the null device, so Python's flush at exit has nowhere to fail."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a file descriptor (a test's StringIO): nothing is flushed at exit


def run_evaluate(app, args):
    from applications.core.base import load_model

    model = load_model(args.model)
    results = app.evaluate(model, args)
    if args.json:
        print(json.dumps(results, sort_keys=True))
    else:
        for key, value in results.items():
            print(f"{key}: {value}")


def run_predict(app, args):
    from applications.core.base import load_model

    model = load_model(args.model)
    app.predict(model, args, sys.stdout)


def run_export(app, args):
    from applications.core.base import load_model
    from applications.core.serving import export
    from applications.core.outputs import check_apart, prepare_export

    check_apart(args.out, args.model)
    prepare_export(args.out)  # refuses a target that is not ours before the model loads
    model = load_model(args.model)
    export(model, args.out)
    progress.line(f"exported SavedModel to {args.out}")
