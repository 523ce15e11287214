"""Where parsweep meets Hydra, tried as a Hydra user would: each case works, or gets one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import QUIET_WAIT, TINY, all_runs, count_runs_in_db, run_parsweep, runs_with_role, sqlite_uri

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

PRESET = """\
# @package _global_
hydra:
  sweeper:
    params:
      backend: serial,thread_pool
      workers: 2
repeats: 2
warmup: 0
n: 1e4
"""


def one_error_line(launch) -> str:
    assert launch.returncode == 2, launch.explain()
    assert len(launch.stderr_lines) == 1, launch.explain()
    assert "Traceback" not in launch.stdout + launch.stderr
    return launch.stderr_lines[0]


@pytest.mark.parametrize("how", ["--config-dir", "hydra.searchpath"])
def test_a_preset_in_a_directory_of_ones_own(launch_dir: Path, tmp_path: Path, how: str) -> None:
    presets = tmp_path / "mine"
    (presets / "sweep").mkdir(parents=True)
    (presets / "sweep" / "mine.yaml").write_text(PRESET)
    where = ["--config-dir", str(presets)] if how == "--config-dir" else [f"hydra.searchpath=[file://{presets}]"]
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", *where, "sweep=mine"], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    trials = runs_with_role(all_runs(uri), "trial")
    assert sorted(run.data.params["backend"] for run in trials) == ["serial", "thread_pool"]
    bad = run_parsweep(["-m", *where, "sweep=nosuch"], launch_dir, uri=uri)
    assert "sweep=nosuch: unknown sweep; choose one of:" in one_error_line(bad) and "mine" in bad.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["+foo=1"], ["foo=1", "parsweep has no such key", "keys are:"]),
        (["++foo=1"], ["foo=1", "parsweep has no such key"]),
        (["backend.start_method=spawn"], ["backend.start_method=spawn", "backend=serial has no start_method", "multiprocessing", "process_pool"]),
        (["-m", "backend=serial,multiprocessing", "backend.start_method=spawn"], ["backend=serial has no start_method"]),
        (["~workers"], ["~workers", "cannot be deleted"]),
        (["interference.retries=-1"], ["interference.retries=-1", ">= 0"]),
        (["interference.retris=1"], ["interference.retris", "did you mean interference.retries"]),
        (["schedule=shuffled"], ["schedule=shuffled", "interleaved", "sequential"]),
    ],
)
def test_mistakes_at_the_boundary_get_one_line(launch_dir: Path, args: list[str], words: list[str]) -> None:
    db = launch_dir / "store.db"
    line = one_error_line(run_parsweep([*args, *TINY], launch_dir, uri=sqlite_uri(db)))
    for word in words:
        assert word in line, line
    assert count_runs_in_db(db) == 0


def test_version_is_parsweeps(launch_dir: Path) -> None:
    launch = run_parsweep(["--version"], launch_dir)
    assert launch.returncode == 0
    assert launch.stdout.startswith("parsweep 0.1.0 (hydra-core "), launch.explain()


def test_a_logged_trial_runs_again_from_its_folder(launch_dir: Path) -> None:
    """``--config-dir <trial>/.hydra --config-name config``: with ``--cfg job``, with another
    backend, and for real, logged like any run."""
    uri = sqlite_uri(launch_dir / "mlflow.db")
    first = run_parsweep(["backend=multiprocessing", "backend.start_method=spawn", "workers=2", *TINY], launch_dir, uri=uri)
    assert first.returncode == 0, first.explain()
    (folder,) = [p.parent for p in (launch_dir / "outputs").rglob(".hydra")]
    logged = ["--config-dir", str(folder / ".hydra"), "--config-name", "config"]

    shown = run_parsweep([*logged, "--cfg", "job"], launch_dir, uri=uri)
    assert shown.returncode == 0, shown.explain()
    config = yaml.safe_load(shown.stdout)
    assert config["backend"] == {"name": "multiprocessing", "start_method": "spawn"} and config["workers"] == 2

    other = run_parsweep([*logged, "backend=threading", "--cfg", "job"], launch_dir, uri=uri)
    assert other.returncode == 0, other.explain()
    assert yaml.safe_load(other.stdout)["backend"] == {"name": "threading"}

    again = run_parsweep([*logged, "workers=1"], launch_dir, uri=uri)
    assert again.returncode == 0, again.explain()
    trials = runs_with_role(all_runs(uri), "trial")
    assert len(trials) == 2
    assert trials[-1].data.params["start_method"] == "spawn" and trials[-1].data.params["workers"] == "1"


def test_hydra_overrides_with_interpolations_are_kept_as_written(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(
        ["-m", "workload=sleep", "backend=serial,threading", "workers=2", "n=1000", "repeats=1", "warmup=0",
         "hydra.sweep.dir=swept", "hydra.sweep.subdir=t${hydra.job.num}"],
        launch_dir, uri=uri,
    )
    assert launch.returncode == 0, launch.explain()
    assert sorted(p.name for p in (launch_dir / "swept").iterdir() if p.is_dir()) == ["t0", "t1"]

    named = run_parsweep(
        ["-m", "workload=sleep", "backend=serial,threading", "workers=2", "n=1000", "repeats=1", "warmup=0",
         "hydra.sweep.dir=named", "hydra.sweep.subdir=${hydra.job.override_dirname}"],
        launch_dir, uri=uri,
    )
    assert named.returncode == 0, named.explain()
    folders = sorted(p for p in (launch_dir / "named").iterdir() if p.is_dir())
    # QUIET_WAIT and NO_PLOTS: run_parsweep adds them; Hydra's sweepers (its basic one too) spell a bool as Python does
    assert [p.name for p in folders] == [
        f"backend=serial,{QUIET_WAIT},n=1000,plots=False,repeats=1,warmup=0,workers=1,workload=sleep",
        f"backend=threading,{QUIET_WAIT},n=1000,plots=False,repeats=1,warmup=0,workers=2,workload=sleep",
    ]
    for folder in folders:
        recorded = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())["hydra"]["overrides"]["hydra"]
        assert "hydra.sweep.subdir=${hydra.job.override_dirname}" in recorded, recorded


def test_job_logging_gives_every_job_its_own_log_file(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(
        ["-m", "backend=serial,threading", "workers=2", *TINY, "hydra/job_logging=default", "hydra.sweep.dir=logs"],
        launch_dir, uri=uri,
    )
    assert launch.returncode == 0, launch.explain()
    for job in ("0", "1"):
        assert list((launch_dir / "logs" / job).glob("*.log")), f"job {job} has no log file"
