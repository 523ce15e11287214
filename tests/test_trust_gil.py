"""cpu_utilization tells the GIL story: threads running pure Python share one interpreter
lock, so w threads together use about one core, while w processes use about w cores.
(On a free-threaded build threads would scale too; this checks GIL builds.)"""

from __future__ import annotations

import sys

import pytest

from runner.execute.schedule import run_isolated
from runner.trial.spec import Policy, build_spec

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

ATTEMPTS = 3  # the machine is shared: retry a few times before judging


def utilization(hydra_conf, backend: str) -> tuple[float, float]:
    spec = build_spec(hydra_conf("config", overrides=[f"backend={backend}", "workers=2", "n=1e7", "repeats=3", "warmup=1"]))
    # In a trial process, as parsweep runs it: repetitions other processes disturb are measured
    # again once the machine is quiet, so a shared machine does not fake a GIL story.
    result = run_isolated(spec, Policy(schedule="sequential", budget_s=60))
    assert result.correct, result.error
    metrics = result.metrics()
    return metrics["cpu_utilization"], metrics.get("other_cpu_cores", 0.0)


def test_threads_use_one_core_processes_use_two(hydra_conf, usable_cores: int) -> None:
    assert usable_cores >= 2, "this machine gives parsweep one usable core: processes cannot show two"
    assert getattr(sys, "_is_gil_enabled", lambda: True)(), "the test suite runs under a GIL build of CPython"
    seen = []
    for _ in range(ATTEMPTS):
        processes, other = utilization(hydra_conf, "multiprocessing")
        threads, _ = utilization(hydra_conf, "threading")
        seen.append((round(threads, 2), round(processes, 2), round(other, 2)))
        # Threads never beat one core, however busy or quiet the machine (a little slack for the clock).
        assert threads < 1.2, seen
        if processes > 1.5:
            return
    pytest.fail(f"multiprocessing never used more than 1.5 cores: (threading, multiprocessing, other cores) = {seen}")
