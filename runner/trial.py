"""One trial from a :class:`~runner.config.TrialSpec` to a :class:`~runner.results.TrialResult`.

This module is what the trial process runs. It is preloaded by the fork server
(:mod:`runner.isolation`), so it must stay light: no Hydra, no MLflow, no pandas.
"""

from __future__ import annotations

import statistics
import time

from runner import backends, workloads
from runner.backends.base import describe_exception
from runner.chunking import split_range
from runner.spec import TrialSpec
from runner.measure import RepetitionHook, run_repetitions
from runner.results import TrialResult


def run_trial(spec: TrialSpec, on_repetition: RepetitionHook | None = None) -> TrialResult:
    """Run one trial in this process. Never raises for a failure of the work itself:
    the returned result carries ``error`` (and whatever repetitions completed)."""
    began = time.perf_counter()
    result = TrialResult()
    workload = workloads.get(spec.workload)(spec.workload_options)
    backend = backends.get(spec.backend)(spec.workers, spec.backend_options)
    chunks = split_range(spec.n, spec.workers if backend.uses_workers else 1)
    try:
        t0 = time.perf_counter()
        backend.start()
        pool_startup = time.perf_counter() - t0
        run_repetitions(backend, workload, spec.n, chunks, spec.warmup, spec.repeats, result, on_repetition)
        result.correct = True
        if backend.workers_per_repetition:
            result.startup_s = statistics.median(result.dispatch_s)
        else:
            result.startup_s = pool_startup
    except Exception as exc:
        result.error = describe_exception(exc)
    finally:
        try:
            backend.close()
        except Exception as exc:  # a pool that cannot shut down cleanly is a failure too
            result.error = result.error or f"closing the backend failed: {describe_exception(exc)}"
    result.duration_s = time.perf_counter() - began
    return result
