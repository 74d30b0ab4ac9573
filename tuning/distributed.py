"""Chief/worker searches over Keras Tuner's gRPC oracle, with dead workers noticed.

The stock chief waits forever for a worker that died mid-trial: its trial stays "ongoing"
and its id stays registered. Here every worker sends a heartbeat every few seconds; the
chief hands the trial of a worker silent for ``worker_timeout`` seconds to the retry queue
(another worker runs it) and forgets that worker, so the search ends.

Set per process: ``KERASTUNER_TUNER_ID`` (``chief``, ``tuner0``, ``tuner1``, ...),
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``. The port has no authentication:
bind it to 127.0.0.1 or a private network.
"""

import os
import threading
import time
from concurrent import futures

from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief, oracle_client
from keras_tuner.src.engine import trial as trial_module
from keras_tuner.src.engine.oracle import synchronized

from applications.core import compat
from applications.core.config import UsageError

compat.check_keras_tuner()  # built on Keras Tuner's private gRPC oracle service

HEARTBEAT_KEY = "encore-tuner-id"
HEARTBEAT_SECONDS = 2.0


def check_environment():
    """The distributed role from the environment: ``None`` (alone), ``"chief"`` or ``"worker"``."""
    ip = os.environ.get("KERASTUNER_ORACLE_IP")
    if not ip:
        return None
    missing = [name for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID")
               if not os.environ.get(name)]
    if missing:
        raise UsageError(f"KERASTUNER_ORACLE_IP is set but {' and '.join(missing)} not; "
                         "set all three for a distributed search")
    if not os.environ["KERASTUNER_ORACLE_PORT"].isdigit():
        raise UsageError("KERASTUNER_ORACLE_PORT must be a port number, not "
                         f"{os.environ['KERASTUNER_ORACLE_PORT']!r}")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


class HeartbeatClient(oracle_client.OracleClient):
    """A worker's proxy to the chief's oracle that also tells the chief it is alive.

    Args:
        oracle: the worker's local oracle (only its objective and settings are used).
        interval: seconds between heartbeats.
    """

    def __init__(self, oracle, interval=HEARTBEAT_SECONDS):
        super().__init__(oracle)
        self._interval = interval
        self._beating = threading.Event()
        threading.Thread(target=self._beat, daemon=True, name="heartbeat").start()

    def _beat(self):
        import grpc

        request = protos.get_service().GetSpaceRequest()
        metadata = ((HEARTBEAT_KEY, self.tuner_id),)
        while not self._beating.wait(self._interval):
            try:
                self.stub.GetSpace(request, metadata=metadata, timeout=10)
            except grpc.RpcError:
                pass  # the chief is starting, busy or gone; the next beat tries again

    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == trial_module.TrialStatus.IDLE:
            time.sleep(1.0)  # others finish the last trials; ask again shortly
        return trial


class WatchfulServicer(oracle_chief.OracleServicer):
    """The chief's gRPC service, noting when each worker was last heard from."""

    def __init__(self, oracle):
        super().__init__(oracle)
        self.last_seen = {}

    def GetSpace(self, request, context):  # noqa: N802 - gRPC method name
        for key, value in context.invocation_metadata():
            if key == HEARTBEAT_KEY:
                self.last_seen[value] = time.monotonic()
        return super().GetSpace(request, context)

    def CreateTrial(self, request, context):  # noqa: N802 - gRPC method name
        self.last_seen[request.tuner_id] = time.monotonic()
        return super().CreateTrial(request, context)


@synchronized
def release_lost_workers(oracle, last_seen, timeout, started, log=None):
    """Forget workers silent for ``timeout`` seconds; queue their trials for another worker."""
    now = time.monotonic()
    for tuner_id in list(oracle.tuner_ids):
        if now - last_seen.get(tuner_id, started) <= timeout:
            continue
        oracle.tuner_ids.discard(tuner_id)
        trial = oracle.ongoing_trials.pop(tuner_id, None)
        if trial is not None:
            oracle._retry_queue.append(trial.trial_id)
            oracle.save()
        if log is not None:
            lost = f"; trial {trial.trial_id} goes back to the queue" if trial else ""
            print(f"worker {tuner_id} silent for {timeout:g} s{lost}", file=log, flush=True)


def serve_oracle(oracle, worker_timeout, log=None):
    """Serve ``oracle`` to the workers until every trial is done and every worker has left."""
    import grpc

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = WatchfulServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise UsageError(f"the chief cannot listen on {address} (in use, or not this host's "
                         "address)")
    server.start()
    if log is not None:
        print(f"chief: oracle listening on {address}", file=log, flush=True)
    started = time.monotonic()
    try:
        while True:
            time.sleep(0.5)
            release_lost_workers(oracle, servicer.last_seen, worker_timeout, started, log)
            if servicer.stop_triggered and oracle_chief.exit_chief(oracle):
                break
    finally:
        server.stop(grace=2).wait()
