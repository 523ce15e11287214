"""Fault: a trial runs past ``timeout_s``.

Every thread and process of that trial is stopped at once (checked while the sweep is still
running, process by process), the run is FAILED with the reason, and the sweep goes on: in
the sequential order the next trial runs; interleaved, the other trials of its group go on
with their turns.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_faults_support import Background, alive, trial_processes, worker_processes

from conftest import all_runs, describe_processes, runs_with_role, sqlite_uri, wait_for_no_processes

pytestmark = [pytest.mark.slow]


def test_timeout_stops_every_process_and_thread_and_the_sweep_goes_on(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    # The multiprocessing trial (workers are processes) times out first, then the threading
    # trial (workers are threads of the trial process) runs, and times out too.
    sweep = Background(
        ["-m", "backend=multiprocessing,threading", "workers=2", "n=1e9", "timeout_s=3", "repeats=1", "warmup=0",
         "schedule=sequential"],
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


def test_interleaved_a_trial_that_times_out_is_stopped_and_its_group_goes_on(tmp_path: Path) -> None:
    """Both trials are up at once, taking turns; the one whose own time passes timeout_s is
    killed whole, the other still gets its turn (and its own timeout_s)."""
    uri = sqlite_uri(tmp_path / "mlflow.db")
    sweep = Background(
        ["-m", "backend=multiprocessing,process_pool", "workers=2", "n=1e9", "timeout_s=3", "repeats=1", "warmup=0",
         "schedule=interleaved", "seed=1"],
        tmp_path, uri=uri,
    )
    try:
        both = sweep.wait_for(lambda: len(trial_processes(sweep.pid)) == 2 and trial_processes(sweep.pid), what="both trials up")
        sweep.wait_for(lambda: len([p for p in both if p.is_running()]) == 1, what="the first trial to be stopped")
        code = sweep.finish()
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    assert code == 1, sweep.output()
    trials = runs_with_role(all_runs(uri), "trial")
    assert sorted(t.data.params["backend"] for t in trials) == ["multiprocessing", "process_pool"]
    for run in trials:
        assert run.info.status == "FAILED" and "timed out after 3 s (timeout_s)" in run.data.tags["parsweep.error"]
        assert run.data.tags["parsweep.schedule"] == "interleaved" and run.data.tags["parsweep.schedule_seed"] == "1"
    left = wait_for_no_processes(sweep.marker, within_s=10)
    assert not left, describe_processes(left)
