"""The timed repetition loop: dispatch, combine, check, record."""

from __future__ import annotations

import time
from typing import Callable, Sequence

from runner.backends import Backend
from runner.results import TrialResult
from runner.workloads import Workload

RepetitionHook = Callable[[int, int, float], None]


class WrongAnswer(RuntimeError):
    """A repetition's combined result is not the workload's exact answer."""


def run_repetitions(
    backend: Backend,
    workload: Workload,
    n: int,
    chunks: Sequence[tuple[int, int]],
    warmup: int,
    repeats: int,
    result: TrialResult,
    on_repetition: RepetitionHook | None = None,
) -> None:
    """Run ``warmup`` unrecorded then ``repeats`` recorded repetitions into ``result``.

    Wall time runs from dispatch to the combined result (``time.perf_counter``). CPU time is
    the sum over the workers of the CPU they spent on their chunks. Every repetition,
    warm-up included, is checked; the first wrong one raises :class:`WrongAnswer`.
    """
    fn = workload.chunk_function
    total_reps = warmup + repeats
    for index in range(total_reps):
        t0 = time.perf_counter()
        parts = backend.run(fn, chunks)
        total = workload.combine([part.value for part in parts])
        wall = time.perf_counter() - t0
        problem = workload.check(total, n)
        if problem:
            raise WrongAnswer(f"{problem} (repetition {index + 1} of {total_reps})")
        if index >= warmup:
            result.wall_times_s.append(wall)
            result.cpu_times_s.append(sum(part.cpu_s for part in parts))
            result.dispatch_s.append(max(part.began_at for part in parts) - t0)
        if on_repetition is not None:
            on_repetition(index + 1, total_reps, wall)
