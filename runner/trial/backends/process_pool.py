"""``concurrent.futures.ProcessPoolExecutor`` created once per trial, with its start method."""

from __future__ import annotations

from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from runner.trial.backends.base import ProcessBackend
from runner.trial.backends.pools import PoolBackend, set_barrier


class ProcessPoolBackend(ProcessBackend, PoolBackend):
    name = "process_pool"
    preload = True
    table_order = 50
    startup_s = 0.05

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
