"""Keras Tuner oracles and tuner with crash-safe state, honest resume and freed memory.

Three changes to the stock classes, each for a failure seen with them:

- State files (``oracle.json``, ``trial_*/trial.json``, ``tuner*.json``) are written to a
  temporary name and renamed, so a kill -9 never leaves half a JSON file.
- On reload, a trial whose file says COMPLETED is never run again, and a trial left RUNNING
  by a crash is run again even when the crash came before the oracle recorded it; so a
  resumed search ends with exactly ``max_trials`` trials.
- In chief/worker mode a worker asking for work while another still runs the last trials
  waits (IDLE) instead of leaving, so it can take over a trial whose worker died.
"""

import glob
import os
import time

import keras_tuner
from keras_tuner.src.engine import trial as trial_module
from keras_tuner.src.engine.oracle import synchronized

from applications.core import compat
from applications.core.config import UsageError
from applications.core.memory import resident_megabytes
from data.errors import InputError
from data.files import (DiskFullError, atomic_write_json, disk_full_reason, is_disk_full,
                        read_json)

compat.check_keras_tuner()  # the classes below extend Keras Tuner's private methods

PROJECT = "search"
Status = trial_module.TrialStatus


class TrialDiskFull(DiskFullError, keras_tuner.errors.FatalError):
    """A full disk during a trial: fatal to the search (Keras Tuner re-raises it), reported
    as one line like any :class:`~data.files.DiskFullError`."""


class SafeStateOracle:
    """Mixin for a Keras Tuner ``Oracle``: atomic state files and a crash-proof reload."""

    def save(self):
        atomic_write_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        atomic_write_json(path, trial.get_state())

    def reload(self):
        super().reload()
        # A trial can be written COMPLETED just before a crash stops the oracle's own file
        # from saying so: it is finished, not to be retried.
        done = {Status.COMPLETED, Status.FAILED}
        self._retry_queue = [t for t in dict.fromkeys(self._retry_queue)
                             if self.trials[t].status not in done]
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if trial.status in done and trial_id not in self.end_order:
                self.end_order.append(trial_id)
            # RUNNING on disk but in no queue: started just before the crash.
            if trial.status == Status.RUNNING and trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)
            if trial_id not in self.start_order:
                self.start_order.append(trial_id)
        # create_trial pops from the end: retry the oldest interrupted trial first.
        self._retry_queue.sort(reverse=True)

    @synchronized
    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == Status.STOPPED and self.ongoing_trials:
            # Others still run trials; if one of their workers dies, this one retries it.
            self.tuner_ids.add(tuner_id)
            return trial_module.Trial(self.get_space(), status=Status.IDLE)
        return trial


class RandomSearchOracle(SafeStateOracle, keras_tuner.oracles.RandomSearchOracle):
    pass


class HyperbandOracle(SafeStateOracle, keras_tuner.oracles.HyperbandOracle):
    pass


def _bayesian_oracle():
    import importlib.util

    if not all(importlib.util.find_spec(name) for name in ("scipy", "sklearn")):
        raise UsageError("--tuner bayesian needs scipy and scikit-learn: "
                         "pip install 'encore[bayesian]'")

    class BayesianOptimizationOracle(SafeStateOracle,
                                     keras_tuner.oracles.BayesianOptimizationOracle):
        pass

    return BayesianOptimizationOracle


def make_oracle(kind, objective, max_trials, seed, epochs):
    """``random``, ``bayesian`` or ``hyperband``, stopping after ``max_trials`` trials."""
    kwargs = dict(objective=objective, seed=seed, max_consecutive_failed_trials=3)
    if kind == "random":
        return RandomSearchOracle(max_trials=max_trials, **kwargs)
    if kind == "bayesian":
        return _bayesian_oracle()(max_trials=max_trials, **kwargs)
    if kind == "hyperband":
        oracle = HyperbandOracle(max_epochs=max(epochs, 2), factor=3, **kwargs)
        oracle.max_trials = max_trials
        return oracle
    raise UsageError(f"unknown tuner {kind!r}; use random, bayesian or hyperband")


class ApplicationTuner(keras_tuner.Tuner):
    """Runs trials of an :class:`~tuning.hypermodel.ApplicationHyperModel`.

    Adds to each trial's metrics its wall time (``seconds``) and the process's resident
    memory after it (``rss_mb``); handles Hyperband's ``tuner/epochs`` and continues a
    Hyperband trial from its parent's best weights; after each trial drops what TensorFlow
    would otherwise keep of it (:func:`forget_custom_gradients`; Keras Tuner itself clears
    the session before each build). ``on_trial_begin`` and ``on_trial_end`` print one line
    each to ``log``.

    Args:
        oracle: from :func:`make_oracle`.
        hypermodel: the application's hypermodel.
        directory: the search directory (``--dir``); state lives in ``directory/search``.
        executions_per_trial: models trained per trial; their scores are averaged.
        worker_timeout: chief/worker mode, seconds without a sign of life before a worker's
            trial is handed to another worker.
        log: a writable text stream for the progress lines.
    """

    def __init__(self, oracle, hypermodel, directory, executions_per_trial=1,
                 worker_timeout=60.0, log=None, **kwargs):
        self.worker_timeout = worker_timeout
        self.log = log
        self._parent_checkpoint = None
        super().__init__(oracle, hypermodel, directory=directory, project_name=PROJECT,
                         executions_per_trial=executions_per_trial, overwrite=False, **kwargs)
        if self._is_worker():
            from tuning.distributed import HeartbeatClient

            self.oracle = HeartbeatClient(self.oracle._oracle)

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        atomic_write_json(self._get_tuner_fname(), self.get_state())

    def search(self, *fit_args, **fit_kwargs):
        from keras_tuner.src.distribute import utils as dist_utils

        if dist_utils.is_chief_oracle():
            from tuning.distributed import serve_oracle

            self.save()
            serve_oracle(self.oracle, self.worker_timeout, self.log)
            return
        super().search(*fit_args, **fit_kwargs)

    def _build_hypermodel(self, hp):
        model = super()._build_hypermodel(hp)
        if self._parent_checkpoint:  # Hyperband: continue from the parent's best epoch.
            model.load_weights(self._parent_checkpoint)
        return model

    def _build_and_fit_model(self, trial, *fit_args, **fit_kwargs):
        # Each execution of a trial starts from other initial weights (seed + execution).
        self.hypermodel.execution = self._executions
        self._executions += 1
        return super()._build_and_fit_model(trial, *fit_args, **fit_kwargs)

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        values = trial.hyperparameters.values
        self._parent_checkpoint = None
        if "tuner/epochs" in values:
            fit_kwargs["epochs"] = values["tuner/epochs"]
            fit_kwargs["initial_epoch"] = values["tuner/initial_epoch"]
            parent = values.get("tuner/trial_id")
            if parent and os.path.exists(self._get_checkpoint_fname(parent)):
                self._parent_checkpoint = self._get_checkpoint_fname(parent)
            elif parent:  # the parent ran on another host: train this one from scratch
                fit_kwargs["initial_epoch"] = 0
        self._trial_started = time.monotonic()
        self._executions = 0
        registered = custom_gradient_names()
        try:
            results = super().run_trial(trial, *fit_args, **fit_kwargs)
        except Exception as err:
            # Keras Tuner counts a failed trial and goes on; a full disk fails every trial.
            if is_disk_full(err):
                raise TrialDiskFull(getattr(err, "path", None) or self.project_dir,
                                    disk_full_reason(err)) from None
            raise
        finally:
            forget_custom_gradients(registered)
            self.hypermodel.execution = 0
        seconds = round(time.monotonic() - self._trial_started, 2)
        rss = resident_megabytes()
        # Every execution carries the trial's totals, so their average is the total.
        return [{**r, "seconds": seconds, "rss_mb": rss} for r in results]

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._print(f"{trial_label(trial.trial_id, self.oracle.max_trials)} started "
                    f"({self.tuner_id})")

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        ended = self.oracle.get_trial(trial.trial_id)
        line = progress_line(ended, self.oracle, list(getattr(self.hypermodel, "space", ())))
        if ended.status != Status.COMPLETED:
            where = os.path.join(self.project_dir, f"trial_{trial.trial_id}", "trial.json")
            line += f"  (traceback in {where})"
        self._print(line)

    def _print(self, line):
        if self.log is not None:
            print(line, file=self.log, flush=True)


def progress_line(trial, oracle, names=()):
    """``trial 3/12 COMPLETED val_accuracy=0.9312 (best 0.9401) 41.2 s  encoder.cell=gru ...``"""
    from tuning.results import format_value

    objective = oracle.objective.name
    head = trial_label(trial.trial_id, oracle.max_trials)
    if trial.status == Status.COMPLETED:
        best = oracle.get_best_trials(1)
        best_score = best[0].score if best else None
        result = (f"{objective}={format_value(trial.score)} "
                  f"(best {format_value(best_score)})")
    else:
        message = (trial.message or "").strip().splitlines()
        result = message[-1] if message else ""
    seconds = trial.metrics.get_last_value("seconds") if trial.metrics.exists("seconds") \
        else None
    took = f" {seconds:.1f} s" if seconds is not None else ""
    values = trial.hyperparameters.values
    order = [n for n in names if n in values] + sorted(k for k in values if k not in names
                                                       and not k.startswith("tuner/"))
    values = " ".join(f"{k}={format_value(values[k])}" for k in order)
    return f"{head} {trial.status} {result}{took}  {values}"


def trial_label(trial_id, total):
    """``trial 3/12`` for trial id ``"02"`` (ids count from 0, people from 1)."""
    if str(trial_id).isdigit() and total:
        return f"trial {int(trial_id) + 1}/{total}"
    return f"trial {trial_id}"


def check_state_files(directory):
    """Read every state file of a previous search; a torn one, or a trial Keras Tuner cannot
    read, is an InputError naming it."""
    project = os.path.join(directory, PROJECT)
    paths = [os.path.join(project, "oracle.json"), *sorted(glob.glob(
        os.path.join(project, "tuner*.json"))), *sorted(glob.glob(
            os.path.join(project, "trial_*", "trial.json")))]
    for path in paths:
        state = read_json(path) if os.path.exists(path) else {}
        if not isinstance(state, dict):
            raise InputError("not a search state file (expected a JSON object)", path)
        if os.path.basename(path) == "trial.json":
            try:
                trial_module.Trial.from_state(state)
            except (KeyError, ValueError, TypeError, AttributeError) as err:
                raise InputError(f"not a trial Keras Tuner can read ({type(err).__name__}: "
                                 f"{str(err)[:100]})", path) from None


def _gradient_registry():
    from tensorflow.python.framework import ops

    return getattr(getattr(ops, "_gradient_registry", None), "_registry", None)


def custom_gradient_names():
    """Names in TensorFlow's global gradient registry now (see :func:`forget_custom_gradients`)."""
    registry = _gradient_registry()
    return set(registry) if registry is not None else set()


def forget_custom_gradients(before):
    """Drop the ``CustomGradient-N`` entries registered since ``before`` was taken.

    Every traced train step registers custom gradients (``ReplicaContext.all_reduce``) in
    a process-wide registry that is never emptied, and each entry holds the whole traced
    graph: 4-20 MB per trial here, the leak of keras-team/keras#17458. Once a trial's
    functions are traced, its entries are not needed again.
    """
    registry = _gradient_registry()
    if registry is None:
        return
    for name in set(registry) - before:
        if name.startswith("CustomGradient-"):
            del registry[name]

