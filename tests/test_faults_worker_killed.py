"""Fault: a worker process is SIGKILLed from outside in the middle of a trial.

For the two backends whose workers are processes, the test finds a worker among the
launcher's descendants (psutil) and kills it: that trial is FAILED with the reason, the next
trial (same backend, small n) runs, and the sweep exits non-zero at the end.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from test_faults_support import Background, worker_processes

from conftest import all_runs, describe_processes, runs_with_role, sqlite_uri, wait_for_no_processes

pytestmark = [pytest.mark.slow]


@pytest.mark.parametrize("backend", ["multiprocessing", "process_pool"])
def test_worker_killed_from_outside(tmp_path: Path, backend: str) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    sweep = Background(
        ["-m", "n=5e7,1e4", f"backend={backend}", "workers=2", "repeats=10", "warmup=0", "timeout_s=120"],
        tmp_path, uri=uri,
    )
    try:
        workers = sweep.wait_for(lambda: worker_processes(sweep.pid), what=f"{backend} workers")
        victim = workers[0]
        victim.send_signal(signal.SIGKILL)
        code = sweep.finish(timeout=120)
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    assert code == 1, sweep.output()
    trials = runs_with_role(all_runs(uri), "trial")
    assert [t.data.params["n"] for t in trials] == ["50000000", "10000"]
    broken, after = trials
    assert broken.info.status == "FAILED"
    error = broken.data.tags["parsweep.error"]
    assert "SIGKILL" in error or "terminated abruptly" in error or "killed" in error, error
    assert after.info.status == "FINISHED" and after.data.metrics["correct"] == 1.0
    assert f"{backend}" in "\n".join(sweep.stderr) and "1 of 2 trials failed" in "\n".join(sweep.stderr)
    left = wait_for_no_processes(sweep.marker, within_s=10)
    assert not left, describe_processes(left)
