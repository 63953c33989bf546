"""Where a stage runs: the tf.distribute strategy and, across machines, which worker this
process is (its precision: `c2fdan_tf.precision`).

`--strategy=multi_worker` reads the cluster from the `TF_CONFIG` environment variable, as
every TensorFlow multi-worker job does:

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}'

Worker 0 (or a "chief" task) is the chief: it writes the stage's files.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys

import tensorflow as tf

from c2fdan_tf import console

STRATEGIES = ("default", "mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """This process' place in a multi-worker cluster (`name` None: a single process)."""

    name: str | None = None
    is_chief: bool = True
    peers: tuple = ()

    @property
    def multi_worker(self):
        return self.name is not None


def worker_role(strategy_name, environ=None):
    """The role TF_CONFIG gives this process under `strategy_name` (read without starting
    TensorFlow's cluster, so a finished stage is skipped without waiting for the peers)."""
    if strategy_name != "multi_worker":
        return WorkerRole()
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not text:
        raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable (see README, "
                         "'Training on several machines').")
    try:
        spec = json.loads(text)
        cluster, task = spec["cluster"], spec["task"]
        kind, index = str(task["type"]), int(task["index"])
        addresses = list(cluster[kind])
        addresses[index]
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise ValueError(f"TF_CONFIG is not a valid cluster description ({type(error).__name__}: {error}).") from None
    is_chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    mine = addresses[index]
    peers = tuple(a for role in cluster.values() for a in role if a != mine)
    return WorkerRole(f"{kind}-{index}", is_chief, peers)


def local_cluster(count):
    """TF_CONFIG values for `count` workers on this host (free ports picked now): trying
    multi_worker on one machine, the tests and the benchmark."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    addresses = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    return [json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}})
            for i in range(count)]


@dataclasses.dataclass(frozen=True)
class Runtime:
    """The strategy a stage runs under, this process' role in it, and how its loop runs."""

    strategy: object
    role: WorkerRole = WorkerRole()
    backup_every_steps: int = 0  # 0: back up at the end of every epoch
    jit_compile: bool = False


def make_strategy(name, timeout_seconds=600):
    """The strategy `name`. multi_worker waits for every worker of TF_CONFIG; if they are not
    all reachable within `timeout_seconds`, the process prints one line naming the addresses
    it waited for and exits (TensorFlow's own wait has no bound)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        role = worker_role(name)
        # The constructor blocks until every worker has connected, holding the GIL (no Python
        # timer or signal handler runs), and TF's preemption notifier catches SIGTERM: a
        # separate watchdog process prints the one line and ends this one.
        message = (f"error: {role.name} waited {timeout_seconds:g} s for the other workers of TF_CONFIG "
                   f"({', '.join(role.peers)}) to start; start every worker with its TF_CONFIG (or raise "
                   "--worker_timeout).")
        watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(timeout_seconds), message],
                                    stdin=subprocess.DEVNULL, stderr=console.unfiltered_stderr())
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        finally:
            watchdog.kill()
            watchdog.wait()
    raise ValueError(f"Unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}.")


# argv: the pid to end, seconds, the line to print first.
_WATCHDOG = """import os, sys, time
time.sleep(float(sys.argv[2]))
print(sys.argv[3], file=sys.stderr, flush=True)
os.kill(int(sys.argv[1]), 9)
"""
