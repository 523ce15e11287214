"""New ``threading.Thread`` workers in every repetition, as the classic script does.

``workers`` threads are started per repetition; the chunks are dealt to them round-robin
(one each by default), and each thread runs its chunks in turn.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from runner.trial.backends.base import (
    Backend,
    ChunkFunction,
    ChunkResult,
    WorkerError,
    deal_round_robin,
    describe_exception,
    timed_chunk,
)


class ThreadingBackend(Backend):
    name = "threading"
    preload = True
    table_order = 10
    per_repetition_s = 0.0003
    threads_of_one_interpreter = True
    kind = "threads"
    workers_per_repetition = True

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        results: list[ChunkResult | None] = [None] * len(chunks)
        errors: list[str] = []

        def work(worker: int, assigned: list[tuple[int, tuple[int, int]]]) -> None:
            try:
                for index, (start, end) in assigned:
                    results[index] = timed_chunk(fn, start, end, f"thread-{worker}")
            except BaseException as exc:  # reported to the dispatcher, never lost in a thread
                errors.append(describe_exception(exc))

        threads = [
            threading.Thread(target=work, args=(w, assigned), name=f"parsweep-worker-{w}", daemon=True)
            for w, assigned in enumerate(deal_round_robin(chunks, self.workers))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise WorkerError(errors[0])
        return results  # type: ignore[return-value]


BACKEND = ThreadingBackend
