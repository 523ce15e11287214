"""Bad input, each through a real ``parsweep`` process: one clear line, non-zero exit, nothing run."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from conftest import TESTS_DIR, TINY, count_runs_in_db, multirun_trial_dirs, processes_with_marker, run_parsweep, sqlite_uri

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
    (["-m", "backend=serial,threading", "plots=maybe"], "plots", ["true or false"]),
    (["tracking=server", "tracking.uri=http://127.0.0.1:{port}"], "tracking.uri", ["cannot reach"]),
    (["-m", "backend=serial,threading", "tracking=server", "tracking.uri=http://127.0.0.1:{port}"], "tracking.uri", ["cannot reach"]),
    (["-m", "workers=100000", "--dry-run"], "workers", ["at most 1024"]),
    (["backend=threading", "workers=2000"], "workers", ["at most 1024"]),
    (["-m", "workload=custom", "workload.function=faults:chnk", "workload.allow=[faults]", f"workload.pythonpath={TESTS_DIR}"],
     "workload.function=faults:chnk", ["has no function 'chnk'"]),
    (["-m", "workload=custom", "workload.function=no_such_module:work", "workload.allow=[no_such_module]"],
     "workload.function=no_such_module:work", ["cannot import module 'no_such_module'"]),
    (["-m", "workload=numpy_sum", "backend=interpreters"], "workload=numpy_sum", ["backend=interpreters", "subinterpreters"]),
    # a list where a part's schema declares a string: Hydra would refuse it in many lines; one line here
    (["backend=multiprocessing", "backend.start_method=[fork,spawn]"], "backend.start_method", ["fork, spawn, forkserver"]),
    (["-m", "workload=custom", "workload.function=faults:good_sum", "workload.combine=[a]"], "workload.combine", ["one value"]),
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

    assert launch.returncode == 2, launch.explain()
    assert len(launch.stderr_lines) == 1, launch.explain()
    line = launch.stderr_lines[0]
    assert key in line, launch.explain()
    for word in allowed:
        assert word in line, launch.explain()
    assert "Traceback" not in launch.stderr + launch.stdout
    assert count_runs_in_db(db) == 0, "a bad input created an MLflow run"
    assert not (launch_dir / "mlflow.db").exists()
    assert multirun_trial_dirs(launch_dir) == [], "a bad input left job output directories"
    assert not (launch_dir / "multirun").exists() and not (launch_dir / "outputs").exists(), "a bad input left an output folder"


#: An interpreter slow to start (a cold disk, a busy machine), without parsweep's packages (-S: no
#: site-packages, like another CPython in /opt): it finds the trial code only in parsweep's folder.
SLOW_PYTHON = """#!{python} -S
import os, sys, time
time.sleep(2.0)
os.execv(sys.executable, [sys.executable, "-S", *sys.argv[1:]])
"""


def test_a_store_that_fails_while_the_fork_server_boots_leaves_one_line_and_no_process(launch_dir: Path) -> None:
    """The fork server starts as soon as the plan is valid, so it can still be booting when the
    store turns out to be unreachable. The launch then ends with its one line: the server is
    ended, not left to print an import error once the trial code's folder is gone (the CI failure
    of stop 34), and no process of the launch is left behind. The trials' interpreter here
    sleeps 2 s before it becomes Python: a real, deterministic slow boot (``SLOW_PYTHON``)."""
    slow = launch_dir / "slowpython"
    slow.write_text(SLOW_PYTHON.format(python=sys.executable))
    slow.chmod(0o755)
    temp = launch_dir / "tmp"
    temp.mkdir()
    launch = run_parsweep([f"python={slow}", "tracking=server", f"tracking.uri=http://127.0.0.1:{closed_port()}", *TINY],
                          launch_dir, uri=sqlite_uri(launch_dir / "store.db"), env={"TMPDIR": str(temp)})

    assert launch.returncode == 2, launch.explain()
    assert len(launch.stderr_lines) == 1 and "cannot reach the MLflow tracking server" in launch.stderr, launch.explain()
    assert processes_with_marker(launch.marker) == [], "the launch left a process behind"
    assert list(temp.iterdir()) == [], "the launch left a temporary folder"


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


# A config folder with mistakes inside its files: each must be named with its file and key.
CONFIG_DIR_FILES = {
    "sweep/typo_key.yaml": "# @package _global_\nrepeat: 3\n",
    "sweep/typo_param.yaml": "# @package _global_\nhydra:\n  sweeper:\n    params:\n      backnd: serial\n",
    "sweep/bad_value.yaml": "# @package _global_\nhydra:\n  sweeper:\n    params:\n      workers: 1,0\n",
    "sweep/malformed.yaml": "# @package _global_\nhydra: [\n  x: 1\n",
    "../broken/config.yaml": "n: [1\nbackend: x\n",
}
FOLDER_CASES = [
    (["-m", "--config-dir", "confs", "sweep=typo_key"], ["sweep=typo_key", "typo_key.yaml", "repeat=3", "did you mean repeats"]),
    (["-m", "--config-dir", "confs", "sweep=typo_param"], ["sweep=typo_param", "typo_param.yaml", "hydra.sweeper.params", "backnd", "did you mean backend"]),
    (["-m", "--config-dir", "confs", "sweep=bad_value"], ["sweep=bad_value", "bad_value.yaml", "workers", ">= 1"]),
    (["-m", "--config-dir", "confs", "sweep=malformed"], ["sweep=malformed", "malformed.yaml", "not valid YAML", "line 4"]),
    (["-m", "--config-dir", "no_such_folder", "sweep=mine"], ["--config-dir=no_such_folder", "no such folder"]),
    (["--config-dir", "broken", "--config-name", "config"], ["--config-dir=broken", "broken/config.yaml", "not valid YAML", "line 2"]),
]


@pytest.mark.parametrize("args, words", FOLDER_CASES, ids=[" ".join(c[0]) for c in FOLDER_CASES])
def test_mistakes_inside_config_folders_are_refused_up_front(launch_dir: Path, args: list[str], words: list[str]) -> None:
    for name, text in CONFIG_DIR_FILES.items():
        path = launch_dir / "confs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    db = launch_dir / "store.db"
    launch = run_parsweep([*args, *TINY], launch_dir, uri=sqlite_uri(db))
    assert launch.returncode == 2, launch.explain()
    assert len(launch.stderr_lines) == 1, launch.explain()
    for word in words:
        assert word in launch.stderr_lines[0], launch.explain()
    assert "Traceback" not in launch.stderr + launch.stdout
    assert count_runs_in_db(db) == 0
    assert not (launch_dir / "multirun").exists() and not (launch_dir / "outputs").exists()
