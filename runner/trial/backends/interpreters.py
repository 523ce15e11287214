"""``concurrent.futures.InterpreterPoolExecutor`` (PEP 734, CPython 3.14+), created once per trial.

Each worker is a subinterpreter with its own GIL, on a thread of the trial process: Python
code runs in parallel without worker processes and without a free-threaded build.

What crosses into a subinterpreter is shared or pickled: the chunk function travels by
reference (module and name) and is imported again inside each interpreter, which is why the
workloads' chunk functions are module-level; the :class:`ChunkResult` comes back pickled. A
subinterpreter starts from the interpreter's initial ``sys.path``, not the trial's, so each is
first given the trial's ``sys.path`` (that is how it finds parsweep's trial code and a custom
workload's modules).

Start-up happens in ``start()``, outside the timed repetitions, as for the pools: every one of
the ``workers`` interpreters is created and made to run at once (each readiness task waits, on
PEP 734 queues, until all have arrived), so ``startup_s`` holds it all.

Only where the trial's interpreter has ``concurrent.interpreters``: elsewhere
:meth:`InterpretersBackend.interpreter_problem` says why, and the interpreter probe refuses the
sweep before any trial runs. This module itself imports under any CPython >= 3.10, since the
launcher validates configs with it.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from typing import Any

from runner.trial.backends.base import ChunkFunction, ChunkResult, WorkerError, describe_exception, timed_chunk
from runner.trial.backends.pools import READY_TIMEOUT_S, PoolBackend

READY_POLL_S = 0.05


def interpreter_chunk(fn: ChunkFunction, start: int, end: int) -> ChunkResult:
    """Run one chunk inside a worker interpreter; the worker is named after that interpreter."""
    from concurrent import interpreters

    return timed_chunk(fn, start, end, f"interpreter-{interpreters.get_current().id}")


def arrive_and_wait(arrived: Any, go: Any, timeout_s: float) -> None:
    """Readiness task: say this interpreter runs, then hold it until every worker has said so."""
    arrived.put(None)
    go.get(timeout=timeout_s)


class InterpretersBackend(PoolBackend):
    name = "interpreters"
    kind = "subinterpreters"  # threads of the trial process, each running its own interpreter
    table_order = 30
    startup_s = 0.05

    @classmethod
    def interpreter_problem(cls) -> str | None:
        try:
            import concurrent.interpreters  # noqa: F401  (3.14 has InterpreterPoolExecutor with it)
        except ImportError:
            return (
                f"backend=interpreters needs concurrent.interpreters (CPython 3.14+); "
                f"this interpreter is {platform.python_implementation()} {platform.python_version()}"
            )
        return None

    def make_executor(self, barrier: Any = None) -> Executor:
        from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]  # 3.14+

        # The initializer runs inside each new interpreter and must itself be importable there
        # before sys.path is set: the builtin exec is, with the path as a literal in its code.
        executor: Executor = InterpreterPoolExecutor(
            max_workers=self.workers,
            thread_name_prefix="parsweep-interp",
            initializer=exec,
            initargs=(f"import sys; sys.path[:] = {list(sys.path)!r}",),
        )
        return executor

    def start(self) -> None:
        from concurrent import interpreters

        self.executor = self.make_executor()
        arrived, go = interpreters.create_queue(), interpreters.create_queue()
        futures = [self.executor.submit(arrive_and_wait, arrived, go, READY_TIMEOUT_S) for _ in range(self.workers)]
        try:
            self._wait_ready(arrived, futures)
        except BaseException as exc:
            raise WorkerError(f"the pool's interpreters did not start: {describe_exception(exc)}") from exc
        finally:
            for _ in futures:  # release whoever arrived, also on failure
                go.put(None)
        self._gather(futures)

    def _wait_ready(self, arrived: Any, futures: list[Future[Any]]) -> None:
        """Until every readiness task has arrived; raises what a failed one raised, or on time-out."""
        from concurrent import interpreters

        deadline = time.monotonic() + READY_TIMEOUT_S
        ready = 0
        while ready < self.workers:
            try:
                arrived.get(timeout=READY_POLL_S)
                ready += 1
                continue
            except interpreters.QueueEmpty:
                pass
            failed = next((f.exception() for f in futures if f.done() and f.exception() is not None), None)
            if failed is not None:
                raise failed
            if time.monotonic() > deadline:
                raise TimeoutError(f"{ready} of {self.workers} interpreters ready after {READY_TIMEOUT_S:g} s")

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        assert self.executor is not None, "start() first"
        futures = [self.executor.submit(interpreter_chunk, fn, start, end) for start, end in chunks]
        return self._gather(futures)


BACKEND = InterpretersBackend
