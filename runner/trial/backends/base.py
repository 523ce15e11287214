"""The small interface every backend implements, and what workers report back."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.host.proc import thread_wait_s
from runner.trial.values import ConfigError

ChunkFunction = Callable[[int, int], Any]
START_METHODS = ("fork", "spawn", "forkserver")


class WorkerError(RuntimeError):
    """A chunk could not be computed: the function raised, or its worker died."""


@dataclass(frozen=True)
class ChunkResult:
    """One chunk's partial result, the CPU seconds its worker spent, and when it began.

    ``began_at`` is a ``time.perf_counter()`` reading taken by the worker as it started the
    chunk. On Linux that clock is system-wide, so readings from worker processes compare
    with the dispatcher's. ``wall_s`` is how long the worker was busy with the chunk,
    ``worker`` names the thread or process that ran it (per-worker busy time, imbalance) and
    ``wait_s`` is how long that thread was runnable but waiting for a CPU meanwhile.
    """

    value: Any
    cpu_s: float
    began_at: float
    wall_s: float = 0.0
    worker: str = ""
    wait_s: float = 0.0


def default_worker_label() -> str:
    """``<pid>/<native thread id>``: tells apart the workers of a pool (threads or processes)."""
    return f"{os.getpid()}/{threading.get_native_id()}"


def timed_chunk(fn: ChunkFunction, start: int, end: int, worker: str | None = None) -> ChunkResult:
    """Run one chunk in the calling thread, measuring that thread's CPU time, the chunk's wall
    time and how long the thread waited for a CPU meanwhile."""
    waited = thread_wait_s()
    began = time.perf_counter()
    cpu0 = time.thread_time()
    value = fn(start, end)
    cpu = time.thread_time() - cpu0
    wall = time.perf_counter() - began
    return ChunkResult(value, cpu, began, wall, worker or default_worker_label(), thread_wait_s() - waited)


def deal_round_robin(chunks: Sequence[tuple[int, int]], workers: int) -> list[list[tuple[int, tuple[int, int]]]]:
    """Deal ``(index, chunk)`` pairs to workers like cards: worker ``w`` gets chunks ``w, w+workers, ...``.

    With as many chunks as workers each worker gets one (the classic scripts). Workers that
    would get nothing (fewer chunks than workers) are left out.
    """
    return [
        [(index, chunks[index]) for index in range(first, len(chunks), workers)]
        for first in range(min(workers, len(chunks)))
    ]


def describe_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Backend:
    """Runs the chunks of one repetition on ``workers`` threads or processes.

    Lifecycle: ``start()`` once per trial (pools and clusters get ready here, outside the
    timed repetitions), ``run()`` once per repetition, ``close()`` once at the end. Backends
    that create their workers inside every repetition (threading, multiprocessing: the
    classic scripts) set ``workers_per_repetition`` so that their start-up is reported from
    inside the repetition instead.

    ``run()`` receives the repetition's chunks (``chunks``, default one per worker) and
    returns one :class:`ChunkResult` per chunk, in chunk order. How chunks meet workers:

    * threading, multiprocessing: ``workers`` threads/processes are started, and the chunks
      are dealt to them round-robin up front (:func:`deal_round_robin`), as a hand-written
      script would split its work; a worker runs its chunks one after the other.
    * thread_pool, process_pool: the pool's ``workers`` take the next waiting chunk whenever
      they are free, so with more chunks than workers an unbalanced load evens out.
    * interpreters: like the pools, with subinterpreters (PEP 734) as the workers.
    * serial: one chunk, in the calling thread.
    """

    name: str = ""
    #: Its own config keys beyond ``name``: key -> (type, default), the one source of their defaults.
    #: ``check_options`` fills what a config lacks from it, and the Hydra schema its
    #: ``conf/backend/<name>.yaml`` extends is made from it (``runner.app.schema``). A type is one
    #: Hydra checks without changing a value (``str``, ``Optional[str]``), else ``Any``.
    OPTIONS: ClassVar[dict[str, tuple[Any, Any]]] = {}
    uses_workers: bool = True
    workers_per_repetition: bool = False
    # What the rest of parsweep needs to know of a backend, declared by the backend so that adding
    # one is its module plus its YAML: where it sits in report tables, what the plan's estimate
    # adds for it, and whether its workers are threads of one interpreter (one at a time under a GIL).
    table_order: int = 100
    startup_s: float = 0.0  # a trial's start-up beyond the fixed per-trial cost (pool, cluster)
    per_repetition_s: float = 0.0  # per worker and repetition, for workers started inside each repetition
    threads_of_one_interpreter: bool = False
    # What its workers are, for the verdict's kind-specific lines (GIL-bound threads, start-up,
    # subinterpreters, load imbalance): serial, threads, processes, subinterpreters or cluster.
    kind: str = "serial"
    # Whether its workers take the next waiting chunk when free (chunks=... evens out a load).
    takes_chunks: bool = False
    # Whether the fork servers import this module before forking, so that its trials start with it
    # loaded. Only what imports nothing heavy at module level (a cluster's client is imported by
    # ``start()``): whatever a fork server imports, every trial it forks carries.
    preload: bool = False
    # False when the workers live outside the trial's process tree (cluster daemons): their
    # CPU cannot be told apart from other processes', so that check is skipped.
    workers_in_process_tree: bool = True
    # Whether a trial's repetitions may be spread over fresh trial processes (repeats_per_process):
    # false where a start costs seconds and the workers live outside the trial process anyway.
    fresh_processes: bool = True

    def __init__(self, workers: int, options: Mapping[str, Any]) -> None:
        self.workers = workers
        self.options = dict(options)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the backend's own config keys (beyond ``name``); return plain data."""
        if options:
            key = next(iter(options))
            raise ConfigError(f"backend.{key}", options[key], f"{cls.name} takes no options")
        return {}

    @classmethod
    def interpreter_problem(cls) -> str | None:
        """None when the running interpreter can run this backend, else one line saying why.

        Asked by the interpreter probe (``runner.execute.interpreters``) inside each trial
        interpreter of a sweep before any trial runs, so a backend that needs what only some
        CPythons have is refused up front, naming ``python=...``.
        """
        return None

    def start(self) -> None:
        """Get workers ready (pools); nothing for backends that start workers per repetition."""

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        raise NotImplementedError

    def tags(self) -> dict[str, str]:
        """Facts about where the work runs, known after ``start()`` (clusters: ``cluster.*``)."""
        return {}

    def close(self) -> None:
        """Release every thread and process the backend started."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessBackend(Backend):
    """A backend that starts local processes: its one option is ``start_method``."""

    kind = "processes"
    OPTIONS: ClassVar[dict[str, tuple[Any, Any]]] = {"start_method": (str, "fork")}  # fork | spawn | forkserver

    def __init__(self, workers: int, options: Mapping[str, Any]) -> None:
        super().__init__(workers, options)
        self.context = multiprocessing.get_context(self.options["start_method"])

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        for key in options:
            if key not in cls.OPTIONS:
                raise ConfigError(f"backend.{key}", options[key], f"unknown key; {cls.name} takes: {', '.join(cls.OPTIONS)}")
        method = options.get("start_method", cls.OPTIONS["start_method"][1])
        if method not in START_METHODS:
            raise ConfigError("backend.start_method", method, f"must be one of: {', '.join(START_METHODS)}")
        return {"start_method": method}
