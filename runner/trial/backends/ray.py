"""Ray tasks, one per chunk: a new local Ray instance per trial, or an existing cluster.

``backend.address`` null starts a local Ray instance of ``workers`` CPUs, bound to
127.0.0.1, for the trial (and stops it after); ``auto``, ``HOST:6379`` or ``ray://HOST:10001``
join an existing cluster. Either way the start or the connection, plus getting ``workers``
Ray worker processes running, is ``startup_s``; the timed repetitions only submit tasks
and gather their results.

(``import ray`` here is the Ray package: imports are absolute, this module is ``runner.trial.backends.ray``.)
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runner.trial.backends.base import ChunkFunction, ChunkResult, WorkerError, describe_exception
from runner.trial.backends.cluster import ClusterBackend, cluster_tags, remote_chunk, to_chunk_result

READY_TIMEOUT_S = 120.0
LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024  # partial sums are tiny; a small store starts faster


def _ready(hold_s: float) -> int:
    """Start-up task: holding its worker a moment makes concurrent ones land on distinct workers."""
    time.sleep(hold_s)
    return os.getpid()


class RayBackend(ClusterBackend):
    name = "ray"
    table_order = 60
    startup_s = 4.0
    package = "ray"

    def __init__(self, workers: int, options: Mapping[str, Any]) -> None:
        super().__init__(workers, options)
        self._task: Any = None

    def start(self) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from a benchmark
        address = self.options.get("address")
        if address is None and "ray" not in sys.modules:
            # Ray reads both when it is imported, hence before the import; values the user set
            # are kept. RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is Ray's switch for a one-machine
            # instance: every Ray process of the trial then listens on 127.0.0.1 only (without it
            # they listen on every interface, whatever ray.init's node address says).
            # RAY_AUTH_MODE=token asks by name for the token authentication Ray turns on for a
            # new local instance anyway: Ray then skips its notice that it did (a WARNING line per
            # trial otherwise). Both pinned by tests/test_cluster_ray.py.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            os.environ.setdefault("RAY_AUTH_MODE", "token")
        import ray

        common: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if address is None:
                ray.init(
                    address="local",  # never join a cluster that happens to run here
                    num_cpus=self.workers,
                    include_dashboard=False,
                    object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                    **common,
                )
            else:
                ray.init(address=address, **common)
        except Exception as exc:
            where = "start a local Ray instance" if address is None else f"connect to the Ray cluster at backend.address={address}"
            raise WorkerError(f"could not {where}: {describe_exception(exc)}") from exc
        self._task = ray.remote(num_cpus=1)(remote_chunk)
        ready = ray.remote(num_cpus=1)(_ready)
        try:
            ray.get([ready.remote(0.1) for _ in range(self.workers)], timeout=READY_TIMEOUT_S)
        except Exception as exc:
            raise WorkerError(f"Ray workers did not start: {describe_exception(exc)}") from exc
        nodes = [node for node in ray.nodes() if node.get("Alive")]  # type: ignore[no-untyped-call, unused-ignore]  # untyped third-party API
        self._tags = cluster_tags(
            "ray",
            address,
            nodes=len(nodes),
            hosts=[node.get("NodeManagerHostname") or node.get("NodeManagerAddress", "?") for node in nodes],
            cpus=float(ray.cluster_resources().get("CPU", 0)),  # type: ignore[no-untyped-call, unused-ignore]  # untyped third-party API
        )

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        assert self._task is not None, "start() first"
        import ray

        refs = [self._task.remote(fn, start, end) for start, end in chunks]
        try:
            raws = ray.get(refs)
        except Exception as exc:
            for ref in refs:
                ray.cancel(ref, force=True)
            cause = getattr(exc, "cause", None)
            raise WorkerError(describe_exception(cause if isinstance(cause, BaseException) else exc)) from exc
        here = socket.gethostname()
        return [to_chunk_result(raw, here) for raw in raws]

    def close(self) -> None:
        if self._task is None:
            return
        import ray

        self._task = None
        ray.shutdown()  # stops a local instance; only disconnects from an existing cluster


BACKEND = RayBackend
