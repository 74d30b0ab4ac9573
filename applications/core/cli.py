"""The one command line every application shares: ``train | evaluate | predict | export``,
plus the verbs the launcher adds (:class:`Verb`, such as the tuner's ``tune``) and the
application's own.

An application describes itself with an :class:`AppCommands` object; the launcher
(:mod:`applications.main`, behind ``encore`` and every ``python -m applications.<app>``)
calls :func:`main` with it. User mistakes end as ``error: FILE:LINE: message`` on stderr and
exit code 2; anything else is a bug and keeps its traceback.
"""

import argparse
import json
import os
import sys
import time

from applications.core import progress
from applications.core.config import UsageError, load_config
from data.errors import InputError
from data.files import (DiskFullError, atomic_write_json, disk_full_reason, is_disk_full,
                        read_json)

APP_STATE = "application.json"
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
            return extra[args.verb](args) or 0
        return {"train": run_train, "evaluate": run_evaluate, "predict": run_predict,
                "export": run_export}[args.verb](app, args) or 0
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


# Options a resumed run may change; anything else would not match the checkpoint.
RESUMABLE_CHANGES = {"epochs", "patience", "jit_compile", "save_every_steps"}


def training_config(app, args, saved=None):
    """The config from defaults (or the resumed run's), ``--config``, ``--set`` and flags."""
    base = app.config_class.from_dict(saved) if saved else None
    config = load_config(app.config_class, args.config, args.set, base=base)
    for flag in ("epochs", "batch_size", "seed"):
        if getattr(args, flag, None) is not None:
            setattr(config, flag, getattr(args, flag))
    if saved:
        # Against the saved run's config with today's defaults for options it predates.
        before = base.to_dict()
        changed = sorted(k for k, v in config.to_dict().items()
                         if k not in RESUMABLE_CHANGES and before.get(k) != v)
        if changed:
            raise UsageError(f"{args.out} holds a run with different {', '.join(changed)}; "
                             "resume it with the same options or train into a new --out")
    return config


def run_train(app, args):
    """Train into ``args.out`` (resuming what is there), holding the folder's lock meanwhile.

    The lock is taken once the input is read and checked, just before the first write, so
    a run that fails on bad input leaves ``--out`` untouched (:mod:`applications.core.locks`).
    """
    from applications.core import locks

    with locks.released_on_exit():
        return _run_train(app, args)


def _run_train(app, args):
    import keras
    import tensorflow as tf

    from applications.core import distributed, locks, outputs
    from applications.core.fingerprints import check_same_data, training_fingerprints
    from data.epoch_order import EpochOrder

    set_cpu_threads(getattr(args, "threads", None))
    mode = getattr(args, "distribute", "none")
    role = distributed.worker_role(mode)  # a non-chief worker writes under a private folder
    # A run of another application is refused before its state is read as this one's.
    outputs.check_run_owner(role.private_dir(args.out), app.name)
    restart = getattr(args, "restart", False)
    state_path = os.path.join(role.private_dir(args.out), "checkpoints", APP_STATE)
    # Resuming: the architecture and vocabularies are the ones the checkpoint was made with.
    saved = read_json(state_path) if os.path.exists(state_path) and not restart else None
    if saved is not None and not isinstance(saved, dict):
        raise InputError("not a run state file (expected a JSON object)", state_path)
    config = training_config(app, args, saved["config"] if saved else None)
    if mode != "none" and config.ema_momentum:
        raise UsageError("ema_momentum is not supported with --distribute; set it to 0")
    # Before any other TensorFlow work: a multi-worker runtime is configured at start-up.
    strategy = distributed.create_strategy(mode)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    order = EpochOrder()  # set to each epoch's number by the trainer (model.train below)
    metadata, train_data, dev_data = app.read_training_data(
        args, config, saved["metadata"] if saved else None, order=order)
    # Once the files are read and checked (a broken file is named first): a resumed run
    # must go on with the same training data, by content.
    data = training_fingerprints(args)
    if saved:
        check_same_data(saved.get("data"), data, args.out)
    # What this process writes: the chief --out, another worker its private folder. Checked
    # after the input, so a broken file is named first whatever --out holds.
    outputs.check_run_target(role.private_dir(args.out), app.name)

    with distributed.scope(strategy):  # variables of a distributed model live on all replicas
        try:
            model = app.model_class(config.to_dict(), metadata)
        except ValueError as err:
            raise UsageError(f"bad model options: {err}") from None
        app.prepare_model(model, args, config)
    os.makedirs(args.out, exist_ok=True)
    # The first write: from here on this process is the folder's only writer.
    locks.acquire(role.private_dir(args.out))
    if restart:
        outputs.remove_run_files(role.private_dir(args.out))
    atomic_write_json(state_path, {"application": app.name, "config": config.to_dict(),
                                   "metadata": metadata, "data": data})
    if role.chief:
        atomic_write_json(os.path.join(args.out, "config.json"), config.to_dict())
    started = time.time()
    history = model.train(train_data, dev_data, args.out, config.epochs, strategy=strategy,
                          role=role, order=order)
    if not role.chief:
        return  # the chief writes the application directory; this worker keeps checkpoints
    extra = app.after_training(model, args, config) or {}
    state = model.training_state
    metrics = {
        "monitor": state.monitor,
        "best": state.best_score,
        "epochs_completed": int(state.epoch.numpy()),
        "stopped_early": state.stopped,
        "train_seconds_this_run": round(time.time() - started, 2),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
        **extra,
    }
    atomic_write_json(os.path.join(args.out, "metrics.json"), metrics)
    progress.line(f"saved {os.path.join(args.out, 'model.keras')} "
                  f"(best {state.monitor} = {state.best_score})")


def set_cpu_threads(threads):
    """Limit TensorFlow's intra- and inter-op thread pools to ``threads`` (None: no limit).

    Must run before TensorFlow's runtime starts, as ``train`` does first thing.
    """
    if threads is None:
        return
    if threads < 1:
        raise UsageError(f"--threads must be 1 or more, not {threads}")
    import tensorflow as tf

    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        if (threading.get_intra_op_parallelism_threads(),
                threading.get_inter_op_parallelism_threads()) != (threads, threads):
            raise UsageError("--threads: TensorFlow has already started in this process; "
                             "run the command in a new process") from None


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
