"""Dask, for real: the ``dask`` backend on its own ``LocalCluster``, and joined by address to a
scheduler and workers started as separate processes (``dask scheduler`` / ``dask worker`` on
127.0.0.1); right answers for several (n, workers), cluster tags, and a sweep's runs."""

from __future__ import annotations

import socket
from pathlib import Path

import _cluster_services as services
import distributed  # noqa: F401  the cluster extra (make test installs it); missing, the tests fail
import pytest

from conftest import all_runs, run_parsweep, runs_with_role, sqlite_uri

pytestmark = [pytest.mark.timeout(240), pytest.mark.cluster]

SCHEDULER_WORKERS = 2


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory):
    with services.dask_scheduler(tmp_path_factory.mktemp("dask"), workers=SCHEDULER_WORKERS) as address:
        yield address


def dask_spec(n: int, workers: int, address: str | None):
    from runner.trial.spec import build_spec

    return build_spec({
        "backend": {"name": "dask", "address": address},
        "workload": {"name": "sum_range"},
        "workers": workers, "n": n, "repeats": 2, "warmup": 1, "timeout_s": 120, "experiment": "t",
    })


@pytest.mark.parametrize("n, workers", [(10, 1), (1_000_003, 2), (300_000, 3)])
def test_dask_local_cluster_of_workers_processes_sums_right(n: int, workers: int) -> None:
    from runner.execute.schedule import run_isolated

    result = run_isolated(dask_spec(n, workers, None))

    assert result.error is None and result.correct
    assert len(result.wall_times_s) == 2 and result.startup_s and result.startup_s > 0
    assert result.tags["cluster.kind"] == "dask"
    assert result.tags["cluster.address"] == "local"
    assert result.tags["cluster.workers"] == str(workers)
    assert result.tags["cluster.cpus"] == str(workers)
    assert result.tags["cluster.nodes"] == "1"
    assert result.tags["cluster.name"] == socket.gethostname()


@pytest.mark.parametrize("n, workers", [(1_000_003, 2), (50_001, 4)])
def test_dask_backend_joins_a_scheduler_by_address(scheduler: str, n: int, workers: int) -> None:
    from runner.execute.schedule import run_isolated

    result = run_isolated(dask_spec(n, workers, scheduler))

    assert result.error is None and result.correct
    assert result.tags["cluster.address"] == scheduler
    assert result.tags["cluster.cpus"] == str(SCHEDULER_WORKERS)  # the scheduler's, whatever `workers` says
    assert result.tags["cluster.workers"] == str(SCHEDULER_WORKERS)


def test_dask_options_are_checked_before_anything_runs() -> None:
    from runner.trial.backends import get
    from runner.trial.spec import ConfigError

    with pytest.raises(ConfigError, match=r"^backend\.address=: must be a cluster address, or null for a local cluster$"):
        get("dask").check_options({"address": ""})


def test_a_dask_sweep_logs_cluster_tags_and_groups_by_cluster(scheduler: str, launch_dir: Path) -> None:
    """A real `parsweep -m` against the scheduler: runs carry cluster.* tags, and the analysis
    puts them under the cluster's name (this host here: the whole cluster runs on it)."""
    uri = sqlite_uri(launch_dir / "mlflow.db")
    done = run_parsweep(
        ["-m", "backend=dask", f"backend.address={scheduler}", "workers=1,2", "n=200_000", "repeats=2", "warmup=0"],
        launch_dir,
        uri=uri,
    )
    assert done.returncode == 0, done.explain()
    trials = runs_with_role(all_runs(uri), "trial")
    assert len(trials) == 2
    for trial in trials:
        assert trial.info.status == "FINISHED"
        assert trial.data.metrics["correct"] == 1.0
        assert trial.data.tags["cluster.nodes"] == "1"
        assert trial.data.tags["cluster.cpus"] == str(SCHEDULER_WORKERS)
        assert trial.data.tags["cluster.address"] == scheduler

    from analysis.data.load import runs_to_frame

    frame = runs_to_frame(trials)
    assert set(frame["host"]) == {socket.gethostname()}
    assert set(frame["cluster_address"]) == {scheduler}
