"""The small frictions of a first hour with parsweep, each made real: the plan before the run,
where things end up, warnings under their trial, every swept value on its line, nothing stray."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import HELD_LOCK, TINY, all_runs, clean_env, count_runs_in_db, multirun_trial_dirs, parsweep_command, run_parsweep, runs_with_role, sqlite_uri

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def test_a_dry_run_lists_the_plan_and_runs_nothing(launch_dir: Path) -> None:
    db = launch_dir / "mlflow.db"
    launch = run_parsweep(["-m", "backend=serial,threading,process_pool", "workers=1,2", "n=1e6,1e7", "--dry-run"], launch_dir,
                          uri=sqlite_uri(db))
    assert launch.returncode == 0, launch.explain()
    lines = launch.stdout.splitlines()
    # repeats=auto (the default): the most the measuring may take, and the rule that ends it
    assert re.match(r"parsweep: dry run: 10 trials, up to \d+:\d\d \(repeats=auto: until each speedup is known within \+-3%; "
                    r"sweep_budget_s=300\) \+ up to 1:00 waiting for a quiet machine \(interference\.budget_s\)" + HELD_LOCK +
                    r" \(nothing runs, no MLflow run is created\)", lines[0]), lines[0]
    listed = [line for line in lines if re.match(r"\s+\[\s*\d+/10\]", line)]
    assert len(listed) == 10  # serial once per n: 2 + 2 backends x 2 workers x 2 n
    assert sum("serial · n=" in line for line in listed) == 2
    assert all("python 3." in line for line in listed)
    assert count_runs_in_db(db) == 0 and not db.exists() and multirun_trial_dirs(launch_dir) == []
    fixed = run_parsweep(["-m", "backend=serial,threading", "workers=1,2", "n=1e6", "repeats=5", "--dry-run"], launch_dir)
    assert re.match(r"parsweep: dry run: 3 trials, about \d+:\d\d \+ up to 1:00 waiting", fixed.stdout), fixed.explain()
    quick = run_parsweep(["-m", "--dry-run"], launch_dir)
    assert quick.returncode == 0 and "dry run: 20 trials" in quick.stdout, quick.explain()


def test_a_sweep_says_its_estimate_where_it_ends_up_and_each_swept_value(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "workload=sum_range,count_primes", "backend=serial,process_pool", "workers=2", "chunks=2,4",
                           "n=2000", "repeats=2", "warmup=0"], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    out = launch.stdout
    # (the 0:01 is the tests' own interference.budget_s, conftest.QUIET_WAIT: 1:00 by default, as the dry runs above show)
    assert re.search(r"parsweep: 6 trials, about \d+:\d\d \+ up to 0:01 waiting for a quiet machine \(interference\.budget_s\)" + HELD_LOCK
                     + " -> experiment", out), out
    trial_lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(trial_lines) == 6
    assert len(set(re.sub(r"wall .*", "", line[6:]) for line in trial_lines)) == 6, "two trials print the same line"
    assert all("workload=" in line for line in trial_lines) and sum("chunks=4" in line for line in trial_lines) == 2
    (parent,) = runs_with_role(all_runs(uri), "sweep")
    folder = re.search(r"Its output folder: (\S+)", out)
    assert folder and Path(folder.group(1)).is_dir() and (Path(folder.group(1)) / "multirun.yaml").is_file()
    report = re.search(r"Its report files: (\S+)", out)
    assert report and (Path(report.group(1)) / "report.md").is_file(), out
    assert f"This sweep's run id: {parent.info.run_id}" in out


def test_a_lone_trial_says_its_run_id(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["backend=serial", *TINY], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    (run,) = runs_with_role(all_runs(uri), "trial")
    assert f"This trial's run id: {run.info.run_id}" in launch.stdout


def test_nothing_stray_in_the_output_or_the_tree(launch_dir: Path) -> None:
    """No serial trial (no speedups: no plotting warnings), no lock or temp files beside the store."""
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "backend=threading,thread_pool", "workers=1,2", *TINY], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    assert launch.stderr.strip() == "", launch.explain()
    assert sorted(p.name for p in launch_dir.iterdir()) == ["mlflow.db", "mlruns", "multirun"]


def test_help_piped_into_head_exits_quietly(launch_dir: Path) -> None:
    command = " ".join(parsweep_command()) + " --help | head -1; echo exit=${PIPESTATUS[0]}"
    done = subprocess.run(["bash", "-c", command], cwd=launch_dir, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stdout.splitlines()[-1] == "exit=0", done.stdout
