"""The epoch loop behind ``train --distribute mirrored|multi_worker``.

It does what ``Application.train`` does with ``fit()`` -- the same ``train_step`` and
``test_step``, the same :class:`TrainingState` (checkpoints, best model on dev, early
stopping, step-level saves, mid-epoch resume), the same callbacks from
:func:`applications.core.epochs.epoch_callbacks` (the epoch's data order, TensorBoard, memory
release, time budget) plus a progress bar -- but drives the steps with ``strategy.run``:
each global batch is split across the replicas and their gradients are summed
(:mod:`applications.core.distributed` says why and what it corrects).

Files: the chief writes the real paths; every other worker writes its own copies under
``out_dir/workertemp_<name>/`` and keeps them, so it can resume without shared storage.
Checkpoints are numbered by optimizer step; on resume a worker restores the newest it can
read (its own, or the chief's when storage is shared) and all workers check that they agree.

Preemption: ``tf.distribute.experimental.PreemptionCheckpointHandler`` catches SIGTERM. When
any worker gets one, all agree on a step, save a checkpoint there and exit with
:data:`RESTART_EXIT_CODE`; the same command run again on every host continues mid-epoch.
"""

import os
import shutil
import sys
import tempfile

import keras
import tensorflow as tf

from applications.core import progress
from applications.core.checkpoints import checkpoints_on_disk
from applications.core.config import UsageError
from applications.core.distributed import (any_worker, clip_after_all_reduce,
                                           distribute_dataset, gather_from_workers,
                                           replica_step, share_rule)
from applications.core.epochs import epoch_callbacks, training_state

RESTART_EXIT_CODE = 42


def train_with_strategy(model, strategy, role, train_data, dev_data, out_dir, epochs,
                        callbacks=(), verbose=None, order=None):
    """``Application.train`` under ``strategy``; returns the history as a dict of lists.

    ``order`` is the :class:`~data.epoch_order.EpochOrder` ``train_data`` was built with;
    the loop sets it to each epoch's number as the epoch begins. The caller loads the best
    model back (``Application.train``).
    """
    with strategy.scope():
        if not model.compiled:
            model.compile_for_training()
        model.build_from_batch(next(iter(train_data)))
        clip_after_all_reduce(model.optimizer)
        state = training_state(model, role.private_dir(out_dir), dev_data is not None)
        # The partial epoch's metric sums, so a mid-epoch resume reports the whole epoch.
        state.checkpoint.epoch_metrics = list(model.metrics_variables)
        _restore(state, role, out_dir, strategy)
        model.training_state = state
        if int(state.epoch.numpy()) >= epochs or state.stopped:
            return {}
        return _Loop(model, strategy, role, state, train_data, dev_data).run(
            epochs, callbacks, verbose, os.path.join(out_dir, "logs"), order)


def _restore(state, role, out_dir, strategy):
    state.restore()  # this worker's own directory, with TrainingState's torn-file fallback
    step = int(state.model.optimizer.iterations.numpy())
    if not role.chief:  # storage shared with the chief may hold a newer one: read, never write
        newer = [p for p in checkpoints_on_disk(os.path.join(out_dir, "checkpoints"))
                 if int(p.rsplit("-", 1)[1]) > step]
        for prefix in newer:
            try:
                state.checkpoint.restore(prefix).expect_partial()
                break
            except Exception:  # noqa: BLE001 - unreadable: the next older one, or our own
                state.restore()
    steps = gather_from_workers(strategy, state.model.optimizer.iterations.value)
    if len(set(steps)) > 1:
        raise UsageError(f"the workers restored different checkpoints (steps {steps}); give "
                         "every worker the chief's checkpoints folder, or start a new --out")


class _Loop:
    def __init__(self, model, strategy, role, state, train_data, dev_data):
        self.model, self.strategy, self.role, self.state = model, strategy, role, state
        rule = share_rule(model)
        self.train = distribute_dataset(strategy, train_data, rule)
        self.dev = distribute_dataset(strategy, dev_data, rule) if dev_data is not None else None
        self.train_steps = _count_batches(train_data)
        self.dev_steps = _count_batches(dev_data) if dev_data is not None else 0
        self.train_fn = replica_step(strategy, model.train_step)
        self.test_fn = replica_step(strategy, model.test_step)
        self.epoch = self.batches_done = 0

    def run(self, epochs, callbacks, verbose, log_dir, order):
        model, role = self.model, self.role
        if verbose is None:  # 0 under --quiet (applications/core/progress.py)
            verbose = progress.fit_verbose()
        # Only the chief logs: the others would write copies of the same summaries.
        callbacks = epoch_callbacks(model, order, self.state, log_dir if role.chief else None,
                                    self.dev is not None, callbacks)
        history = keras.callbacks.History()
        callbacks = keras.callbacks.CallbackList(
            [*callbacks, history], add_progbar=bool(verbose) and role.chief, model=model,
            verbose=verbose, epochs=epochs, steps=self.train_steps)
        scratch = tempfile.mkdtemp(prefix="encore-preemption-")
        # The handler only decides when to save and exit; saving is TrainingState's.
        handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            getattr(self.strategy, "cluster_resolver", None), tf.train.Checkpoint(),
            os.path.join(scratch, "unused"),
            tf.distribute.experimental.TerminationConfig(exit_fn=self._exit,
                                                         save_fn=self._save_preempted))
        model.stop_training = False
        try:
            callbacks.on_train_begin()
            for epoch in range(int(self.state.epoch.numpy()), epochs):
                logs = self._epoch(epoch, handler, callbacks)
                callbacks.on_epoch_end(epoch, logs)
                if callbacks.params["steps"] != self.train_steps:  # after a resumed epoch
                    callbacks.set_params({**callbacks.params, "steps": self.train_steps})
                if any_worker(self.strategy, model.stop_training):
                    break
            callbacks.on_train_end()
        finally:
            _stop_watching(handler)
            shutil.rmtree(scratch, ignore_errors=True)
        return history.history

    def _epoch(self, epoch, handler, callbacks):
        model, state = self.model, self.state
        self.epoch = epoch
        done = self.batches_done = state.steps_done
        if done:  # as fit_remaining does: the rest of the epoch is what the bar counts
            callbacks.set_params({**callbacks.params, "steps": self.train_steps - done})
        callbacks.on_epoch_begin(epoch)  # FollowEpoch sets the epoch's data order here
        if not done:
            model.reset_metrics()  # else they hold the restored partial epoch's sums
        iterator = iter(self.train)
        for _ in range(done):  # batches trained before the interruption
            next(iterator)
        for batch in range(self.train_steps - done):
            callbacks.on_train_batch_begin(batch)
            handler.run(self.train_fn, iterator)
            self.batches_done += 1
            callbacks.on_train_batch_end(batch, {})
        logs = _results(model)
        if self.dev is not None:
            callbacks.on_test_begin()
            model.reset_metrics()
            iterator = iter(self.dev)
            for _ in range(self.dev_steps):
                self.test_fn(iterator)
            val_logs = _results(model)
            callbacks.on_test_end(val_logs)
            logs.update({f"val_{name}": value for name, value in val_logs.items()})
        return logs

    def _save_preempted(self):
        # Called by the handler on every worker before the step they agreed on.
        state, steps = self.state, int(self.model.optimizer.iterations.numpy())
        state.step.assign(self.batches_done)
        if not (state.manager.latest_checkpoint or "").endswith(f"ckpt-{steps}"):
            state.save()  # numbered by optimizer step; an equal number holds this very state
        if self.role.chief:
            print(f"preempted: checkpoint saved at epoch {self.epoch + 1}, batch "
                  f"{self.batches_done}/{self.train_steps}; run the same command again on "
                  "every worker to continue", file=sys.stderr, flush=True)

    def _exit(self):
        sys.exit(RESTART_EXIT_CODE)


def _results(model):
    # Outside strategy.run a metric variable reads as its sum over replicas and workers.
    return {name: float(value) for name, value in model.get_metrics_result().items()}


def _count_batches(dataset):
    count = int(dataset.cardinality())
    if count >= 0:
        return count
    # Unknown size (e.g. a filter): one pass to count; every worker gets the same answer.
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def _stop_watching(handler):
    # The handler's watcher thread blocks on the coordination service until told to stop;
    # TensorFlow does that only in __del__, which the thread's own reference postpones.
    stop = getattr(handler, "_stop_cluster_wise_termination_watcher_thread", None)
    if stop is not None:
        stop()
