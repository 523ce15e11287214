"""Faults of the tracking store: unreachable at start, and gone in the middle of a sweep.

At start the sweep refuses to run, with one line. In the middle (a real ``mlflow server`` on
127.0.0.1, stopped by the test while the sweep runs), trials keep running, every result is
kept in the sweep's journal, and ``parsweep-journal upload DIR`` puts them all into
the store once it is back: nothing is lost, nothing is logged twice.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_faults_support import Background, MlflowServer, free_port

from conftest import LOCK_FILE, QUIET_WAIT, all_runs, clean_env, multirun_trial_dirs, run_parsweep, runs_with_role

pytestmark = [pytest.mark.slow]


def test_unreachable_store_at_start_refuses_to_run(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    launch = run_parsweep(["-m", "backend=serial,threading", "n=1e4", f"tracking.uri={uri}"], tmp_path)
    assert launch.returncode == 2, launch.explain()
    assert len(launch.stderr_lines) == 1, launch.stderr
    assert "cannot reach the MLflow tracking server" in launch.stderr and "tracking.uri" in launch.stderr
    assert not multirun_trial_dirs(tmp_path), "a trial ran"


def test_server_stopped_mid_sweep_then_journal_upload(tmp_path: Path) -> None:
    launch_dir = tmp_path / "launch"
    launch_dir.mkdir()
    server = MlflowServer(tmp_path / "server").start()
    sweep = None
    try:
        sweep = Background(
            ["-m", "backend=serial", "n=1e4,2e4,3e4,4e4", "repeats=2", "warmup=0", QUIET_WAIT, f"tracking.uri={server.uri}"], launch_dir
        )
        sweep.wait_for_line("[1/4]")
        # Hold the host lock so that the next trial waits while the server goes away.
        with open(LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            server.stop()
            fcntl.flock(lock, fcntl.LOCK_UN)
        code = sweep.finish(timeout=120)
    finally:
        if sweep is not None and sweep.process.poll() is None:
            sweep.kill()
        server.stop()
    output = sweep.output()
    assert code == 3, output
    assert "[4/4]" in output, "trials stopped running when the store went away"
    assert "unreachable" in output and "parsweep-journal upload" in output
    (journal,) = launch_dir.rglob("parsweep-journal.jsonl")

    # Nothing was lost: the journal holds all four trials with their numbers.
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    trials = [r for r in records if r["kind"] == "trial"]
    assert len(trials) == 4 and all(r["metrics"]["correct"] == 1.0 for r in trials)
    assert all(len(r["series"]["rep_wall_time_s"]) == 2 for r in trials)

    server = MlflowServer(tmp_path / "server", port=server.port).start()
    try:
        upload = subprocess.run(
            [str(Path(sys.executable).with_name("parsweep-journal")), "upload", str(journal.parent)],
            capture_output=True, text=True, env=clean_env(), timeout=120,
        )
        assert upload.returncode == 0, upload.stdout + upload.stderr
        assert "View run" not in upload.stdout + upload.stderr, "MLflow's own per-run lines leak into the upload's output"
        again = subprocess.run(
            [str(Path(sys.executable).with_name("parsweep-journal")), "upload", str(journal.parent)],
            capture_output=True, text=True, env=clean_env(), timeout=120,
        )
        assert again.returncode == 0 and "nothing to upload" in again.stdout, again.stdout + again.stderr
        runs = all_runs(server.uri)
    finally:
        server.stop()
    (parent,) = runs_with_role(runs, "sweep")
    trials = runs_with_role(runs, "trial")
    assert len(trials) == 4, [t.info.run_name for t in trials]
    assert sorted(int(t.data.params["n"]) for t in trials) == [10000, 20000, 30000, 40000]
    for run in trials:
        assert run.info.status == "FINISHED"
        assert run.data.metrics["correct"] == 1.0 and "wall_time_s" in run.data.metrics
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.info.status == "FINISHED"
