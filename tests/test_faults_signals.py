"""Faults: Ctrl-C (SIGINT to the launcher's process group, as a terminal sends it) and
SIGTERM (to the launcher alone, as ``kill PID`` does) in the middle of a sweep.

The running trial's processes all end, its run and the sweep's run are KILLED (the trial's
run with its params: it says what it was), the trial that had finished keeps every number, the exit code is 130 / 143, and no process of the
sweep is left afterwards.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from test_faults_support import Background, alive, trial_processes, worker_processes

from conftest import all_runs, client_for, describe_processes, runs_with_role, sqlite_uri, wait_for_no_processes

pytestmark = [pytest.mark.slow]


@pytest.mark.parametrize(
    "signum, expected_code, to_group",
    [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)],
    ids=["ctrl-c", "sigterm"],
)
def test_signal_mid_sweep(tmp_path: Path, signum: int, expected_code: int, to_group: bool) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    # Trial 1 is quick; trial 2 runs long with two worker processes when the signal comes.
    sweep = Background(
        ["-m", "n=1e4,1e9", "backend=multiprocessing", "workers=2", "repeats=3", "warmup=0", "timeout_s=120"],
        tmp_path, uri=uri,
    )
    try:
        sweep.wait_for_line("[1/2]")
        workers = sweep.wait_for(lambda: worker_processes(sweep.pid), what="trial 2's worker processes")
        trial_pids = [p.pid for p in trial_processes(sweep.pid)] + [w.pid for w in workers]
        if to_group:
            os.killpg(sweep.pid, signum)
        else:
            os.kill(sweep.pid, signum)
        code = sweep.finish(timeout=60)
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    assert code == expected_code, sweep.output()
    assert not alive(trial_pids), f"trial processes survived: {alive(trial_pids)}"
    left = wait_for_no_processes(sweep.marker, within_s=10)
    assert not left, "processes of the sweep outlived it:\n" + describe_processes(left)

    runs = all_runs(uri)
    (parent,) = runs_with_role(runs, "sweep")
    assert parent.info.status == "KILLED"
    trials = runs_with_role(runs, "trial")
    assert len(trials) == 2
    finished = next(t for t in trials if t.data.params.get("n") == "10000")
    killed = next(t for t in trials if t is not finished)
    assert finished.info.status == "FINISHED"
    assert finished.data.metrics["correct"] == 1.0
    for metric in ("wall_time_s", "wall_time_min_s", "cpu_time_s", "startup_s"):
        assert metric in finished.data.metrics, metric
    history = client_for(uri).get_metric_history(finished.info.run_id, "rep_wall_time_s")
    assert len(history) == 3
    assert killed.info.status == "KILLED"
    # A killed run says what it was: the params of the trial it measured.
    assert killed.data.params["backend"] == "multiprocessing" and killed.data.params["workers"] == "2"
    assert killed.data.params["n"] == "1000000000" and killed.data.params["workload"] == "sum_range"
    assert killed.data.tags["parsweep.role"] == "trial" and killed.data.tags["parsweep.config_hash"]
    reason = "SIGINT" if signum == signal.SIGINT else "SIGTERM"
    assert reason in killed.data.tags["parsweep.error"]
    assert "KILLED" in "\n".join(sweep.stderr)
