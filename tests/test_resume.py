"""``resume=true``: a sweep skips the trials whose config hash already has a FINISHED run in
the experiment, says how many it skipped, and runs only the rest."""

from __future__ import annotations

from pathlib import Path

from conftest import TINY, all_runs, run_parsweep, runs_with_role, sqlite_uri


def test_resume_runs_only_what_is_missing(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    first = run_parsweep(["-m", "backend=serial,threading", "workers=1", *TINY], tmp_path, uri=uri)
    assert first.returncode == 0, first.explain()

    # serial (once), threading x1 (both done) and threading x2 (new): one trial to run.
    second = run_parsweep(["-m", "backend=serial,threading", "workers=1,2", "resume=true", *TINY], tmp_path, uri=uri)
    assert second.returncode == 0, second.explain()
    assert "skipping 2 of 3 trials" in second.stdout, second.explain()
    assert "[1/1]" in second.stdout
    runs = all_runs(uri)
    parents = runs_with_role(runs, "sweep")
    assert len(parents) == 2
    children = [r for r in runs_with_role(runs, "trial") if r.data.tags["mlflow.parentRunId"] == parents[-1].info.run_id]
    assert [(c.data.params["backend"], c.data.params["workers"]) for c in children] == [("threading", "2")]
    assert parents[-1].data.tags["parsweep.resume_skipped"] == "2"
    assert parents[-1].info.status == "FINISHED"

    # Everything done: nothing runs, and that is not a failure.
    third = run_parsweep(["-m", "backend=serial,threading", "workers=1,2", "resume=true", *TINY], tmp_path, uri=uri)
    assert third.returncode == 0, third.explain()
    assert "skipping 3 of 3 trials" in third.stdout and "nothing ran" in third.stdout, third.explain()
    assert len(runs_with_role(all_runs(uri), "trial")) == 3


def test_resume_does_not_skip_failed_trials(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    failed = run_parsweep(["-m", "backend=threading", "workers=2", "n=1e9", "timeout_s=0.5", "repeats=1", "warmup=0"], tmp_path, uri=uri)
    assert failed.returncode == 1, failed.explain()
    again = run_parsweep(["-m", "backend=threading", "workers=2", "n=1e9", "timeout_s=0.5", "repeats=1", "warmup=0", "resume=true"],
                         tmp_path, uri=uri)
    assert "skipping 0 of 1 trials" in again.stdout, again.explain()
    assert len(runs_with_role(all_runs(uri), "trial")) == 2
