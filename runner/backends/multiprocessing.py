"""A new ``multiprocessing.Process`` per chunk in every repetition, results over a Queue.

This is the classic two-process script. Each worker reports the CPU time of its whole
process (``time.process_time()``), so a spawned worker's interpreter start-up counts too:
it is CPU the parallel version really spends.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from typing import Any, Mapping, Sequence

from runner.backends.base import (
    Backend,
    ChunkFunction,
    ChunkResult,
    WorkerError,
    check_start_method,
    describe_exception,
)


def _process_main(fn: ChunkFunction, start: int, end: int, index: int, results: Any) -> None:
    began = time.perf_counter()
    try:
        value = fn(start, end)
    except BaseException as exc:
        results.put((index, False, describe_exception(exc), time.process_time(), began))
    else:
        results.put((index, True, value, time.process_time(), began))


def describe_exit(pid: int | None, exitcode: int) -> str:
    import signal

    if exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-exitcode}"
    else:
        how = f"exited with code {exitcode}"
    return f"worker process {pid} {how} before returning its result"


class MultiprocessingBackend(Backend):
    name = "multiprocessing"
    workers_per_repetition = True

    def __init__(self, workers: int, options: Mapping[str, Any]) -> None:
        super().__init__(workers, options)
        self.context = multiprocessing.get_context(self.options["start_method"])

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        return check_start_method(cls, options)

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        # A fresh Queue per repetition: a worker killed while writing could leave a shared
        # one locked or half-written.
        results_queue = self.context.Queue()
        processes = [
            self.context.Process(target=_process_main, args=(fn, start, end, i, results_queue), daemon=True)
            for i, (start, end) in enumerate(chunks)
        ]
        try:
            for process in processes:
                process.start()
            results = self._collect(results_queue, processes, len(chunks))
            for process in processes:
                process.join()
            return results
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
                    process.join()
            results_queue.close()
            results_queue.join_thread()

    @staticmethod
    def _collect(results_queue: Any, processes: list[Any], count: int) -> list[ChunkResult]:
        results: list[ChunkResult | None] = [None] * count
        pending = count
        while pending:
            try:
                index, ok, value, cpu_s, began = results_queue.get(timeout=0.05)
            except queue.Empty:
                # Only reached while waiting: a result that is ready returns at once.
                for process in processes:
                    if process.exitcode not in (None, 0) and results[processes.index(process)] is None:
                        raise WorkerError(describe_exit(process.pid, process.exitcode)) from None
                continue
            if not ok:
                raise WorkerError(value)
            results[index] = ChunkResult(value, cpu_s, began)
            pending -= 1
        return results  # type: ignore[return-value]


BACKEND = MultiprocessingBackend
