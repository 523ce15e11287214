"""Dask ``distributed`` futures, one per chunk: a ``LocalCluster`` per trial, or a scheduler.

``backend.address`` null starts a ``LocalCluster`` of ``workers`` single-threaded worker
processes on 127.0.0.1 for the trial (and closes it after); ``tcp://HOST:8786`` connects a
``distributed.Client`` to a running scheduler. The cluster start or the connection, until
the workers are there, is ``startup_s``.

(``import distributed`` here is Dask's package: imports are absolute, this module is
``runner.trial.backends.dask``.)
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from runner.trial.backends.base import ChunkFunction, ChunkResult, WorkerError, describe_exception
from runner.trial.backends.cluster import ClusterBackend, cluster_tags, remote_chunk, to_chunk_result

READY_TIMEOUT_S = 120.0


class DaskBackend(ClusterBackend):
    name = "dask"
    table_order = 70
    startup_s = 1.0
    package = "distributed"

    def __init__(self, workers: int, options: Mapping[str, Any]) -> None:
        super().__init__(workers, options)
        self.client: Any = None
        self.cluster: Any = None

    def start(self) -> None:
        from distributed import Client, LocalCluster

        address = self.options.get("address")
        try:
            if address is None:
                self.cluster = LocalCluster(  # type: ignore[no-untyped-call, unused-ignore]  # untyped third-party API
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=logging.WARNING,
                )
                self.client = Client(self.cluster)  # type: ignore[no-untyped-call, unused-ignore]  # untyped third-party API
                self.client.wait_for_workers(self.workers, timeout=READY_TIMEOUT_S)
            else:
                self.client = Client(address, timeout=f"{READY_TIMEOUT_S:g}s")  # type: ignore[no-untyped-call, unused-ignore]  # untyped third-party API
                self.client.wait_for_workers(1, timeout=READY_TIMEOUT_S)
        except Exception as exc:
            where = "start a Dask LocalCluster" if address is None else f"connect to the Dask scheduler at backend.address={address}"
            raise WorkerError(f"could not {where}: {describe_exception(exc)}") from exc
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        hosts = self.client.run(socket.gethostname)  # worker address -> host name
        self._tags = cluster_tags(
            "dask",
            address,
            nodes=len(set(hosts.values())),
            hosts=hosts.values(),
            cpus=float(sum(info.get("nthreads", 0) for info in workers.values())),
        )
        self._tags["cluster.workers"] = str(len(workers))

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        assert self.client is not None, "start() first"
        # pure=False: the same chunk twice is two computations, never a cached result.
        futures = [self.client.submit(remote_chunk, fn, start, end, pure=False) for start, end in chunks]
        try:
            raws = self.client.gather(futures)
        except Exception as exc:
            self.client.cancel(futures)
            raise WorkerError(describe_exception(exc)) from exc
        here = socket.gethostname()
        return [to_chunk_result(raw, here) for raw in raws]

    def close(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        try:
            if client is not None:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()


BACKEND = DaskBackend
