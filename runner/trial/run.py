"""One trial from a :class:`~runner.app.schema.TrialSpec` to a :class:`~runner.trial.results.TrialResult`.

This module is what the trial process runs. It is preloaded by the fork server
(:mod:`runner.execute.isolation`), so it must stay light: no Hydra, no MLflow, no pandas.
"""

from __future__ import annotations

import statistics
import time

from runner.host import noise
from runner.trial import backends, workloads
from runner.trial.backends.base import describe_exception
from runner.trial.chunking import split_range
from runner.trial.measure import AutoRepeats, RepetitionHook, run_repetitions
from runner.trial.results import TrialResult
from runner.trial.spec import TrialSpec


def repeat_plan(spec: TrialSpec) -> int | AutoRepeats:
    """A count of repetitions, or the rules that end ``repeats=auto``."""
    if spec.auto_repeats:
        return AutoRepeats(spec.target_rel_ci, spec.max_repeats, spec.max_time_s)
    return int(spec.repeats)


def run_trial(spec: TrialSpec, on_repetition: RepetitionHook | None = None) -> TrialResult:
    """Run one trial in this process. Never raises for a failure of the work itself:
    the returned result carries ``error`` (and whatever repetitions completed)."""
    began = time.perf_counter()
    result = TrialResult()
    workload = workloads.get(spec.workload)(spec.workload_options)
    backend = backends.get(spec.backend)(spec.workers, spec.backend_options)
    chunks = split_range(spec.n, spec.chunk_count if backend.uses_workers else 1)
    cpus = noise.usable_cpu_ids()
    result.load_1m_at_start = noise.load_1m()
    # "Busy at start" is what other processes used while the backend started and warmed up:
    # watching then costs nothing, where an idle look would add its length to every trial.
    start_monitor = noise.CpuMonitor(cpus)
    monitor = noise.CpuMonitor(cpus)
    try:
        start_monitor.begin()
        t0 = time.perf_counter()
        backend.start()
        pool_startup = time.perf_counter() - t0
        start_monitor.end()
        result.tags.update(backend.tags())  # cluster.* from the cluster backends
        run_repetitions(
            backend, workload, spec.n, chunks, spec.warmup, repeat_plan(spec), result, on_repetition, monitor,
            warmup_monitor=start_monitor,
        )
        result.correct = True
        if backend.workers_per_repetition:
            result.startup_s = statistics.median(result.dispatch_s)
        else:
            result.startup_s = pool_startup
        result.cpu_governors, result.cpu_freq_ratio = noise.frequency_state(cpus)
    except Exception as exc:
        result.error = describe_exception(exc)
    finally:
        try:
            backend.close()
        except Exception as exc:  # a pool that cannot shut down cleanly is a failure too
            result.error = result.error or f"closing the backend failed: {describe_exception(exc)}"
    if backend.workers_in_process_tree and start_monitor.wall_s >= noise.MIN_MONITORED_S:
        result.busy_cores_at_start = start_monitor.other_cores
    if backend.workers_in_process_tree and monitor.wall_s >= noise.MIN_MONITORED_S:
        # Shorter windows are a few 10 ms CPU-accounting ticks: no figure rather than a wrong one.
        result.other_cpu_cores, result.own_cpu_cores = monitor.other_cores, monitor.own_cores
        result.monitored_s = monitor.wall_s
    if not result.failed:
        result.warnings += noise.collect(spec, result, len(cpus) if cpus else 1)
    result.duration_s = time.perf_counter() - began
    return result
