"""The ``train`` verb: options from defaults, ``--config``, ``--set`` and flags (or a resumed
run's), inputs read and checked before the first write, the folder's lock, then the
application's ``train()`` and the run's ``metrics.json``."""

import os
import time

from applications.core import progress
from applications.core.config import UsageError, load_config
from data.errors import InputError
from data.files import atomic_write_json, read_json

# The resumable state of a run, beside its checkpoints.
APP_STATE = "application.json"


# Options a resumed run may change; anything else would not match the checkpoint.
RESUMABLE_CHANGES = {"epochs", "patience", "jit_compile", "save_every_steps",
                     "steps_per_execution", "time_budget_minutes"}


def default_averages(app, config):
    """The ``ema_momentum`` values a run gets without asking: the application's default and
    its chosen encoder's recipe's."""
    defaults = app.config_class()
    encoder = getattr(config, "encoder", None)
    name = encoder.get("name") if isinstance(encoder, dict) else None
    recipe = defaults.ENCODER_RECIPES.get(name, {})
    return {defaults.ema_momentum, recipe.get("ema_momentum", defaults.ema_momentum)}


def training_config(app, args, saved=None):
    """The config from defaults (or the resumed run's), ``--config``, ``--set`` and flags."""
    base = app.config_class.from_dict(saved) if saved else None
    config = load_config(app.config_class, args.config, args.set, base=base)
    flags = {flag: getattr(args, flag) for flag in ("epochs", "batch_size", "seed")
             if getattr(args, flag, None) is not None}
    if flags:  # checked as the same options in a file would be
        config = app.config_class.from_dict(
            {**config.to_dict(), **flags},
            source=", ".join(f"--{flag.replace('_', '-')}" for flag in flags))
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
        if saved or config.ema_momentum not in default_averages(app, config):
            raise UsageError("ema_momentum is not supported with --distribute; set it to 0")
        # The application's default average is left out rather than refusing the run.
        progress.line(f"--distribute: weight averaging off (ema_momentum={config.ema_momentum:g} "
                      "is this application's default, not supported across workers)")
        config.ema_momentum = 0.0
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
    state = model.training_state
    if not history and _finished_before(args.out, state):
        progress.line(f"nothing left to train in {args.out}: its run ended after "
                      f"{int(state.epoch.numpy())} epochs (best {state.monitor} = "
                      f"{state.best_score}); raise --epochs, patience or time_budget_minutes "
                      "to train on")
        return
    metrics = {
        "monitor": state.monitor,
        "best": state.best_score,
        "epochs_completed": int(state.epoch.numpy()),
        "stopped_early": state.stopped,
        "train_seconds_this_run": round(time.time() - started, 2),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
    }
    if state.best_score is None:  # before after_training, which reads model.keras
        atomic_write_json(os.path.join(args.out, "metrics.json"), metrics)
        raise InputError(f"no epoch scored a finite {state.monitor} (the loss was NaN or "
                         "infinite: look at the data's scale, or lower learning_rate); no "
                         "model.keras was written", args.out)
    metrics.update(app.after_training(model, args, config) or {})
    atomic_write_json(os.path.join(args.out, "metrics.json"), metrics)
    progress.line(f"saved {os.path.join(args.out, 'model.keras')} "
                  f"(best {state.monitor} = {state.best_score})")


def _finished_before(out, state):
    """Whether an earlier run finished where ``state`` stands: its ``metrics.json`` counts
    the same epochs (a run killed after its last epoch but before writing it did not)."""
    path = os.path.join(out, "metrics.json")
    try:
        return read_json(path).get("epochs_completed") == int(state.epoch.numpy())
    except (OSError, ValueError, InputError, AttributeError):
        return False


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
