"""``concurrent.futures.ProcessPoolExecutor`` created once per trial, with its start method."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, Mapping

from runner.backends.base import check_start_method
from runner.backends.pools import PoolBackend, set_barrier


class ProcessPoolBackend(PoolBackend):
    name = "process_pool"

    def __init__(self, workers: int, options: Mapping[str, Any]) -> None:
        super().__init__(workers, options)
        self.context = multiprocessing.get_context(self.options["start_method"])

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        return check_start_method(cls, options)

    def make_barrier(self) -> Any:
        # Handed to each worker at creation (initargs), the only way a process barrier travels.
        return self.context.Barrier(self.workers)

    def make_executor(self, barrier: Any) -> Executor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self.context,
            initializer=set_barrier,
            initargs=(barrier,),
        )


BACKEND = ProcessPoolBackend
