"""A new ``threading.Thread`` per chunk in every repetition, as the classic script does."""

from __future__ import annotations

import threading
from typing import Sequence

from runner.backends.base import Backend, ChunkFunction, ChunkResult, WorkerError, describe_exception, timed_chunk


class ThreadingBackend(Backend):
    name = "threading"
    workers_per_repetition = True

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        results: list[ChunkResult | None] = [None] * len(chunks)
        errors: list[str] = []

        def work(index: int, start: int, end: int) -> None:
            try:
                results[index] = timed_chunk(fn, start, end)
            except BaseException as exc:  # reported to the dispatcher, never lost in a thread
                errors.append(describe_exception(exc))

        threads = [
            threading.Thread(target=work, args=(i, start, end), name=f"parsweep-worker-{i}", daemon=True)
            for i, (start, end) in enumerate(chunks)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise WorkerError(errors[0])
        return results  # type: ignore[return-value]


BACKEND = ThreadingBackend
