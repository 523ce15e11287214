"""Real services for the scale-out tests, each started on 127.0.0.1 and always stopped.

An MLflow tracking server (sqlite or PostgreSQL backed, optionally with basic auth), a
throwaway PostgreSQL cluster, a Ray head node, a Dask scheduler with workers. Each is a
context manager that stops what it started, by process id, whatever happens inside.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from conftest import MLFLOW_SERVER_ENV

BIN = Path(sys.executable).parent
LOCALHOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def tool(name: str) -> str:
    """A console script of this venv (mlflow, ray, dask, parsweep), else from PATH."""
    beside = BIN / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(name)
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without MLflow or Ray settings from the caller's shell, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "RAY_"))}
    env.update(PYTHONUNBUFFERED="1", MLFLOW_LOGGING_LEVEL="WARNING", RAY_USAGE_STATS_ENABLED="0")
    env.update(extra)
    return env


def stop_group(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the process group ``process`` leads (started with start_new_session), then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left in the group
    process.wait()


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def mlflow_server(
    backend_store_uri: str, workdir: Path, env: dict[str, str] | None = None, app_name: str | None = None
) -> Iterator[str]:
    """``mlflow server`` on a free port of 127.0.0.1, serving artifacts itself; yields its URL."""
    port = free_port()
    log = workdir / f"mlflow-server-{port}.log"
    command = [
        tool("mlflow"), "server",
        "--host", LOCALHOST, "--port", str(port), "--workers", "1",
        "--backend-store-uri", backend_store_uri,
        "--artifacts-destination", str(workdir / "artifacts"),
    ]
    if app_name:
        command += ["--app-name", app_name]
    server_env = clean_env(**MLFLOW_SERVER_ENV, **(env or {}))
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=workdir, env=server_env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{LOCALHOST}:{port}"
    try:
        wait_http(url + "/health", process, log)
        yield url
    finally:
        stop_group(process)


# -- PostgreSQL ------------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server programs (initdb, pg_ctl), newest version first."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@contextlib.contextmanager
def postgres_cluster(databases: Sequence[str] = ("mlflow",)) -> Iterator[str]:
    """A throwaway PostgreSQL cluster in a temp dir on a free port, with ``databases`` created;
    yields the server's SQLAlchemy URI (``postgresql://mlflow@127.0.0.1:PORT``: add ``/DB``).

    PostgreSQL refuses to run as root, so as root it runs as ``nobody`` (via runuser).
    """
    bindir = postgres_bin()
    assert bindir is not None, "PostgreSQL is not installed"
    root = Path(tempfile.mkdtemp(prefix="parsweep-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    data, log, port = root / "data", root / "server.log", free_port()

    def run(*command: str) -> None:
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, cwd=root, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses={LOCALHOST} -p {port} -k {root} -c fsync=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        started = True
        for database in databases:
            run(str(bindir / "createdb"), "-h", LOCALHOST, "-p", str(port), "-U", "mlflow", database)
        yield f"postgresql://mlflow@{LOCALHOST}:{port}"
    finally:
        if started:
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True, cwd=root, timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


# -- Ray and Dask ----------------------------------------------------------------------------------


@contextlib.contextmanager
def ray_head(workdir: Path, num_cpus: int = 2) -> Iterator[str]:
    """``ray start --head`` on 127.0.0.1 (every port chosen free); yields its GCS address.

    Always followed by ``ray stop``, the documented way to stop what ``ray start`` started.
    """
    port = free_port()
    command = [
        tool("ray"), "start", "--head", "--disable-usage-stats",
        f"--node-ip-address={LOCALHOST}", f"--port={port}", f"--num-cpus={num_cpus}",
        "--include-dashboard=false",
        f"--ray-client-server-port={free_port()}",
        f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
        f"--metrics-export-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
        "--object-store-memory=200000000",
    ]
    env = clean_env()
    try:
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"ray start failed:\n{done.stdout}\n{done.stderr}")
        yield f"{LOCALHOST}:{port}"
    finally:
        subprocess.run([tool("ray"), "stop"], env=env, capture_output=True, timeout=120)


@contextlib.contextmanager
def dask_scheduler(workdir: Path, workers: int = 2) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker`` (``workers`` single-thread processes), as separate processes."""
    port = free_port()
    address = f"tcp://{LOCALHOST}:{port}"
    processes: list[subprocess.Popen] = []
    env = clean_env()

    def start(name: str, command: Sequence[str]) -> subprocess.Popen:
        with open(workdir / f"{name}.log", "wb") as out:
            process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(process)
        return process

    try:
        start("dask-scheduler", [tool("dask"), "scheduler", "--host", LOCALHOST, "--port", str(port), "--no-dashboard"])
        start("dask-worker", [
            tool("dask"), "worker", address, "--nworkers", str(workers), "--nthreads", "1",
            "--host", LOCALHOST, "--no-dashboard",
        ])
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=90)
        yield address
    finally:
        for process in reversed(processes):
            stop_group(process)


# -- the MLflow contract, as a test checks it on a server --------------------------------------------

TRIAL_PARAMS = {"backend", "workers", "n", "workload", "repeats", "warmup", "start_method"}
TRIAL_METRICS = {"wall_time_s", "wall_time_min_s", "wall_time_std_s", "cpu_time_s", "cpu_utilization", "startup_s", "correct"}
TRIAL_TAGS = {
    "host.name", "host.cpu_model", "host.cpu_logical", "host.cpu_physical", "host.cpu_usable",
    "python.version", "python.implementation", "python.gil_enabled", "git.commit", "parsweep.config_hash",
}


def sweep_runs(client, experiment: str) -> tuple[object, list[object]]:
    """The one sweep (parent run) of ``experiment`` and its trials, as the server has them."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} on the server"
    runs = client.search_runs([found.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("parsweep.role") == "sweep"]
    assert len(parents) == 1, [r.data.tags for r in runs]
    parent = parents[0]
    trials = [r for r in runs if r.data.tags.get("parsweep.role") == "trial"]
    assert all(r.data.tags.get("mlflow.parentRunId") == parent.info.run_id for r in trials)
    return parent, trials


def assert_trial_contract(client, run, n: int) -> None:
    """A finished, correct trial with the spec's params, metrics, tags and artifacts."""
    data = run.data
    assert run.info.status == "FINISHED", data.tags.get("parsweep.error")
    assert set(data.params) >= TRIAL_PARAMS, TRIAL_PARAMS - set(data.params)
    assert set(data.metrics) >= TRIAL_METRICS, TRIAL_METRICS - set(data.metrics)
    assert set(data.tags) >= TRIAL_TAGS, TRIAL_TAGS - set(data.tags)
    assert data.metrics["correct"] == 1.0
    assert int(data.params["n"]) == n
    assert data.metrics["wall_time_s"] > 0
    steps = client.get_metric_history(run.info.run_id, "rep_wall_time_s")
    assert len(steps) == int(data.params["repeats"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "host.json" in artifacts, artifacts
    hydra_files = {a.path for a in client.list_artifacts(run.info.run_id, ".hydra")}
    assert {".hydra/config.yaml", ".hydra/overrides.yaml"} <= hydra_files, hydra_files
