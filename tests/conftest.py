"""Shared helpers for parsweep's tests: real ``parsweep`` subprocesses, real sqlite stores.

Nothing here mocks Hydra, MLflow or multiprocessing. Subprocess launches get a clean
environment (no MLFLOW_* or PARSWEEP_* variables from the caller) plus a unique marker
variable, so a test can find every process a launch left behind.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS_DIR = Path(__file__).resolve().parent
CONF_DIR = REPO / "conf"
MARKER = "PARSWEEP_TEST_MARKER"

# Tiny, fast trials: the tests check behaviour, not speed.
TINY = ["n=1e4", "repeats=2", "warmup=0"]

# Under make test the other xdist worker's tests are "other processes" to every trial, so most
# launches find repetitions to measure again and wait for a quiet machine that seldom comes: with
# the default budget (60 s) and then 5 s, those waits, each holding the host lock, were 289 s of a
# 773 s suite (2026-12-05), with both CPUs 29% idle. So a launch a test starts waits at most 1 s
# (run_parsweep and Background add this unless the test sets an interference key itself or says
# settings=False); the tests of the clean-up itself (test_trust_warnings.py, alone) set their own.
QUIET_WAIT = "interference.budget_s=1"
# A sweep's PNG plots cost about 0.6 s at its end (matplotlib's import, three figures: benchmarks/startup.py):
# most of the suite's sweeps drew them (86 sweep reports in one run, 2026-12-05) and a few tests look at them. So a launch a test starts
# leaves them out unless the test names ``plots`` itself (the plot tests say plots=true).
NO_PLOTS = "plots=false"
NOT_MEASURING = ("--cfg", "--help", "-h", "--hydra-help", "--info", "--dry-run", "--shell-completion", "-sc")


def _names(args: list[str], key: str) -> bool:
    return any(a.lstrip("+~").startswith(key) for a in args)


def with_test_settings(args: list[str], settings: bool = True) -> list[str]:
    """``args`` plus :data:`QUIET_WAIT` and :data:`NO_PLOTS` when the launch measures, each unless
    the launch sets that key itself (``settings=False``: the command exactly as given)."""
    if not settings or any(a in NOT_MEASURING for a in args):
        return args
    return [*args, *([] if _names(args, "interference") else [QUIET_WAIT]), *([] if _names(args, "plots") else [NO_PLOTS])]

# The estimate line names the host lock when another parsweep holds it as the launch starts. Under
# make test that is another worker's test, at any moment, so a test matching the line allows it.
HELD_LOCK = r"(?:, after the host lock: another parsweep is timing a trial \(.*?\))?"

# The host and Python facts the spec names as trial tags.
SPEC_FACT_TAGS = {
    "host.name",
    "host.cpu_model",
    "host.cpu_logical",
    "host.cpu_physical",
    "host.cpu_usable",
    "python.version",
    "python.implementation",
    "python.gil_enabled",
    "git.commit",
}

# `make test` runs the suite on pytest-xdist workers, one per CPU. One test run is one session,
# named once by the process that starts it and inherited by its workers.
SESSION_ENV = "PARSWEEP_TEST_SESSION"
OWNS_SESSION = SESSION_ENV not in os.environ
SESSION = os.environ.setdefault(SESSION_ENV, uuid.uuid4().hex[:12])
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

# Every process a worker starts (fork servers, trial processes, their workers) inherits this,
# so a test sees what its own worker left behind, never what a test beside it is running.
os.environ[MARKER] = f"session-{SESSION}-{WORKER or 'main'}"

# Trials queue on a host-wide lock (runner.host.lock). The tests check behaviour, not speed,
# so they queue only among themselves, never behind someone else's benchmark on this host; and
# every worker queues on the same file, so no two tests' trials are ever timed at once.
RUN_FILES = Path(tempfile.gettempdir()) / f"parsweep-tests-{SESSION}"
LOCK_FILE = RUN_FILES.with_suffix(".lock")
os.environ["PARSWEEP_LOCK_FILE"] = str(LOCK_FILE)


def parsweep_command() -> list[str]:
    """The installed ``parsweep`` console script next to this interpreter, else ``python -m runner``."""
    script = Path(sys.executable).with_name("parsweep")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runner"]


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without MLflow or parsweep settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PARSWEEP_"))}
    env["PARSWEEP_LOCK_FILE"] = str(LOCK_FILE)
    env.update(extra)
    return env


#: What every ``mlflow server`` a test starts runs with: none of MLflow's GenAI job runners (a huey
#: consumer per job kind, each importing MLflow). A tracking store is all the tests use, and on two
#: cores the consumers doubled a server's start (19 s to /health on one core, 8 s without); `make ui`
#: starts none either.
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def sqlite_uri(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass
class Launch:
    """A finished ``parsweep`` subprocess."""

    args: list[str]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str
    marker: str
    duration_s: float
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def explain(self) -> str:
        return f"parsweep {' '.join(self.args)} -> {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run_parsweep(
    args: Iterable[str],
    cwd: Path,
    *,
    uri: str | None = None,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    timeout: float = 180,
    settings: bool = True,
) -> Launch:
    """Run ``parsweep ARGS`` in ``cwd``; ``uri`` becomes MLFLOW_TRACKING_URI when given; a launch
    that measures waits at most 1 s for a quiet machine and draws no plots unless ``settings=False``
    (:func:`with_test_settings`)."""
    marker = f"launch-{uuid.uuid4().hex}"
    full_env = clean_env(**(env or {}))
    full_env[MARKER] = marker
    if uri is not None:
        full_env["MLFLOW_TRACKING_URI"] = uri
    argv = with_test_settings(list(args), settings)
    began = time.perf_counter()
    done = subprocess.run(
        (command or parsweep_command()) + argv,
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Launch(argv, cwd, done.returncode, done.stdout, done.stderr, marker, time.perf_counter() - began, full_env)


def processes_with_marker(marker: str, exclude_pgid: int | None = None) -> list[Any]:
    """Live (non-zombie) processes whose environment carries ``MARKER=marker``."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(MARKER) != marker:
                continue
            if exclude_pgid is not None and os.getpgid(process.pid) == exclude_pgid:
                continue
            found.append(process)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return found


def wait_for_no_processes(marker: str, exclude_pgid: int | None = None, within_s: float = 10.0) -> list[Any]:
    """Poll until no process carries ``marker`` (or ``within_s`` passes); return what is left."""
    deadline = time.monotonic() + within_s
    while True:
        left = processes_with_marker(marker, exclude_pgid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def describe_processes(processes: list[Any]) -> str:
    lines = []
    for process in processes:
        try:
            lines.append(f"{process.pid}: {' '.join(process.cmdline())}")
        except Exception:
            lines.append(str(process.pid))
    return "\n".join(lines)


# -- reading a store ---------------------------------------------------------------------


def count_runs_in_db(path: Path) -> int:
    """Runs in a sqlite MLflow store, read with sqlite3 (0 when the file or table is missing)."""
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        try:
            return connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def client_for(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def all_runs(uri: str) -> list[Any]:
    """Every run in every experiment of the store, oldest first."""
    from mlflow.entities import ViewType

    client = client_for(uri)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    ids = [e.experiment_id for e in experiments]
    if not ids:
        return []
    return list(client.search_runs(ids, max_results=10000, order_by=["attributes.start_time ASC"]))


def runs_with_role(runs: Iterable[Any], role: str) -> list[Any]:
    return [run for run in runs if run.data.tags.get("parsweep.role") == role]


def read_artifact(uri: str, run_id: str, path: str, dst: Path) -> str:
    """The text of one artifact of a run."""
    dst.mkdir(parents=True, exist_ok=True)
    local = client_for(uri).download_artifacts(run_id, path, str(dst))
    return Path(local).read_text()


def multirun_trial_dirs(cwd: Path) -> list[Path]:
    """Job output directories (with a ``.hydra``) under ``cwd/multirun`` and ``cwd/outputs``."""
    found = []
    for top in ("multirun", "outputs"):
        base = cwd / top
        if base.exists():
            found += [p.parent for p in base.rglob(".hydra")]
    return found


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture()
def launch_dir(tmp_path: Path) -> Path:
    """An empty directory to launch ``parsweep`` from."""
    directory = tmp_path / "launch"
    directory.mkdir()
    return directory


@pytest.fixture(scope="session")
def usable_cores() -> int:
    from runner.host.facts import host_facts

    return int(host_facts()["host"]["cpu_usable"])


@pytest.fixture()
def hydra_conf():
    """``compose`` against the checkout's ``conf/`` with the schema and sweeper registered."""
    from hydra import compose, initialize_config_dir

    import runner.app.main  # noqa: F401  registers the schema, the sweeper and the resolver

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR), job_name="test"):
        yield compose


# -- real interpreters for python=... ------------------------------------------------------

#: kind -> (environment variable that overrides, where `make interpreters` puts it, command on PATH,
#: a check the interpreter must pass)
TEST_PYTHONS = {
    "free-threaded CPython": (
        "PARSWEEP_TEST_PYTHON_FT",
        "/opt/python3.13t/bin/python3.13t",
        "python3.13t",
        "import sys, sysconfig; assert sysconfig.get_config_var('Py_GIL_DISABLED') and not sys._is_gil_enabled()",
    ),
    "GIL twin of the free-threaded CPython": (
        "PARSWEEP_TEST_PYTHON_TWIN",
        "/opt/python3.13/bin/python3.13",
        "python3.13",
        "import sys, sysconfig; assert sys.version_info[:2] == (3, 13) and not sysconfig.get_config_var('Py_GIL_DISABLED')",
    ),
    "CPython 3.14": (
        "PARSWEEP_TEST_PYTHON_314",
        "/opt/python3.14/bin/python3.14",
        "python3.14",
        "import sys, concurrent.interpreters; assert sys.version_info[:2] == (3, 14)",
    ),
}


def find_test_python(kind: str) -> str:
    """The interpreter of ``kind`` (see :data:`TEST_PYTHONS`): the environment variable's, else
    the one `make interpreters` builds, else the command on PATH. A test that needs one that is
    missing fails (never skips) and says how to get it."""
    variable, built, command, check = TEST_PYTHONS[kind]
    given = os.environ.get(variable)
    candidates = [given] if given else [built, shutil.which(command)]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            done = subprocess.run([path, "-c", check], capture_output=True, text=True, timeout=60,
                                  env={k: v for k, v in os.environ.items() if k != "PYTHON_GIL"})
            if done.returncode == 0:
                return path
            pytest.fail(f"{path} is not a working {kind}: {done.stderr.strip().splitlines()[-1:]}", pytrace=False)
    where = given if given else f"{built} or {command} on PATH"
    pytest.fail(f"no {kind} ({where}): run `make interpreters` (as root: it builds /opt/python3.14, "
                f"/opt/python3.13t and /opt/python3.13), or set {variable} to one", pytrace=False)


@pytest.fixture(scope="session")
def free_threaded_python() -> str:
    """Path of a free-threaded CPython (PEP 703 build, GIL off): PARSWEEP_TEST_PYTHON_FT, else /opt/python3.13t."""
    return find_test_python("free-threaded CPython")


@pytest.fixture(scope="session")
def gil_twin_python() -> str:
    """Path of the GIL build of the free-threaded CPython's version and flags: PARSWEEP_TEST_PYTHON_TWIN, else /opt/python3.13."""
    return find_test_python("GIL twin of the free-threaded CPython")


@pytest.fixture(scope="session")
def python314() -> str:
    """Path of a CPython 3.14 with concurrent.interpreters: PARSWEEP_TEST_PYTHON_314, else /opt/python3.14."""
    return find_test_python("CPython 3.14")


# -- which tests share a worker ------------------------------------------------------------------
#
# Modules whose tests share one expensive module-scoped fixture (a real sweep, a cluster, a built
# wheel) run on one worker, so the fixture is built once. A test that names its own group keeps it
# (test_readme.py runs the README in three parts, each in order).
SHARED_FIXTURE_MODULES = {
    "test_analysis_compare", "test_analysis_export", "test_analysis_golden", "test_analysis_metrics",
    "test_analysis_notebook", "test_analysis_report", "test_analysis_store", "test_analysis_trust",
    "test_cluster_dask", "test_cluster_submitit", "test_core_contract",
    "test_core_failures", "test_core_wheel", "test_reproduce", "test_trust_workloads",
    "test_verdict_real",
}


# Every test that starts Ray runs in one group, in turn: Ray instances on one host find each other
# (``ray.init()`` joins a running one, ``ray stop`` stops them all). The group no longer runs alone.
# It did from 2026-12-04, after a Ray node beside other busy tests lost its workers ("Failed to
# register worker to Raylet"), and kept the other worker idle for its 73 s. On 2026-12-05 the
# whole group (its module and the README's Ray blocks) passed beside two processes spinning on
# both CPUs, which no pair of tests matches, in 236 s.
RAY_GROUP = "ray"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.stem
        if item.get_closest_marker("xdist_group") is not None:
            continue
        if module == "test_cluster_ray":
            item.add_marker(pytest.mark.xdist_group(RAY_GROUP))
        elif module in SHARED_FIXTURE_MODULES:
            item.add_marker(pytest.mark.xdist_group(module))
        elif item.get_closest_marker("alone") is not None:
            # A module's ``alone`` tests run in turn on one worker, which keeps the machine to itself
            # from the first to the last (see pytest_runtest_protocol) instead of waiting, before
            # each, for the test the other worker began meanwhile to end.
            item.add_marker(pytest.mark.xdist_group(f"alone-{module}"))



# -- tests that measure the machine run alone ---------------------------------------------------
#
# A test marked ``alone`` asserts on the machine itself (a repetition measured again once the
# machine is quiet, a speedup held to its figure, the interference detector's silence): it runs
# with no other test beside it, so its result does not depend on what the other workers do.
# Every test holds a shared lock on one file while it runs, an ``alone`` test an exclusive one;
# a second file is a gate that keeps new tests from starting while an ``alone`` test waits for
# the running ones to end (flock alone would let shared holders starve it). The locks are taken
# before pytest-timeout's clock starts, so waiting never counts against a test's timeout.

_ALONE_FILES: dict[str, int] = {}
# An ``alone`` test followed on this worker by another keeps both locks for it: between the two, the
# other worker would start a test, and the next ``alone`` one would wait for it to end, this worker idle.
_HOLDING_ALONE = False


def _lock_fd(suffix: str) -> int:
    if suffix not in _ALONE_FILES:
        _ALONE_FILES[suffix] = os.open(RUN_FILES.with_suffix(suffix), os.O_RDWR | os.O_CREAT, 0o600)
    return _ALONE_FILES[suffix]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    global _HOLDING_ALONE
    if not WORKER:  # one process: nothing runs beside the test
        return (yield)
    import fcntl

    gate, running = _lock_fd(".gate"), _lock_fd(".running")
    alone = item.get_closest_marker("alone") is not None
    if not _HOLDING_ALONE:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(running, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        return (yield)
    finally:
        _HOLDING_ALONE = alone and nextitem is not None and nextitem.get_closest_marker("alone") is not None
        if not _HOLDING_ALONE:
            fcntl.flock(running, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)


def pytest_sessionfinish(session, exitstatus) -> None:
    for fd in _ALONE_FILES.values():
        os.close(fd)
    if OWNS_SESSION and not WORKER:  # the process that named the session, after its workers
        for suffix in (".lock", ".gate", ".running"):
            RUN_FILES.with_suffix(suffix).unlink(missing_ok=True)
