"""Ray, for real: a local cluster started with ``ray start --head`` on 127.0.0.1 (one per module,
always ``ray stop``-ped), joined with ``address=auto`` by the ``ray`` backend and by Hydra's Ray
launcher, whose sweep logs every trial over HTTP to a real ``mlflow server``."""

from __future__ import annotations

import socket
from pathlib import Path

import _cluster_services as services
import pytest
import ray  # noqa: F401  the cluster extra (make test installs it); missing, the tests fail

from conftest import client_for, run_parsweep

pytestmark = [pytest.mark.timeout(300), pytest.mark.cluster]

HEAD_CPUS = 2


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ray")


@pytest.fixture(scope="module")
def ray_cluster(workdir: Path):
    with services.ray_head(workdir, num_cpus=HEAD_CPUS) as address:
        yield address


@pytest.fixture(scope="module")
def tracking_server(workdir: Path):
    with services.mlflow_server(f"sqlite:///{workdir / 'server.db'}", workdir) as url:
        yield url


def ray_spec(n: int, workers: int, address: str | None):
    from runner.trial.spec import build_spec

    return build_spec({
        "backend": {"name": "ray", "address": address},
        "workload": {"name": "sum_range"},
        "workers": workers, "n": n, "repeats": 2, "warmup": 1, "timeout_s": 120, "experiment": "t",
    })


# The edges: one item on one worker, and a range that 3 workers split unevenly. (A middle case,
# 100_003 on 2, added a minute of the suite's Ray time and nothing these two miss.)
@pytest.mark.parametrize("n, workers", [(1, 1), (1_000_000, 3)])
def test_ray_backend_joins_a_running_cluster_and_sums_right(ray_cluster: str, n: int, workers: int) -> None:
    from runner.execute.schedule import run_isolated

    result = run_isolated(ray_spec(n, workers, "auto"))

    assert result.error is None and result.correct
    assert len(result.wall_times_s) == 2 and result.startup_s and result.startup_s > 0
    assert result.tags["cluster.kind"] == "ray"
    assert result.tags["cluster.address"] == "auto"
    assert result.tags["cluster.nodes"] == "1"
    assert result.tags["cluster.cpus"] == str(HEAD_CPUS)
    assert result.tags["cluster.name"] == socket.gethostname()  # the whole cluster is this host


LOOPBACK_PROBE = """
import json, psutil
from runner.trial.backends import get
backend = get("ray")(1, {"address": None})
backend.start()  # imports ray: nothing may import it before (it reads its settings then)
try:
    import ray
    me = psutil.Process()
    pids = {me.pid, *(child.pid for child in me.children(recursive=True))}
    listening = {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.pid in pids}
    nodes = {node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")}
    print(json.dumps({"listening": sorted(listening), "nodes": sorted(nodes)}))
finally:
    backend.close()
"""


def test_a_local_instance_by_default_on_loopback_and_quiet(ray_cluster: str, tmp_path: Path) -> None:
    """With a cluster running here, backend.address=null still gets a new instance of `workers` CPUs
    (not the cluster's); it listens on 127.0.0.1 only (Ray's one-machine switch, set before Ray is
    imported), and the trial's output carries none of Ray's start-up notices. (One trial checks all
    three: each new Ray instance costs the suite's Ray time 10-30 s.)"""
    import json
    import subprocess
    import sys

    from conftest import clean_env

    done = subprocess.run([sys.executable, "-c", LOOPBACK_PROBE], capture_output=True, text=True, timeout=180, env=clean_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["nodes"] == ["127.0.0.1"], seen
    assert seen["listening"] and set(seen["listening"]) <= {"127.0.0.1", "::ffff:127.0.0.1"}, seen

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = run_parsweep(["backend=ray", "workers=3", "n=10_000", "repeats=1", "warmup=0"], tmp_path, uri=uri, timeout=240)
    assert done.returncode == 0, done.explain()
    assert "Token authentication" not in done.stdout + done.stderr, done.explain()
    assert "WARNING" not in done.stdout + done.stderr, done.explain()
    client = client_for(uri)
    (trial,) = client.search_runs([client.get_experiment_by_name("parsweep").experiment_id])
    assert trial.info.status == "FINISHED" and trial.data.metrics["correct"] == 1.0, trial.data.tags.get("parsweep.error")
    assert trial.data.tags["cluster.address"] == "local"
    assert trial.data.tags["cluster.cpus"] == "3"  # its own instance: the running cluster has HEAD_CPUS


def test_ray_options_are_checked_before_anything_runs() -> None:
    from runner.trial.backends import get
    from runner.trial.spec import ConfigError

    with pytest.raises(ConfigError, match=r"^backend\.adress=auto: unknown key; ray takes: address$"):
        get("ray").check_options({"adress": "auto"})


def test_hydra_ray_launcher_sweep_logs_every_trial_to_a_tracking_server(
    ray_cluster: str, tracking_server: str, workdir: Path
) -> None:
    """hydra/launcher=ray on the running cluster (address=auto: the launcher's injected
    object_store_memory would make ray.init refuse it), tracking=server over HTTP."""
    import hydra_plugins.hydra_ray_launcher  # noqa: F401  make test installs it (pip install --no-deps hydra-ray-launcher==1.2.2)
    launch = workdir / "launch"
    launch.mkdir()
    done = run_parsweep(
        [
            "-m", "hydra/launcher=ray", "hydra.launcher.ray.init.address=auto",
            "tracking=server", f"tracking.uri={tracking_server}", "experiment=ray-launcher",
            "backend=serial,thread_pool", "workers=1,2", "n=100_000", "repeats=2", "warmup=0",
            f"hydra.sweep.dir={launch / 'multirun'}",
        ],
        launch,
        timeout=240,
    )
    assert done.returncode == 0, done.explain()
    assert "may run on other machines" not in done.stderr  # an http store reaches them
    # One count for the whole sweep, whichever Ray worker ran a trial, and no colour codes in a pipe.
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert sorted(line[:5] for line in lines) == ["[1/3]", "[2/3]", "[3/3]"], done.explain()
    assert "\x1b[" not in done.stdout + done.stderr, done.explain()

    client = client_for(tracking_server)
    parent, trials = services.sweep_runs(client, "ray-launcher")
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["parsweep.trials_total"] == "3"
    assert sorted((t.data.params["backend"], t.data.params["workers"]) for t in trials) == [
        ("serial", "1"), ("thread_pool", "1"), ("thread_pool", "2")
    ]
    for trial in trials:
        services.assert_trial_contract(client, trial, n=100_000)
    assert not (launch / "mlflow.db").exists()  # nothing went to a local store


def test_hydra_ray_launcher_config_keeps_existing_clusters_joinable(hydra_conf) -> None:
    """The shipped config sets object_store_memory (to null), so the launcher's setdefault of
    75 MB never reaches ray.init when joining a cluster; credentials travel in runtime_env."""
    import hydra_plugins.hydra_ray_launcher  # noqa: F401  make test installs it (pip install --no-deps hydra-ray-launcher==1.2.2)
    cfg = hydra_conf("config", overrides=["hydra/launcher=ray", "hydra.launcher.ray.init.address=auto"], return_hydra_config=True)
    init = cfg.hydra.launcher.ray.init
    assert init.address == "auto"
    assert "object_store_memory" in init and init.object_store_memory is None
    assert set(init.runtime_env.env_vars) >= {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
