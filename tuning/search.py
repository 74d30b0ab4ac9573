"""What the ``tune`` verb runs (:mod:`tuning.verb` adds it to the command line): its flags,
the search, the results table and ``--export-best``."""

import contextlib
import io
import logging
import os
import sys

from applications.core import progress
from applications.core.config import UsageError
from data.errors import InputError
from data.files import atomic_write_json, read_json

SETTINGS_FILE = "tune.json"
# Settings a rerun in the same --dir must repeat; --max-trials may grow.
FIXED_SETTINGS = ("application", "tuner", "seed", "epochs", "executions_per_trial", "config",
                  "space")


def add_tune_arguments(parser):
    """The ``tune`` flags; the application adds its own input flags (as for ``train``)."""
    parser.add_argument("--train", help="training file (default: the embedded sample data)")
    parser.add_argument("--dev", help="development file; the objective is the dev score")
    parser.add_argument("--dir", required=True,
                        help="search directory: state, results.csv/json; rerun to resume")
    parser.add_argument("--tuner", choices=["random", "bayesian", "hyperband"],
                        default="random")
    parser.add_argument("--max-trials", type=int, default=10)
    parser.add_argument("--executions-per-trial", type=int, default=1,
                        help="models trained per trial; the objective is their mean")
    parser.add_argument("--epochs", type=int, help="epochs per trial (hyperband: at most)")
    parser.add_argument("--seed", type=int, help="seeds the search and every trial")
    parser.add_argument("--jit-compile", choices=["auto", "true", "false"], default="auto",
                        help="XLA; auto = only with a GPU (slower on CPU, measured)")
    parser.add_argument("--config", help="JSON file of base options")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one base option, e.g. char_dim=16")
    parser.add_argument("--space", action="append", default=[], metavar="NAME=V1,V2",
                        help="search only these values of one hyperparameter (one value "
                             "fixes it), e.g. encoder.units=64,128")
    parser.add_argument("--export-best", metavar="OUT",
                        help="write the best trial as an application directory and export "
                             "its SavedModel to OUT/saved_model")
    parser.add_argument("--worker-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="chief: hand a silent worker's trial to another after this long")
    parser.add_argument("--deterministic", action="store_true",
                        help="use TensorFlow's deterministic ops (slower)")


def run_tune(app, args):
    """Run (or resume) a search; returns the exit code.

    The chief (or a lone search) holds ``--dir``'s lock from its first write to the end
    (:mod:`applications.core.locks`): a second search into the same folder exits 2.
    """
    from applications.core import locks

    with locks.released_on_exit():
        return _run_tune(app, args)


def _run_tune(app, args):
    import keras_tuner
    import tensorflow as tf
    from keras_tuner.src import config as keras_tuner_config

    from applications.core import locks
    from applications.core.train_run import training_config
    from applications.core.outputs import check_export_target, check_search_target, overlaps
    from tuning.distributed import check_environment
    from tuning.hypermodel import ApplicationHyperModel
    from tuning.spaces import search_space
    from tuning.tuners import PROJECT, ApplicationTuner, check_state_files, make_oracle

    if args.max_trials < 1 or args.executions_per_trial < 1:
        raise UsageError("--max-trials and --executions-per-trial must be at least 1")
    for flag, path in (("--dir", args.dir), ("--export-best", args.export_best)):
        if path and os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"{flag} {path} is a file, not a directory")
    check_search_target(args.dir)
    if args.export_best:
        if overlaps(args.export_best, args.dir):
            raise UsageError(f"--export-best {args.export_best} is --dir, lies inside it or "
                             "holds it; give it a folder of its own (nothing was changed)")
        check_export_target(args.export_best, app.name)
    role = check_environment()
    if getattr(args, "out", None) is None:
        args.out = args.dir  # read_training_data hooks may name the run directory
    config = training_config(app, args)
    space = search_space(app.name, args.space)
    # XLA changes speed, not results: a rerun may switch it.
    base = {k: v for k, v in config.to_dict().items() if k != "jit_compile"}
    settings = {"application": app.name, "tuner": args.tuner, "seed": config.seed,
                "epochs": config.epochs, "executions_per_trial": args.executions_per_trial,
                "config": base, "space": sorted(args.space), "max_trials": args.max_trials}
    config.jit_compile = args.jit_compile
    settings_path = os.path.join(args.dir, SETTINGS_FILE)
    _check_same_search(settings_path, settings)
    check_state_files(args.dir)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()

    hypermodel = ApplicationHyperModel(app, args, config, space, args.jit_compile)
    monitor, mode = hypermodel.monitor
    objective = keras_tuner.Objective(monitor, direction=mode)
    # Keras Tuner reads seed 0 as "no seed", so the search seed is shifted by one.
    oracle = make_oracle(args.tuner, objective, args.max_trials, config.seed + 1, config.epochs)
    oracle.verbose = 0
    oracle_file = os.path.join(args.dir, PROJECT, "oracle.json")
    resuming = os.path.exists(oracle_file)
    _quiet_retracing_notes()
    if role != "worker":  # workers share the chief's --dir, writing their own trials
        locks.acquire(args.dir)  # the first write into --dir comes next
    # A failed trial's traceback goes to its trial.json, not to the terminal.
    keras_tuner_config.DEBUG = False
    try:
        # Keras Tuner prints to stdout ("Reloading Tuner from ..."); stdout is kept for the
        # results table, and --quiet silences it.
        with contextlib.redirect_stdout(sys.stderr if progress.enabled() else io.StringIO()):
            tuner = ApplicationTuner(oracle, hypermodel, args.dir, args.executions_per_trial,
                                     args.worker_timeout,
                                     log=sys.stderr if progress.enabled() else None)
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        if not resuming:
            raise
        first = str(err).strip().splitlines()[0].split(". ")[0][:200] if str(err).strip() \
            else ""
        raise InputError(f"cannot resume this search ({type(err).__name__}: {first}); "
                         "use a new --dir", oracle_file) from None
    if role != "worker":
        atomic_write_json(settings_path, settings)
    if resuming and role != "worker":
        done = sum(t.status in ("COMPLETED", "FAILED") for t in tuner.oracle.trials.values())
        progress.line(f"resuming the search in {args.dir}: {done} of {args.max_trials} "
                      "trials done")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            # A line per trial (the tuner's log); on a terminal, Keras' bar in each trial too.
            tuner.search(epochs=config.epochs, verbose=1 if progress.interactive() else 0)
    except RuntimeError as err:
        if "consecutive failures" not in str(err):
            raise
        lines = [l for l in str(err).strip().splitlines() if l.strip()]
        raise UsageError(f"{oracle.max_consecutive_failed_trials} trials in a row failed, "
                         f"the last with: {lines[-1].strip()[:300]}") from None
    if role == "worker":
        progress.line(f"worker {tuner.tuner_id}: no trials left")
        return 0
    return _report(app, args, tuner, hypermodel, list(space), objective)


def _report(app, args, tuner, hypermodel, space_names, objective):
    from tuning.results import render_table, save_results, trial_rows

    oracle = tuner.oracle
    rows = trial_rows(oracle, space_names)
    best = [t for t in oracle.get_best_trials(1) if t.status == "COMPLETED"]
    best_id = best[0].trial_id if best else None
    save_results(args.dir, rows, objective.name, objective.direction, best_id)
    print(render_table(rows, objective.name))
    if best:
        print(f"best: trial {best_id} {objective.name}={best[0].score:.4g}  "
              f"(results.csv and results.json in {args.dir})")
    if not best:
        print(f"error: no trial completed; see {args.dir}/search/trial_*/trial.json",
              file=sys.stderr)
        return 1
    if args.export_best:
        from tuning.export_best import export_best

        export_best(app, args, tuner, hypermodel, best[0], args.export_best)
    return 0


class _RetracingFilter(logging.Filter):
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_retracing_notes():
    # Every trial is a new model with new functions; TensorFlow counts them as retracing.
    import tensorflow as tf

    logger = tf.get_logger()
    if not any(isinstance(f, _RetracingFilter) for f in logger.filters):
        logger.addFilter(_RetracingFilter())


def _check_same_search(path, settings):
    if not os.path.exists(path):
        return
    saved = read_json(path)
    if not isinstance(saved, dict):
        raise InputError("not a search settings file (expected a JSON object)", path)
    changed = [k for k in FIXED_SETTINGS if saved.get(k) != settings[k]]
    if changed:
        raise UsageError(f"{os.path.dirname(path) or '.'} holds a search with different "
                         f"{', '.join(changed)}; rerun it with the same options or use a "
                         "new --dir")
