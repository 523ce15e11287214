"""Adding a backend or a workload is its module plus its YAML file, and it works: proved with throwaway ones.

Each test copies the source (``runner``, ``analysis``, ``conf``) into a temporary checkout, as a
contributor's would be, writes one throwaway module and one YAML file there and nothing else,
then runs a real tiny sweep from that checkout (real Hydra composition, fork servers, trial
processes, a sqlite MLflow store in ``tmp_path``). The sweep-end report lists the new part, in
the place its module declares; the fork servers preload what it declares.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, all_runs, clean_env, run_parsweep, sqlite_uri

pytestmark = pytest.mark.timeout(300)

BACKEND_MODULE = '''
"""A throwaway backend: a thread per chunk, as ``threading``, under a name and a place of its own."""
from runner.trial.backends.threading import ThreadingBackend


class ThrowawayBackend(ThreadingBackend):
    name = "throwaway"
    table_order = 15  # after threading (10), before thread_pool (20)
    preload = True


BACKEND = ThrowawayBackend
'''

WORKLOAD_MODULE = '''
"""A throwaway workload: the sum of the squares of range(0, n), in a pure-Python loop."""
from runner.trial.workloads.base import Workload


def squares_chunk(start, end):
    total = 0
    for i in range(start, end):
        total += i * i
    return total


class Squares(Workload):
    name = "squares"

    @classmethod
    def item_cost_s(cls, n, options, loop_cost_s):
        return 1.5 * loop_cost_s()

    @property
    def chunk_function(self):
        return squares_chunk

    def expected(self, n):
        return (n - 1) * n * (2 * n - 1) // 6


WORKLOAD = Squares
'''


def checkout(tmp_path: Path) -> Path:
    """The source as a contributor's checkout: the packages and the config, nothing of this test run."""
    source = tmp_path / "checkout"
    for part in ("runner", "analysis", "conf"):
        shutil.copytree(REPO / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    return source


def add(source: Path, module: str, text: str, yaml: str) -> None:
    """The one module and the one YAML file a new part is."""
    (source / module).write_text(textwrap.dedent(text))
    group, name = Path(yaml).parent.name, Path(yaml).stem  # it extends the schema made from its module's OPTIONS
    (source / yaml).write_text(f"defaults:\n  - /parsweep_schema_{group}_{name}@_here_\n  - _self_\nname: {name}\n")


def sweep(source: Path, tmp_path: Path, args: list[str]) -> tuple[str, str]:
    """A real tiny sweep run from ``source``: its terminal output and its store's URI."""
    launch_dir = tmp_path / "launch"
    launch_dir.mkdir()
    uri = sqlite_uri(tmp_path / "mlflow.db")
    launch = run_parsweep(["-m", *args, "n=1e4", "repeats=1", "warmup=0"], launch_dir, uri=uri,
                          env={"PYTHONPATH": str(source)}, command=[sys.executable, "-m", "runner"])
    assert launch.returncode == 0, launch.explain()
    return launch.stdout, uri


def table_rows(stdout: str, workload: str) -> list[str]:
    """The rows of the sweep-end report's table for ``workload``: from below its header's rule to a blank line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(f"workload {workload}"))
    rule = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("─"))
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip():
            break
        rows.append(line)
    return rows


def test_a_new_backend_is_its_module_and_its_yaml(tmp_path: Path) -> None:
    source = checkout(tmp_path)
    add(source, "runner/trial/backends/throwaway.py", BACKEND_MODULE, "conf/backend/throwaway.yaml")
    # the fork servers preload it: it says so, and the registry the launcher asks reads it
    preload = subprocess.run([sys.executable, "-c", "from runner.trial.forkserver import preload; print(preload())"],
                             cwd=tmp_path, env=clean_env(PYTHONPATH=str(source)), capture_output=True, text=True, check=True)
    assert "runner.trial.backends.throwaway" in preload.stdout, preload.stdout + preload.stderr
    # the verdict's kinds read what it declares (a thread backend, workers started in each repetition)
    kinds = subprocess.run([sys.executable, "-c", "from analysis.claims import verdict as v; "
                            "print(v.THREAD_BACKENDS, v.STARTUP_INSIDE_WALL, v.CHUNKED_BACKENDS, sep='|')"],
                           cwd=tmp_path, env=clean_env(PYTHONPATH=str(source)), capture_output=True, text=True, check=True)
    threads, inside, chunked = kinds.stdout.strip().split("|")
    assert "'throwaway'" in threads and "'throwaway'" in inside and "'throwaway'" not in chunked, kinds.stdout

    stdout, uri = sweep(source, tmp_path, ["backend=throwaway,threading,serial", "workers=2"])
    trials = [run for run in all_runs(uri) if run.data.tags.get("parsweep.role") == "trial"]
    assert sorted(run.data.params["backend"] for run in trials) == ["serial", "threading", "throwaway"]
    assert all(run.info.status == "FINISHED" for run in trials)
    # the report lists backends in their declared order (serial 0, threading 10, throwaway 15), not the command line's
    backends = [row.split()[1] for row in table_rows(stdout, "sum_range")]
    assert backends == ["serial", "threading", "throwaway"], stdout


def test_a_new_workload_is_its_module_and_its_yaml(tmp_path: Path) -> None:
    source = checkout(tmp_path)
    add(source, "runner/trial/workloads/squares.py", WORKLOAD_MODULE, "conf/workload/squares.yaml")
    stdout, uri = sweep(source, tmp_path, ["workload=squares,sum_range", "backend=serial,thread_pool", "workers=2"])
    trials = [run for run in all_runs(uri) if run.data.tags.get("parsweep.role") == "trial"]
    assert sorted(run.data.params["workload"] for run in trials) == ["squares", "squares", "sum_range", "sum_range"]
    assert all(run.info.status == "FINISHED" for run in trials), [run.data.tags.get("parsweep.error") for run in trials]
    assert [row.split()[1] for row in table_rows(stdout, "squares")] == ["serial", "thread_pool"], stdout


def test_the_fork_servers_preload_what_the_parts_declare() -> None:
    """The trial code, every backend and workload declaring ``preload``; never NumPy's workload (it slows forked workers)."""
    from runner.trial import backends, workloads
    from runner.trial.forkserver import TRIAL_CODE, preload

    modules = preload()
    assert modules[: len(TRIAL_CODE)] == list(TRIAL_CODE)
    for registry, package in ((backends, "runner.trial.backends"), (workloads, "runner.trial.workloads")):
        for name in registry.available():
            assert (f"{package}.{name}" in modules) == registry.get(name).preload, name
    assert "runner.trial.workloads.numpy_sum" not in modules and "runner.trial.backends.ray" not in modules
    assert {"runner.trial.backends.serial", "runner.trial.backends.process_pool", "runner.trial.workloads.sum_range"} <= set(modules)
