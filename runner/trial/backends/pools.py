"""What the two ``concurrent.futures`` pool backends share.

A pool is created once per trial in ``start()`` and every worker is made to exist before
the first repetition (``workers`` tasks wait at a barrier until all of them run at once),
so pool start-up is reported as ``startup_s`` and never lands in a timed repetition.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from typing import Any

from runner.trial.backends.base import Backend, ChunkFunction, ChunkResult, WorkerError, describe_exception, timed_chunk

READY_TIMEOUT_S = 120.0

# Per process by nature: a pool worker's initializer can only leave the barrier where the tasks it runs later find it.
_barrier: Any = None


def set_barrier(barrier: Any) -> None:
    """Pool initializer: keep the start-up barrier where the readiness task can reach it."""
    global _barrier
    _barrier = barrier


def wait_ready(_: int) -> None:
    _barrier.wait(READY_TIMEOUT_S)


class PoolBackend(Backend):
    takes_chunks = True
    executor: Executor | None = None

    def make_executor(self, barrier: Any) -> Executor:
        raise NotImplementedError

    def make_barrier(self) -> Any:
        return threading.Barrier(self.workers)

    def start(self) -> None:
        self.executor = self.make_executor(self.make_barrier())
        try:
            list(self.executor.map(wait_ready, range(self.workers)))
        except BaseException as exc:
            raise WorkerError(f"the pool's workers did not start: {describe_exception(exc)}") from exc

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        assert self.executor is not None, "start() first"
        futures = [self.executor.submit(timed_chunk, fn, start, end) for start, end in chunks]
        return self._gather(futures)

    @staticmethod
    def _gather(futures: list[Future[Any]]) -> list[ChunkResult]:
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as exc:
                for other in futures:
                    other.cancel()
                raise WorkerError(describe_exception(exc)) from exc
        return results

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
