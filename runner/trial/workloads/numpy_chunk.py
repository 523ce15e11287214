"""The ``numpy_sum`` workload's chunk function (:mod:`runner.trial.workloads.numpy_sum` says how it sums).

Apart from the workload's declarations so that only what runs chunks imports NumPy: the trial
process (as it builds the workload, before workers start) and a spawned worker (as it unpickles
its task, before the chunk is timed), as when both lived in one module.
"""

from __future__ import annotations

import numpy as np

from runner.trial.workloads.numpy_sum import DEFAULT_BLOCK

INT64_MAX = 2**63 - 1


def numpy_sum_chunk(start: int, end: int, block: int = DEFAULT_BLOCK) -> int:
    """``sum(range(start, end))`` with NumPy, one cache-sized block at a time."""
    if end <= start:
        return 0
    if end * block > INT64_MAX:
        raise OverflowError(f"numpy_sum: range end {end} is too large for exact int64 blocks of {block}")
    size = min(block, end - start)
    buf = np.arange(start, start + size, dtype=np.int64)
    total = 0
    offset = start
    while offset < end:
        m = min(block, end - offset)
        if m < size:  # the last, shorter block: its values are the buffer's first m
            buf = buf[:m]
        total += int(buf.sum())
        offset += m
        if offset < end:
            np.add(buf, m, out=buf)
    return total
