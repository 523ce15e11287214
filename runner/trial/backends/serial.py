"""One thread, one chunk: the baseline every speedup is measured against."""

from __future__ import annotations

from collections.abc import Sequence

from runner.trial.backends.base import Backend, ChunkFunction, ChunkResult, timed_chunk


class SerialBackend(Backend):
    name = "serial"
    preload = True
    table_order = 0
    uses_workers = False  # always one chunk in the calling thread, whatever `workers` says

    def run(self, fn: ChunkFunction, chunks: Sequence[tuple[int, int]]) -> list[ChunkResult]:
        return [timed_chunk(fn, start, end, "main") for start, end in chunks]


BACKEND = SerialBackend
