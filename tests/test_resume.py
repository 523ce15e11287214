"""``resume``: finish an interrupted sweep, in the sweep's own run.

Only the sweep being resumed counts (the most recent one of the experiment with the same plan,
or the one named by ``resume=<run id>``): its FINISHED trials are skipped, everything else
runs and joins that sweep's run, so its report holds both halves, baselines included.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
from test_faults_support import Background

from analysis.report import load_report
from conftest import NO_PLOTS, QUIET_WAIT, TINY, all_runs, parsweep_command, run_parsweep, runs_with_role, sqlite_uri

pytestmark = [pytest.mark.slow]

# Two groups measured one after the other: n=1e4 (quick) then n=3e7 (a few seconds).
SWEEP = ["-m", "backend=serial,threading", "workers=2", "n=1e4,3e7", "repeats=3", "warmup=0", QUIET_WAIT, NO_PLOTS]


def children(uri: str, parent_id: str) -> list:
    return [r for r in runs_with_role(all_runs(uri), "trial") if r.data.tags["mlflow.parentRunId"] == parent_id]


def test_resume_finishes_the_interrupted_sweep_in_its_own_run(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    sweep = Background(SWEEP, tmp_path, uri=uri)
    try:
        # the n=1e4 group is recorded; the n=3e7 group comes next: once its trial process runs, it is
        # being measured (right after the line, a busy machine could deliver the Ctrl-C before that
        # group had begun: CI did)
        sweep.wait_for_trial_process("[2/4]")
        os.killpg(sweep.pid, signal.SIGINT)
        assert sweep.finish(timeout=60) == 130, sweep.output()
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    # the end of an interrupted sweep names the exact command that finishes it
    resume_line = f"parsweep: to finish it (only what did not finish runs): {'parsweep' if parsweep_command()[0].endswith('/parsweep') and shutil.which('parsweep') == parsweep_command()[0] else parsweep_command()[0]} {' '.join(SWEEP)} resume=true"
    assert resume_line in sweep.stderr, sweep.output()
    (parent,) = runs_with_role(all_runs(uri), "sweep")
    assert parent.info.status == "KILLED"
    assert sorted(r.info.status for r in children(uri, parent.info.run_id)) == ["FINISHED", "FINISHED", "KILLED", "KILLED"]

    again = run_parsweep([*SWEEP, "resume=true"], tmp_path, uri=uri)
    assert again.returncode == 0, again.explain()
    assert f"resuming sweep {parent.info.run_id}: 2 of 4 trials already FINISHED there; running 2" in again.stdout, again.explain()
    assert "[2/2]" in again.stdout and "[3/" not in again.stdout
    assert f"This sweep's run id: {parent.info.run_id}" in again.stdout
    (same,) = runs_with_role(all_runs(uri), "sweep")
    assert same.info.run_id == parent.info.run_id and same.info.status == "FINISHED"
    assert same.data.tags["parsweep.resumed"] == "1" and same.data.tags["parsweep.resume_skipped"] == "2"
    finished = [r for r in children(uri, parent.info.run_id) if r.info.status == "FINISHED"]
    assert sorted((r.data.params["backend"], r.data.params["n"]) for r in finished) == [
        ("serial", "10000"), ("serial", "30000000"), ("threading", "10000"), ("threading", "30000000"),
    ]
    # The sweep's report holds both halves: every row has its serial baseline.
    report = load_report(uri, sweep=parent.info.run_id, intervals=False)
    assert len(report.table) == 4 and report.table["speedup"].notna().all()
    # ... and does not read as a failure: the two KILLED runs were measured again
    assert "4 of 4 trials finished" in again.stdout, again.stdout
    assert "not finished" not in again.stdout and "2 runs stopped before the sweep was resumed were measured again" in again.stdout

    done = run_parsweep([*SWEEP, "resume=true"], tmp_path, uri=uri)
    assert done.returncode == 0, done.explain()
    assert "4 of 4 trials already FINISHED" in done.stdout and "nothing ran" in done.stdout, done.explain()
    assert len(runs_with_role(all_runs(uri), "trial")) == 6


def test_resume_counts_only_the_sweep_being_resumed(tmp_path: Path) -> None:
    """Another sweep that ran the same trial does not make this one skip it."""
    uri = sqlite_uri(tmp_path / "mlflow.db")
    other = run_parsweep(["-m", "backend=serial", *TINY], tmp_path, uri=uri)
    assert other.returncode == 0, other.explain()
    resumed = run_parsweep(["-m", "backend=serial,threading", "workers=1", *TINY, "resume=true"], tmp_path, uri=uri)
    assert resumed.returncode == 0, resumed.explain()
    assert "no earlier sweep with this plan" in resumed.stdout and "[2/2]" in resumed.stdout, resumed.explain()
    assert len(runs_with_role(all_runs(uri), "sweep")) == 2


def test_resume_by_run_id_and_failed_trials_run_again(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    args = ["-m", "backend=threading", "workers=2", "n=1e9", "timeout_s=0.5", "repeats=1", "warmup=0"]
    failed = run_parsweep(args, tmp_path, uri=uri)
    assert failed.returncode == 1, failed.explain()
    (parent,) = runs_with_role(all_runs(uri), "sweep")
    again = run_parsweep([*args, f"resume={parent.info.run_id}"], tmp_path, uri=uri)
    assert again.returncode == 1, again.explain()
    assert "0 of 1 trials already FINISHED there; running 1" in again.stdout, again.explain()
    assert len(children(uri, parent.info.run_id)) == 2
    bad = run_parsweep([*args, "resume=0123456789abcdef0123456789abcdef"], tmp_path, uri=uri)
    assert bad.returncode == 2 and "resume=0123456789abcdef0123456789abcdef: no sweep run with that id" in bad.stderr, bad.explain()
