"""The classic experiment: add up ``range(start, end)`` in a pure-Python loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.trial.workloads.base import RangeSum


def sum_range_chunk(start: int, end: int) -> int:
    # Deliberately the seed script's loop, not sum(range(...)): the point is to time
    # interpreted bytecode that holds the GIL.
    total = 0
    for i in range(start, end):
        total += i
    return total


class SumRange(RangeSum):
    name = "sum_range"
    preload = True

    @classmethod
    def item_cost_s(cls, n: int, options: Any, loop_cost_s: Any) -> float | None:
        return float(loop_cost_s())

    @property
    def chunk_function(self) -> Callable[[int, int], Any]:
        return sum_range_chunk


WORKLOAD = SumRange
