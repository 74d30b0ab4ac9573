"""Data-parallel training on TensorFlow's own engine: ``train --distribute none|mirrored|multi_worker``.

``mirrored`` is ``tf.distribute.MirroredStrategy`` over the GPUs of one host (or, with no GPU,
the CPU split into two logical devices); ``multi_worker`` is
``tf.distribute.MultiWorkerMirroredStrategy`` over the hosts named in ``TF_CONFIG``.

Keras 3.15's ``fit()`` fails under a 2-worker ``MultiWorkerMirroredStrategy`` ("Attempt to
convert a value (PerReplica...)"), so :mod:`applications.core.distributed_loop` runs the epochs
itself, calling the model's own ``train_step`` / ``test_step`` through ``strategy.run``. Three
things Keras gets wrong for a global batch split across replicas are put right here:

* **Splitting.** Every worker builds the same global batches (same seed, same order) and keeps
  only its replicas' rows of each, so a batch is split, never duplicated, even when buckets
  make batches of different sizes, and every worker runs the same number of steps.
* **Loss scale.** Keras divides each replica's mean loss by the number of replicas, which is the
  global mean only when every replica holds the same number of real tokens. Each replica's loss
  is scaled instead by its share of the global batch (its rows, or its sample-weight sum for
  ``mean_with_sample_weight`` losses), so the replicas' losses add up to the global batch's loss.
  The scale travels with the replica's part of the batch and is handed to the model's step as
  an argument (``train_step(batch, loss_share=scale)``).
* **Clipping.** Keras clips each replica's gradients before summing them; the sum is clipped here,
  as one worker would clip the gradient of the whole batch.
"""

import contextlib
import dataclasses
import json
import os
import socket

import tensorflow as tf

from applications.core import compat
from applications.core.config import UsageError

compat.check_keras()  # clip_after_all_reduce replaces private optimizer methods

MODES = ("none", "mirrored", "multi_worker")
# MirroredStrategy on a host without a GPU splits its CPU into this many logical devices.
CPU_REPLICAS = 2


def free_local_ports(count):
    """``count`` TCP ports on 127.0.0.1 that were free just now, for a local test cluster."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def create_strategy(mode):
    """The strategy for ``--distribute mode`` (None for ``none``).

    Call it before any other TensorFlow work in the process: ``MultiWorkerMirroredStrategy``
    must configure the runtime for collectives, and the CPU split must precede its start.
    """
    if mode in (None, "none"):
        return None
    if mode == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_local_devices())
    if mode == "multi_worker":
        read_tf_config(os.environ.get("TF_CONFIG"))
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UsageError(f"--distribute must be one of {', '.join(MODES)}, not {mode!r}")


def _local_devices():
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return [f"/gpu:{i}" for i in range(len(gpus))]
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(CPU_REPLICAS)])
    except RuntimeError:
        pass  # the runtime is already running (a second run in one process): use what exists
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def read_tf_config(text):
    """Check ``TF_CONFIG`` well enough to fail with one line instead of a hang or a traceback.

    Expected: ``{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker",
    "index": i}}`` (a ``chief`` job of one address may come first); the same cluster on
    every host, a different ``task`` on each.
    """
    if not text:
        raise UsageError("--distribute multi_worker needs TF_CONFIG, e.g. "
                         '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                         '"task": {"type": "worker", "index": 0}}')
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"TF_CONFIG is not valid JSON: {err}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise UsageError('TF_CONFIG needs a "cluster" object and a "task" object')
    unsupported = sorted(set(cluster) - {"worker", "chief"})
    if unsupported:
        raise UsageError(f"TF_CONFIG: job(s) {', '.join(unsupported)} are not supported; "
                         "multi_worker uses only worker (and optionally chief) jobs")
    for job, addresses in cluster.items():
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and ":" in a for a in addresses)):
            raise UsageError(f'TF_CONFIG: cluster "{job}" must be a list of "host:port" strings')
    kind, index = task.get("type"), task.get("index")
    if kind not in cluster:
        raise UsageError(f"TF_CONFIG: task type {kind!r} is not a job of the cluster "
                         f"({', '.join(sorted(cluster))})")
    if not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise UsageError(f"TF_CONFIG: task index {index!r} is out of range for "
                         f"{len(cluster[kind])} {kind} address(es)")
    return config


@dataclasses.dataclass
class WorkerRole:
    """Who this process is in the cluster.

    Attributes:
        chief: writes the real files (checkpoints, ``model.keras``, logs, metrics).
        name: e.g. ``worker1``; names a non-chief's private directory.
        workers: processes in the cluster.
    """

    chief: bool = True
    name: str = "chief"
    workers: int = 1

    def private_dir(self, out_dir):
        """Where this worker writes what the chief writes to ``out_dir``.

        TensorFlow's recipe: every worker takes part in saving, the others to paths of
        their own. Those are kept, so a worker can resume even if hosts share no storage.
        """
        return out_dir if self.chief else os.path.join(out_dir, f"workertemp_{self.name}")


def worker_role(mode):
    """This process's :class:`WorkerRole` for ``--distribute mode``, read from ``TF_CONFIG``.

    Known before the strategy exists, so bad options fail on every host before any connects.
    """
    if mode != "multi_worker":
        return WorkerRole()
    config = read_tf_config(os.environ.get("TF_CONFIG"))
    cluster, kind, index = config["cluster"], config["task"]["type"], config["task"]["index"]
    # TensorFlow's rule: the chief job if there is one, else worker 0.
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return WorkerRole(chief=chief, name=f"{kind}{index}",
                      workers=sum(len(addresses) for addresses in cluster.values()))


def scope(strategy):
    """``strategy.scope()``, or a no-op without a strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def share_rule(model):
    """How a replica's share of a global batch's loss is measured, from the compiled loss."""
    reduction = getattr(model.loss, "reduction", "sum_over_batch_size")
    if reduction == "mean_with_sample_weight":
        return "weights"
    return "sum" if reduction == "sum" else "rows"


def split_batches(dataset, replicas, first, count, rule):
    """Cut every global batch of ``dataset`` into ``replicas`` row ranges; keep ``count`` of them.

    Yields ``(part, scale)`` for replicas ``first .. first + count - 1`` in turn (the order in
    which ``distribute_datasets_from_function`` hands elements to local devices). ``scale``
    is ``replicas * share``: it turns Keras' ``loss / replicas`` into ``share * loss``, the
    part of the global batch's loss this replica holds.

    A batch with fewer rows than replicas leaves some replicas nothing; models cannot run on
    zero rows, so such a replica gets a copy of row 0 with scale 0 (no loss, no gradient)
    and, when the data has sample weights, weight 0 (no metric either). Data without sample
    weights counts that copy in its metrics; only batches smaller than the replica count do.
    """

    def pieces(*element):
        import keras

        batch = element if len(element) > 1 else element[0]
        x, y, weights = keras.utils.unpack_x_y_sample_weight(batch)
        rows = tf.shape(tf.nest.flatten(x)[0])[0]
        if rule == "weights" and weights is not None:
            as_float = tf.cast(weights, tf.float32)
            per_row = tf.reduce_sum(as_float, axis=tf.range(1, tf.rank(as_float)))
        else:
            per_row = tf.ones([rows], tf.float32)
        total = tf.reduce_sum(per_row)
        out = None
        for replica in range(first, first + count):
            start, end = rows * replica // replicas, rows * (replica + 1) // replicas
            empty = end <= start
            ids = tf.cond(empty, lambda: tf.zeros([1], tf.int32),
                          lambda: tf.range(start, end))
            part = _rows(x, ids), _rows(y, ids)
            if weights is not None:
                part += (_rows(weights, ids) * tf.cast(tf.logical_not(empty), weights.dtype),)
            if rule == "sum":
                scale = tf.where(empty, 0.0, 1.0)
            else:
                share = tf.math.divide_no_nan(tf.reduce_sum(per_row[start:end]), total)
                scale = replicas * share
            one = tf.data.Dataset.from_tensors((part, scale))
            out = one if out is None else out.concatenate(one)
        return out

    return dataset.flat_map(pieces)


def _rows(structure, ids):
    return tf.nest.map_structure(lambda t: tf.gather(t, ids), structure)


def distribute_dataset(strategy, dataset, rule):
    """``dataset``'s global batches, split across all replicas of ``strategy``."""

    def per_worker(context):
        local = context.num_replicas_in_sync // context.num_input_pipelines
        return split_batches(dataset, context.num_replicas_in_sync,
                             context.input_pipeline_id * local, local, rule).prefetch(2 * local)

    return strategy.distribute_datasets_from_function(per_worker)


def clip_after_all_reduce(optimizer):
    """Make ``optimizer`` clip the summed gradient, not each replica's part (Keras 3.15 order).

    ``BaseOptimizer.apply`` clips, then ``_backend_update_step`` all-reduces; here clipping is
    moved into the all-reduce, after the sum. Only this optimizer object is changed.
    """
    if not (optimizer.clipnorm or optimizer.global_clipnorm or optimizer.clipvalue):
        return
    clip, all_reduce = optimizer._clip_gradients, optimizer._all_reduce_sum_gradients

    def all_reduce_then_clip(grads_and_vars):
        pairs = list(all_reduce(grads_and_vars))
        kept = [i for i, (grad, _) in enumerate(pairs) if grad is not None]
        clipped = clip([pairs[i][0] for i in kept])
        for i, grad in zip(kept, clipped):
            pairs[i] = (grad, pairs[i][1])
        return pairs

    optimizer._clip_gradients = lambda grads: grads
    optimizer._all_reduce_sum_gradients = all_reduce_then_clip


def replica_step(strategy, step):
    """A ``tf.function`` running ``step`` (``model.train_step`` or ``test_step``) on the next
    global batch of a distributed iterator, each replica on its part.

    Each replica's step gets its loss factor as ``step(part, loss_share=scale)``
    (:func:`split_batches` says what ``scale`` is).
    """

    def on_replica(batch, scale):
        step(batch, loss_share=scale)

    @tf.function
    def run(iterator):
        batch, scale = next(iterator)
        strategy.run(on_replica, args=(batch, scale))

    return run


def any_worker(strategy, flag):
    """True on every worker if ``flag`` is true on any (so all stop at the same epoch)."""

    @tf.function
    def count(value):
        return strategy.reduce(tf.distribute.ReduceOp.SUM,
                               strategy.run(lambda: tf.identity(value)), axis=None)

    return bool(count(tf.constant(1.0 if flag else 0.0)).numpy() > 0)


def gather_from_workers(strategy, value):
    """``value`` (an int scalar) from every replica of every worker, as a list."""

    @tf.function
    def gather(value):
        return strategy.gather(strategy.run(lambda: tf.reshape(value, [1])), axis=0)

    return [int(v) for v in gather(tf.cast(value, tf.int64)).numpy()]
