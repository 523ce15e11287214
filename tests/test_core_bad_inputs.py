"""Bad input, each through a real ``parsweep`` process: one clear line, non-zero exit, nothing run."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conftest import TESTS_DIR, TINY, count_runs_in_db, multirun_trial_dirs, run_parsweep, sqlite_uri

pytestmark = pytest.mark.timeout(120)


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CASES = [
    # (arguments, the key the line must name, words the allowed values must include)
    (["backend=foo"], "backend", ["serial", "threading", "multiprocessing", "thread_pool", "process_pool"]),
    (["workers=0"], "workers", [">= 1"]),
    (["n=-5"], "n", [">= 1"]),
    (["n=abc"], "n", ["1e8"]),
    (["n=1.5"], "n", ["whole number"]),
    (["repeats=0"], "repeats", [">= 1"]),
    (["wrkers=2"], "wrkers", ["workers"]),
    (["backend.strat_method=spawn"], "backend.strat_method", ["start_method"]),
    (["backend=multiprocessing", "backend.start_method=vfork"], "backend.start_method", ["fork", "spawn", "forkserver"]),
    (["backend=process_pool", "backend.start_method=thread"], "backend.start_method", ["fork", "spawn", "forkserver"]),
    (["-m", "workers=1,0"], "workers", [">= 1"]),
    (["-m", "backend=threading,foo"], "backend", ["serial"]),
    (["-m", "backend=multiprocessing", "backend.start_method=fork,bogus"], "backend.start_method", ["forkserver"]),
    (["-m", "n=1e4,-1"], "n", [">= 1"]),
    (["tracking=server", "tracking.uri=http://127.0.0.1:{port}"], "tracking.uri", ["cannot reach"]),
    (["-m", "backend=serial,threading", "tracking=server", "tracking.uri=http://127.0.0.1:{port}"], "tracking.uri", ["cannot reach"]),
]


def case_id(case) -> str:
    return " ".join(case[0]).replace("{port}", "PORT")


@pytest.mark.slow
@pytest.mark.parametrize("args, key, allowed", CASES, ids=[case_id(c) for c in CASES])
def test_bad_input_stops_before_anything_runs(launch_dir: Path, args: list[str], key: str, allowed: list[str]) -> None:
    port = closed_port()
    args = [a.replace("{port}", str(port)) for a in args]
    db = launch_dir / "store.db"
    launch = run_parsweep([*args, *TINY], launch_dir, uri=sqlite_uri(db))

    assert launch.returncode != 0, launch.explain()
    assert len(launch.stderr_lines) == 1, launch.explain()
    line = launch.stderr_lines[0]
    assert key in line, launch.explain()
    for word in allowed:
        assert word in line, launch.explain()
    assert "Traceback" not in launch.stderr + launch.stdout
    assert count_runs_in_db(db) == 0, "a bad input created an MLflow run"
    assert not (launch_dir / "mlflow.db").exists()
    assert multirun_trial_dirs(launch_dir) == [], "a bad input left job output directories"


def test_custom_module_not_on_the_allowlist_is_refused(launch_dir: Path) -> None:
    db = launch_dir / "store.db"
    args = ["workload=custom", "workload.function=faults:good_sum", f"workload.pythonpath={TESTS_DIR}", *TINY]
    for mode in ([], ["-m"]):
        launch = run_parsweep([*mode, *args], launch_dir, uri=sqlite_uri(db))
        assert launch.returncode == 2, launch.explain()
        assert len(launch.stderr_lines) == 1, launch.explain()
        line = launch.stderr_lines[0]
        assert "workload.function" in line and "allowlist" in line and "PARSWEEP_ALLOW_MODULES" in line
        assert "Traceback" not in launch.stderr + launch.stdout
        assert count_runs_in_db(db) == 0
        assert multirun_trial_dirs(launch_dir) == []


def test_custom_module_refused_with_default_pythonpath(launch_dir: Path) -> None:
    """The default ``workload.pythonpath`` is ``${hydra:runtime.cwd}``: validating it must work before the run."""
    db = launch_dir / "store.db"
    launch = run_parsweep(["workload=custom", "workload.function=faults:good_sum", *TINY], launch_dir, uri=sqlite_uri(db))
    assert launch.returncode == 2, launch.explain()
    assert len(launch.stderr_lines) == 1 and "allowlist" in launch.stderr_lines[0], launch.explain()
    assert count_runs_in_db(db) == 0
