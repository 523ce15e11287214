"""I/O-bound work: each chunk sleeps, holding no CPU and no GIL, then returns its exact sum.

A chunk of ``k`` items sleeps ``k * workload.sleep_per_item_s`` seconds: a fixed sleep set
by the chunk's size, so the total is the same however the range is split and speedups
compare with the serial run. Sleeping releases the GIL, so threads scale as well as
processes here (and cost less to start). The chunk returns ``sum(range(start, end))``,
computed arithmetically, so the answer is still checked against n(n-1)/2.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from runner.trial.values import ConfigError
from runner.trial.workloads.base import RangeSum

DEFAULT_SLEEP_PER_ITEM_S = 1e-6


def sleep_chunk(start: int, end: int, sleep_per_item_s: float = DEFAULT_SLEEP_PER_ITEM_S) -> int:
    items = max(0, end - start)
    time.sleep(items * sleep_per_item_s)
    return (start + end - 1) * items // 2


class Sleep(RangeSum):
    name = "sleep"
    preload = True
    releases_gil = True
    holds_cpu = False

    OPTIONS = {"sleep_per_item_s": (Any, DEFAULT_SLEEP_PER_ITEM_S)}  # Any: a float type would log 1 as 1.0

    @classmethod
    def item_cost_s(cls, n: int, options: Any, loop_cost_s: Any) -> float | None:
        return float(options.get("sleep_per_item_s", DEFAULT_SLEEP_PER_ITEM_S))

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        for key in options:
            if key != "sleep_per_item_s":
                raise ConfigError(f"workload.{key}", options[key], "unknown key; sleep takes: sleep_per_item_s")
        value = options.get("sleep_per_item_s", DEFAULT_SLEEP_PER_ITEM_S)
        allowed = "must be a number of seconds >= 0 (1e-6: n=1e6 sleeps 1 s in all)"
        if isinstance(value, bool):
            raise ConfigError("workload.sleep_per_item_s", value, allowed)
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise ConfigError("workload.sleep_per_item_s", value, allowed) from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ConfigError("workload.sleep_per_item_s", value, allowed)
        return {"sleep_per_item_s": seconds}

    @property
    def chunk_function(self) -> Callable[[int, int], Any]:
        return functools.partial(sleep_chunk, sleep_per_item_s=self.options.get("sleep_per_item_s", DEFAULT_SLEEP_PER_ITEM_S))


WORKLOAD = Sleep
