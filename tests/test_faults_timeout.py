"""Fault: a trial runs past ``timeout_s``.

Every thread and process of that trial is stopped at once (checked while the sweep is still
running, process by process), the run is FAILED with the reason, the sweep goes on, and
the per-trial cost of running each trial in its own process stays small.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from conftest import all_runs, runs_with_role, sqlite_uri, wait_for_no_processes, describe_processes
from test_faults_support import Background, alive, trial_processes, worker_processes

OVERHEAD_BUDGET_S = 0.050


def test_timeout_stops_every_process_and_thread_and_the_sweep_goes_on(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    # The multiprocessing trial (workers are processes) times out first, then the threading
    # trial (workers are threads of the trial process) runs, and times out too.
    sweep = Background(
        ["-m", "backend=multiprocessing,threading", "workers=2", "n=1e9", "timeout_s=3", "repeats=1", "warmup=0"],
        tmp_path, uri=uri,
    )
    try:
        first_trial = sweep.wait_for(lambda: worker_processes(sweep.pid) and trial_processes(sweep.pid), what="the first trial's workers")
        pids = [p.pid for p in first_trial] + [p.pid for p in worker_processes(sweep.pid)]
        sweep.wait_for_line("[1/2]")
        assert not alive(pids), f"processes of the timed-out trial still run: {alive(pids)}"
        second = sweep.wait_for(lambda: trial_processes(sweep.pid), what="the second trial")
        assert all(p.pid not in pids for p in second)
        second_pids = [p.pid for p in second]
        code = sweep.finish()
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    assert code == 1, sweep.output()
    assert not alive(second_pids)
    trials = runs_with_role(all_runs(uri), "trial")
    assert [t.data.params["backend"] for t in trials] == ["multiprocessing", "threading"]
    for run in trials:
        assert run.info.status == "FAILED"
        assert "timed out after 3 s (timeout_s)" in run.data.tags["parsweep.error"]
    left = wait_for_no_processes(sweep.marker, within_s=10)
    assert not left, describe_processes(left)


def test_per_trial_overhead_is_small() -> None:
    """Running a trial in its own process (forked from the warm fork server, host lock
    included) costs < 50 ms on top of what the trial itself does."""
    from runner.execute.isolation import run_isolated
    from runner.trial.spec import build_spec

    spec = build_spec({"backend": {"name": "serial"}, "workload": {"name": "sum_range"}, "workers": 1, "n": 1,
                       "repeats": 1, "warmup": 0, "timeout_s": 30, "experiment": "x"})
    run_isolated(spec)  # starts the fork server once
    overheads = []
    for _ in range(10):
        began = time.perf_counter()
        result = run_isolated(spec)
        elapsed = time.perf_counter() - began
        assert not result.failed, result.error
        overheads.append(elapsed - result.duration_s)  # duration_s: run_trial, timed inside the trial
    assert statistics.median(overheads) < OVERHEAD_BUDGET_S, overheads
