"""Chunk functions for the ``custom`` workload that fail on purpose (fault injection).

Used as ``workload=custom workload.function=faults:<name> workload.allow=[faults]
workload.pythonpath=<this directory>``. Every function takes ``(start, end)`` like a chunk
of ``range(0, n)`` and, when it returns, returns a partial sum.
"""

from __future__ import annotations

import os
import signal


def good_sum(start: int, end: int) -> int:
    """The right partial sum (the classic loop)."""
    total = 0
    for i in range(start, end):
        total += i
    return total


def good_sum_again(start: int, end: int) -> int:
    """Same as :func:`good_sum` under another name, so a sweep can list a good one twice."""
    return good_sum(start, end)


def raise_in_worker(start: int, end: int) -> int:
    """Fails inside the worker with an exception that names itself."""
    raise ValueError(f"injected fault in chunk [{start}, {end})")


def wrong_sum(start: int, end: int) -> int:
    """Off by one on every chunk: the combined total is wrong."""
    return good_sum(start, end) + 1


def kill_own_process(start: int, end: int) -> int:
    """The process running the chunk dies at once (SIGKILL), with no exception to catch."""
    os.kill(os.getpid(), signal.SIGKILL)
    return 0  # not reached


def exit_own_process(start: int, end: int) -> int:
    """The process running the chunk leaves through ``os._exit`` (no cleanup, no result)."""
    os._exit(3)


def expected_sum(n: int) -> int:
    """The exact answer for ``range(0, n)``."""
    return n * (n - 1) // 2
