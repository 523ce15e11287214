"""One trial's workbench: its backend started once, repetitions on demand, then closed.

:class:`TrialBench` is what the trial process drives (``runner.trial.worker``): the launcher
asks for each repetition in turn, so the trials of a sweep can take turns (interleaved) or
run one after another, with the same code. :func:`assemble` turns what was measured into the
trial's :class:`~runner.trial.results.TrialResult`; :func:`run_trial` runs a whole trial in
this process (tests, notebooks).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.host import facts as host_facts
from runner.host.proc import load_1m, usable_cpu_ids
from runner.trial import backends, workloads
from runner.trial.backends.base import describe_exception
from runner.trial.chunking import split_range
from runner.trial.measure import AutoRepeats, Repetition, repeat_plan, run_repetition, speed_probe
from runner.trial.quality import assess
from runner.trial.results import TrialResult
from runner.trial.spec import TrialSpec

RepetitionHook = Callable[[int, int, float], None]


@dataclass
class StartInfo:
    """What a started trial reports: its backend's start-up time and tags, the interpreter's facts."""

    startup_s: float
    tags: dict[str, str] = field(default_factory=dict)
    python: dict[str, Any] = field(default_factory=dict)
    load_1m: float | None = None
    cpus: list[int] | None = None  # the CPUs the trial process may run on once started


@dataclass
class FinishInfo:
    """What a trial reports as it closes: the CPU clock after its repetitions, a failed close."""

    governors: list[str] = field(default_factory=list)
    freq_ratio: float | None = None
    error: str | None = None
    close_s: float = 0.0  # closing the backend (a pool's shutdown)


class TrialBench:
    """The backend and workload of one trial, ready to run repetitions of it."""

    def __init__(self, spec: TrialSpec) -> None:
        self.spec = spec
        self.workload = workloads.get(spec.workload)(spec.workload_options)
        self.backend = backends.get(spec.backend)(spec.workers, spec.backend_options)
        self.chunks = split_range(spec.n, spec.chunk_count if self.backend.uses_workers else 1)
        self.fn = self.workload.chunk_function
        self.cpus = usable_cpu_ids()  # after pinning (runner.trial.worker): the trial's own CPUs

    def start(self) -> StartInfo:
        """Start the backend (pools and clusters get their workers ready here, outside the timing)."""
        load = load_1m()
        began = time.perf_counter()
        self.backend.start()
        startup = time.perf_counter() - began
        return StartInfo(startup, self.backend.tags(), host_facts.interpreter_facts(), load, usable_cpu_ids())

    def repetition(self, recorded: bool = True) -> Repetition:
        """One repetition, between two speed probes when recorded (outside its timing); raises
        when the answer is wrong or a worker fails."""
        if not recorded:
            return run_repetition(self.backend, self.workload, self.fn, self.spec.n, self.chunks, recorded)
        before = speed_probe()
        rep = run_repetition(self.backend, self.workload, self.fn, self.spec.n, self.chunks, recorded)
        rep.probe_s = (before + speed_probe()) / 2
        return rep

    def finish(self) -> FinishInfo:
        """Close the backend (every thread and process it started) and read the CPU clock."""
        governors, ratio = host_facts.frequency_state(self.cpus)
        info = FinishInfo(governors, ratio)
        began = time.perf_counter()
        try:
            self.backend.close()
        except Exception as exc:  # a pool that cannot shut down cleanly is a failure too
            info.error = f"closing the backend failed: {describe_exception(exc)}"
        info.close_s = time.perf_counter() - began
        return info


def assemble(
    spec: TrialSpec,
    start: StartInfo | None,
    kept: Sequence[Repetition],
    finish: FinishInfo | None,
    *,
    usable: int,
    threshold_cores: float,
    error: str | None = None,
    repeats_stop: str | None = None,
    discarded: Sequence[Repetition] = (),
    other_cpu_cores: float | None = None,
    busy_cores_at_start: float | None = None,
    paired_rel_ci: float | None = None,
    contenders_short: int = 0,
) -> TrialResult:
    """The trial's result from what was measured: ``kept`` are its final recorded repetitions
    (interfered ones among them are counted and flagged), ``discarded`` those measured again."""
    result = TrialResult(error=error)
    result.keep(kept)
    if start is not None:
        result.tags.update(start.tags)
        result.python = dict(start.python)
        result.load_1m_at_start = start.load_1m
        result.cpus = list(start.cpus) if start.cpus is not None else None
        if backends.get(spec.backend).workers_per_repetition:
            result.startup_s = statistics.median(rep.dispatch_s for rep in kept) if kept else None
        else:
            result.startup_s = start.startup_s
    if finish is not None:
        result.cpu_governors, result.cpu_freq_ratio = list(finish.governors), finish.freq_ratio
        result.error = result.error or finish.error
        result.close_s = finish.close_s
    result.repeats_stop = repeats_stop
    result.paired_rel_ci = paired_rel_ci
    result.contenders_short = contenders_short
    result.other_cpu_cores = other_cpu_cores
    result.busy_cores_at_start = busy_cores_at_start
    result.reps_interfered = sum(1 for rep in kept if rep.interfered)
    result.reps_discarded = len(discarded)
    reasons: dict[str, int] = {}
    for rep in discarded:
        reasons[str(rep.interfered)] = reasons.get(str(rep.interfered), 0) + 1
    result.discarded = [f"{count} x {reason}" for reason, count in reasons.items()]
    result.correct = result.error is None and bool(kept)
    if not result.failed:
        assess(spec, result, usable, threshold_cores)
    return result


def run_trial(spec: TrialSpec, on_repetition: RepetitionHook | None = None) -> TrialResult:
    """Run one whole trial in this process, repetitions one after another, no interference
    clean-up. Never raises for a failure of the work itself: the result carries ``error``."""
    began = time.perf_counter()
    started_at = time.time()
    bench = TrialBench(spec)
    plan = repeat_plan(spec)
    total = spec.warmup + (plan.max_repeats if isinstance(plan, AutoRepeats) else plan)
    kept: list[Repetition] = []
    start = finish = None
    error = stop = None
    try:
        start = bench.start()
        for index in range(total):
            recorded = index >= spec.warmup
            rep = bench.repetition(recorded)
            if on_repetition is not None:
                on_repetition(index + 1, total, rep.wall_s)
            if recorded:
                kept.append(rep)
                if isinstance(plan, AutoRepeats):
                    stop = plan.stop_rule([r.wall_s for r in kept])
                    if stop:
                        break
    except Exception as exc:
        error = describe_exception(exc)
    finally:
        finish = bench.finish()
    usable = len(bench.cpus) if bench.cpus else 1
    result = assemble(spec, start, kept, finish, usable=usable, threshold_cores=0.1 * usable, error=error, repeats_stop=stop)
    result.started_at = started_at
    result.duration_s = time.perf_counter() - began
    return result
