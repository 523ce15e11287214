"""New ``multiprocessing.Process`` workers in every repetition, results over a Queue.

This is the classic two-process script: ``workers`` processes are started per repetition,
the chunks are dealt to them round-robin (one each by default), and each process sends
back all its partial results at once. The CPU time reported is that of the whole worker
process (``time.process_time()``, its first chunk carrying the start-up), so a spawned
worker's interpreter start-up counts too: it is CPU the parallel version really spends.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Sequence
from typing import Any

from runner.host.proc import thread_wait_s
from runner.trial.backends.base import (
    ChunkFunction,
    ChunkResult,
    ProcessBackend,
    WorkerError,
    deal_round_robin,
    describe_exception,
)


def _process_main(fn: ChunkFunction, assigned: list[tuple[int, tuple[int, int]]], worker: int, results: Any) -> None:
    done = []
    cpu_mark = 0.0  # a new process's CPU clock starts at zero
    try:
        for index, (start, end) in assigned:
            waited = thread_wait_s()
            began = time.perf_counter()
            value = fn(start, end)
            wall = time.perf_counter() - began
            cpu = time.process_time()
            done.append((index, value, cpu - cpu_mark, began, wall, thread_wait_s() - waited))
            cpu_mark = cpu
    except BaseException as exc:
        results.put((worker, False, describe_exception(exc)))
    else:
        results.put((worker, True, done))


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


class MultiprocessingBackend(ProcessBackend):
    name = "multiprocessing"
    preload = True
    table_order = 40
    per_repetition_s = 0.005
    workers_per_repetition = True

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        # A fresh Queue per repetition: a worker killed while writing could leave a shared
        # one locked or half-written.
        results_queue = self.context.Queue()
        processes = [
            self.context.Process(target=_process_main, args=(fn, assigned, w, results_queue), daemon=True)
            for w, assigned in enumerate(deal_round_robin(chunks, self.workers))
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
        reported = [False] * len(processes)
        while not all(reported):
            try:
                worker, ok, payload = results_queue.get(timeout=0.05)
            except queue.Empty:
                # Only reached while waiting: a result that is ready returns at once.
                for w, process in enumerate(processes):
                    if process.exitcode not in (None, 0) and not reported[w]:
                        raise WorkerError(describe_exit(process.pid, process.exitcode)) from None
                continue
            if not ok:
                raise WorkerError(payload)
            reported[worker] = True
            for index, value, cpu_s, began, wall, waited in payload:
                results[index] = ChunkResult(value, cpu_s, began, wall, f"process-{worker}", waited)
        return results  # type: ignore[return-value]


BACKEND = MultiprocessingBackend
