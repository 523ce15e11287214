"""The timed repetition loop: dispatch, combine, check, record; and when to stop (repeats=auto)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from runner.trial.backends import Backend, ChunkResult
from runner.trial.results import REPEATS_STOP_TAG, TrialResult
from runner.trial.stats import summarize
from runner.trial.workloads import Workload

RepetitionHook = Callable[[int, int, float], None]


class WrongAnswer(RuntimeError):
    """A repetition's combined result is not the workload's exact answer."""


@dataclass(frozen=True)
class AutoRepeats:
    """``repeats=auto``: record repetitions until one of three rules says stop.

    After each recorded repetition, in this order:

    1. ``target_rel_ci``: the median's 95% CI half-width is within this fraction of the
       median (needs 6 repetitions, see :mod:`runner.trial.stats`);
    2. ``max_repeats``: this many have been recorded;
    3. ``max_time_s``: another repetition of median length would end after this many
       seconds since the first recorded one began (warm-up and pool start-up excluded).
    """

    target_rel_ci: float
    max_repeats: int
    max_time_s: float | None

    def stop_rule(self, wall_times_s: Sequence[float], elapsed_s: float) -> str | None:
        summary = summarize(wall_times_s)
        if summary.ci_reaches_confidence and summary.rel_ci_half_width <= self.target_rel_ci:
            return "target_rel_ci"
        if len(wall_times_s) >= self.max_repeats:
            return "max_repeats"
        if self.max_time_s is not None and elapsed_s + summary.median > self.max_time_s:
            return "max_time_s"
        return None


class Monitor(Protocol):
    """What watches the machine around each recorded repetition (see :class:`runner.host.noise.CpuMonitor`)."""

    def begin(self) -> None: ...

    def end(self) -> None: ...


def busy_by_worker(parts: Sequence[ChunkResult], workers: int) -> list[float]:
    """Each worker's busy time in one repetition, busiest first; workers that got no chunk count 0."""
    busy: dict[str, float] = {}
    for part in parts:
        busy[part.worker] = busy.get(part.worker, 0.0) + part.wall_s
    values = sorted(busy.values(), reverse=True)
    return values + [0.0] * max(0, workers - len(values))


def dispatch_delay(parts: Sequence[ChunkResult], t0: float) -> float:
    """From dispatch until the last worker began its first chunk."""
    first: dict[str, float] = {}
    for part in parts:
        first[part.worker] = min(first.get(part.worker, part.began_at), part.began_at)
    return max(first.values()) - t0


def run_repetitions(
    backend: Backend,
    workload: Workload,
    n: int,
    chunks: Sequence[tuple[int, int]],
    warmup: int,
    repeats: int | AutoRepeats,
    result: TrialResult,
    on_repetition: RepetitionHook | None = None,
    monitor: Monitor | None = None,
    warmup_monitor: Monitor | None = None,
) -> None:
    """Run ``warmup`` unrecorded then ``repeats`` recorded repetitions into ``result``.

    ``repeats`` is a count, or an :class:`AutoRepeats` whose rule that stopped the loop is
    left in ``result.repeats_stop``. Wall time runs from dispatch to the combined result
    (``time.perf_counter``). CPU time is the sum over the workers of the CPU they spent on
    their chunks. Every repetition, warm-up included, is checked; the first wrong one raises
    :class:`WrongAnswer`. ``monitor`` is told when each recorded repetition begins and
    ends, outside the timed part; ``warmup_monitor`` the same for the warm-up repetitions.
    """
    fn = workload.chunk_function
    auto = repeats if isinstance(repeats, AutoRepeats) else None
    total_reps = warmup + (auto.max_repeats if auto else int(repeats))  # an upper bound with auto
    workers = backend.workers if backend.uses_workers else 1
    first_recorded: float | None = None
    index = 0
    while index < total_reps:
        recording = index >= warmup
        watcher = monitor if recording else warmup_monitor
        if watcher is not None:
            watcher.begin()
        t0 = time.perf_counter()
        parts = backend.run(fn, chunks)
        total = workload.combine([part.value for part in parts])
        wall = time.perf_counter() - t0
        if watcher is not None:
            watcher.end()
        problem = workload.check(total, n)
        if problem:
            raise WrongAnswer(f"{problem} (repetition {index + 1} of {total_reps})")
        index += 1
        if recording:
            first_recorded = t0 if first_recorded is None else first_recorded
            result.wall_times_s.append(wall)
            result.cpu_times_s.append(sum(part.cpu_s for part in parts))
            result.dispatch_s.append(dispatch_delay(parts, t0))
            result.busy_s.append(busy_by_worker(parts, workers))
        if on_repetition is not None:
            on_repetition(index, total_reps, wall)
        if recording and auto is not None:
            rule = auto.stop_rule(result.wall_times_s, time.perf_counter() - first_recorded)
            if rule is not None:
                result.repeats_stop = rule
                result.tags[REPEATS_STOP_TAG] = rule
                return
