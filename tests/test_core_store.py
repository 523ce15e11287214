"""Where runs land (launch dir, not the job's working directory) and what cannot hijack them."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TINY, all_runs, client_for, count_runs_in_db, run_parsweep, runs_with_role, sqlite_uri

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

ONE_TRIAL_SWEEP = ["-m", "backend=serial", "n=1e4", "repeats=1", "warmup=0"]


def stray_db_files(launch_dir: Path, keep: Path) -> list[Path]:
    return [p for p in launch_dir.rglob("*.db") if p != keep]


def test_chdir_sweep_logs_to_the_launch_dir(launch_dir: Path) -> None:
    """hydra.job.chdir=True moves each job into multirun/...; the default store stays put."""
    launch = run_parsweep([*ONE_TRIAL_SWEEP, "hydra.job.chdir=True"], launch_dir)
    assert launch.returncode == 0, launch.explain()
    store = launch_dir / "mlflow.db"
    assert store.exists()
    assert stray_db_files(launch_dir, store) == []
    runs = all_runs(sqlite_uri(store))
    assert len(runs_with_role(runs, "sweep")) == 1
    trials = runs_with_role(runs, "trial")
    assert len(trials) == 1 and trials[0].info.status == "FINISHED"
    assert (launch_dir / "multirun").exists(), "the job really ran in its own directory"
    # Artifacts were found although the job's working directory moved.
    paths = {a.path for a in client_for(sqlite_uri(store)).list_artifacts(trials[0].info.run_id)}
    assert {"host.json", ".hydra"} <= paths


def test_chdir_lone_run_with_relative_tracking_uri(launch_dir: Path) -> None:
    """MLFLOW_TRACKING_URI=sqlite:///rel.db resolves against the launch dir, not outputs/..."""
    launch = run_parsweep(["backend=threading", *TINY, "hydra.job.chdir=True"], launch_dir, uri="sqlite:///rel.db")
    assert launch.returncode == 0, launch.explain()
    store = launch_dir / "rel.db"
    assert count_runs_in_db(store) == 1
    assert stray_db_files(launch_dir, store) == []
    assert not (launch_dir / "mlflow.db").exists()
    assert (launch_dir / "outputs").exists()


def test_tracking_uri_setting_wins_over_the_environment_and_experiment_names_it(launch_dir: Path) -> None:
    chosen = launch_dir / "chosen.db"
    launch = run_parsweep(
        [*ONE_TRIAL_SWEEP, f"tracking.uri={sqlite_uri(chosen)}", "experiment=mine"],
        launch_dir,
        uri=sqlite_uri(launch_dir / "env.db"),
    )
    assert launch.returncode == 0, launch.explain()
    assert count_runs_in_db(chosen) == 2
    assert count_runs_in_db(launch_dir / "env.db") == 0
    uri = sqlite_uri(chosen)
    experiment = client_for(uri).get_experiment_by_name("mine")
    assert experiment is not None
    assert {r.info.experiment_id for r in all_runs(uri)} == {experiment.experiment_id}


def snapshot(run) -> tuple:
    return (
        run.info.status,
        run.info.start_time,
        run.info.end_time,
        dict(run.data.params),
        dict(run.data.metrics),
        dict(run.data.tags),
    )


def test_stray_mlflow_run_id_cannot_hijack_and_the_experiment_is_created_once(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "shared.db")
    first = run_parsweep(ONE_TRIAL_SWEEP, launch_dir, uri=uri)
    assert first.returncode == 0, first.explain()
    before = {run.info.run_id: snapshot(run) for run in all_runs(uri)}
    assert len(before) == 2
    parent_id = next(r.info.run_id for r in runs_with_role(all_runs(uri), "sweep"))
    child_id = next(r.info.run_id for r in runs_with_role(all_runs(uri), "trial"))

    second = run_parsweep([*ONE_TRIAL_SWEEP, "n=2e4"], launch_dir, uri=uri, env={"MLFLOW_RUN_ID": child_id})
    assert second.returncode == 0, second.explain()
    lone = run_parsweep(["backend=serial", "n=3e4", "repeats=1", "warmup=0"], launch_dir, uri=uri, env={"MLFLOW_RUN_ID": parent_id})
    assert lone.returncode == 0, lone.explain()

    after = {run.info.run_id: run for run in all_runs(uri)}
    assert len(after) == 5, "two new sweep runs and one lone trial, all new"
    for run_id, state in before.items():
        assert snapshot(after[run_id]) == state, f"run {run_id} was changed by a later launch"
    new = [run for run_id, run in after.items() if run_id not in before]
    assert sorted(r.data.params.get("n", "-") for r in new) == ["-", "20000", "30000"]
    new_parent = next(r for r in new if r.data.tags.get("parsweep.role") == "sweep")
    new_child = next(r for r in new if r.data.params.get("n") == "20000")
    assert new_child.data.tags["mlflow.parentRunId"] == new_parent.info.run_id
    lone_run = next(r for r in new if r.data.params.get("n") == "30000")
    assert "mlflow.parentRunId" not in lone_run.data.tags

    # One experiment, created once, holds every run of every launch.
    from mlflow.entities import ViewType

    experiments = [e for e in client_for(uri).search_experiments(view_type=ViewType.ALL) if e.name == "parsweep"]
    assert len(experiments) == 1
    assert {run.info.experiment_id for run in after.values()} == {experiments[0].experiment_id}


def test_no_active_run_leaks_in_process(hydra_conf, tmp_path: Path, monkeypatch) -> None:
    import mlflow

    from runner.app.main import task

    monkeypatch.chdir(tmp_path)
    for backend in ("threading", "process_pool"):
        cfg = hydra_conf("config", overrides=[f"backend={backend}", *TINY])
        result = task(cfg)
        assert result.error is None and result.correct
        assert mlflow.active_run() is None
    assert list(tmp_path.iterdir()) == [], "running a task alone must not touch a store"
