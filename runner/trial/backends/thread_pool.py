"""``concurrent.futures.ThreadPoolExecutor`` created once per trial."""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from runner.trial.backends.pools import PoolBackend, set_barrier


class ThreadPoolBackend(PoolBackend):
    name = "thread_pool"
    preload = True
    table_order = 20
    startup_s = 0.002
    threads_of_one_interpreter = True
    kind = "threads"

    def make_executor(self, barrier: Any) -> Executor:
        return ThreadPoolExecutor(
            max_workers=self.workers,
            thread_name_prefix="parsweep-pool",
            initializer=set_barrier,
            initargs=(barrier,),
        )


BACKEND = ThreadPoolBackend
