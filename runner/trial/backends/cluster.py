"""What the cluster backends (``ray``, ``dask``) share: their options, the task they run,
and the facts about the cluster they report as tags.

Kept free of ``import ray`` / ``import distributed``: validating a sweep imports backend
modules, and neither package should be loaded (or even installed) until a trial uses it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from runner.trial.backends.base import Backend, ChunkFunction, ChunkResult
from runner.trial.values import ConfigError

INSTALL_HINT = "pip install 'parsweep[cluster]'"

# What a chunk task sends back: value, CPU seconds, start on the worker's perf_counter and
# wall clock, busy seconds, the worker's host name and its label (host/pid/thread).
RawChunk = tuple[Any, float, float, float, float, str, str]


class ClusterBackend(Backend):
    """A backend whose workers belong to a cluster (Ray, Dask): ``address`` is its one option,
    ``package`` must be installed, and the cluster's facts become the trial's tags."""

    package: str = ""
    # address: null for a local cluster made for the trial, else the cluster's address
    # (Any: Hydra would turn address=5 into '5', which check_options refuses as it is)
    OPTIONS: ClassVar[dict[str, tuple[Any, Any]]] = {"address": (Any, None)}
    kind = "cluster"
    fresh_processes = False  # a cluster starts in seconds, and its workers are its own processes
    takes_chunks = True
    workers_in_process_tree = False  # their CPU is not the trial tree's (runner.execute.schedule)

    def __init__(self, workers: int, options: Mapping[str, Any]) -> None:
        super().__init__(workers, options)
        self._tags: dict[str, str] = {}

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """``address`` (null: a local cluster made for the trial) and nothing else; the package installed."""
        for key in options:
            if key not in cls.OPTIONS:
                raise ConfigError(f"backend.{key}", options[key], f"unknown key; {cls.name} takes: {', '.join(cls.OPTIONS)}")
        address = options.get("address")
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ConfigError("backend.address", address, "must be a cluster address, or null for a local cluster")
        if importlib.util.find_spec(cls.package) is None:
            raise ConfigError("backend", cls.name, f"needs the '{cls.package}' package: {INSTALL_HINT}")
        return {"address": address.strip() if address else None}

    def tags(self) -> dict[str, str]:
        return dict(self._tags)


def remote_chunk(fn: ChunkFunction, start: int, end: int) -> RawChunk:
    """The task a cluster worker runs for one chunk (module level: workers import it by name)."""
    began = time.perf_counter()
    began_wall = time.time()
    cpu0 = time.thread_time()
    value = fn(start, end)
    cpu_s = time.thread_time() - cpu0
    wall_s = time.perf_counter() - began
    host = socket.gethostname()
    return value, cpu_s, began, began_wall, wall_s, host, f"{host}/{os.getpid()}/{threading.get_native_id()}"


def to_chunk_result(raw: RawChunk, local_host: str) -> ChunkResult:
    """A worker's report in this process's terms.

    ``perf_counter`` is system-wide on one host, so a local worker's start time is used as is;
    another host's is translated through the wall clocks (as good as their synchronisation).
    """
    value, cpu_s, began, began_wall, wall_s, host, worker = raw
    if host != local_host:
        began = time.perf_counter() - (time.time() - began_wall)
    return ChunkResult(value, cpu_s, began, wall_s, worker)


def cluster_tags(kind: str, address: str | None, nodes: int, hosts: Iterable[str], cpus: float) -> dict[str, str]:
    """``cluster.*`` tags. ``cluster.name`` is what analysis groups trials by: the host name
    when the whole cluster is this host (its speedups compare with this host's serial runs),
    else ``kind@address``."""
    distinct = sorted(set(hosts))
    here = socket.gethostname()
    name = here if distinct == [here] else f"{kind}@{address or here}"
    return {
        "cluster.kind": kind,
        "cluster.address": address or "local",
        "cluster.name": name,
        "cluster.nodes": str(nodes),
        "cluster.hosts": ",".join(distinct),
        "cluster.cpus": f"{cpus:g}",
    }
