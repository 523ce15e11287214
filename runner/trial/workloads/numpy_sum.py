"""The classic sum of ``range(0, n)``, done by NumPy over an array each worker builds itself.

A chunk is summed block by block in one array the worker allocates: it starts as
``np.arange(start, start + block)``, each block is reduced with ``buf.sum()`` and then moved
on to the next block in place (``np.add(buf, block, out=buf)``). Both calls run in NumPy's
C loops with the GIL released, so unlike the pure-Python loop this scales with threads too.
The block (128 Ki int64 = 1 MiB by default) stays in a core's cache, so memory bandwidth
does not cap the scaling, and is long enough (~50 us per call here) that handing the GIL
between threads around each call costs little: with 64 Ki blocks and two calls on two
arrays per block, two threads ran no faster than one on the reference VM.

Exactness: a block's sum is computed in int64 and added to a Python int; the chunk refuses
ranges where a block's sum could overflow (``end * block >= 2**63``, i.e. n above about
7e13 with the default block).

The chunk function is in :mod:`runner.trial.workloads.numpy_chunk`, with the NumPy import: this
module holds the workload's declarations (its schema among them), which the Hydra app reads at
start-up without loading NumPy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from runner.trial.values import ConfigError, parse_count
from runner.trial.workloads.base import RangeSum

DEFAULT_BLOCK = 1 << 17


class NumpySum(RangeSum):
    name = "numpy_sum"
    # Not in the fork servers: importing NumPy (OpenBLAS) there slowed every forked worker's
    # pure-Python loop by ~4% (measured: multiprocessing x2 at n=1e8, 1.27 s against 1.21 s).
    preload = False
    releases_gil = True

    imports = ("runner.trial.workloads.numpy_chunk",)  # NumPy, which the probe must find in a trial interpreter
    OPTIONS = {"block": (Any, DEFAULT_BLOCK)}  # a count: 131072, 1.3e5 and 131_072 all work

    @classmethod
    def item_cost_s(cls, n: int, options: Any, loop_cost_s: Any) -> float | None:
        return 1e-9  # vectorised: about a nanosecond an item
    # NumPy's C extension refuses to load in a subinterpreter ("does not support loading in
    # subinterpreters"): backend=interpreters is refused before any trial runs (runner.trial.spec).
    subinterpreters = False

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        for key in options:
            if key != "block":
                raise ConfigError(f"workload.{key}", options[key], "unknown key; numpy_sum takes: block")
        return {"block": parse_count("workload.block", options.get("block", DEFAULT_BLOCK), 1)}

    @property
    def chunk_function(self) -> Callable[[int, int], Any]:
        # NumPy loads here, as the trial builds its workload, before workers start: a worker never pays for it
        from runner.trial.workloads.numpy_chunk import numpy_sum_chunk

        return functools.partial(numpy_sum_chunk, block=self.options.get("block", DEFAULT_BLOCK))


WORKLOAD = NumpySum
