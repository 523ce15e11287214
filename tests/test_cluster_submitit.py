"""The team setup, for real: a PostgreSQL-backed ``mlflow server`` with basic auth (a throwaway
PostgreSQL cluster in a temp dir, run as an unprivileged user, always stopped), a
``submitit_local`` sweep logging to it with credentials from the environment, and the
``sbatch`` script the shipped ``submitit_slurm`` config produces."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import _cluster_services as services
import pytest

import hydra_plugins.hydra_submitit_launcher  # noqa: F401  the cluster extra (make test installs it)
from conftest import TINY, client_for, run_parsweep, sqlite_uri

pytestmark = [pytest.mark.timeout(300), pytest.mark.cluster]

ADMIN, PASSWORD = "admin", "parsweep-Test-Passw0rd-1234"


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory):
    """PostgreSQL for runs and for users, MLflow's basic-auth app in front."""
    if services.postgres_bin() is None:
        pytest.fail("PostgreSQL is not installed: make test installs it (apt-get install postgresql)")
    workdir = tmp_path_factory.mktemp("team")
    with services.postgres_cluster(databases=("mlflow", "mlflow_auth")) as postgres:
        auth_ini = workdir / "basic_auth.ini"
        auth_ini.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = {postgres}/mlflow_auth\n"
            f"admin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            "auth_cache_ttl_seconds = 300\n"  # as the README's team server: one password check per 5 min
        )
        env = {
            "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
            "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": os.urandom(16).hex(),  # CSRF protection wants one
        }
        with services.mlflow_server(f"{postgres}/mlflow", workdir, env=env, app_name="basic-auth") as url:
            yield url


@pytest.fixture()
def as_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test process reads the server with the admin's credentials."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)


@pytest.mark.postgres
def test_submitit_local_sweep_logs_to_a_postgres_server_with_basic_auth(
    team_server: str, launch_dir: Path, as_admin: None
) -> None:
    done = run_parsweep(
        [
            "-m", "hydra/launcher=submitit_local", "tracking=server", f"tracking.uri={team_server}",
            "experiment=team", "backend=serial,process_pool", "workers=2", "n=100_000", "repeats=2", "warmup=0",
        ],
        launch_dir,
        env={"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": PASSWORD},
        timeout=240,
    )
    assert done.returncode == 0, done.explain()

    client = client_for(team_server)
    parent, trials = services.sweep_runs(client, "team")
    assert parent.info.status == "FINISHED"
    assert sorted((t.data.params["backend"], t.data.params["workers"]) for t in trials) == [("process_pool", "2"), ("serial", "1")]
    for trial in trials:
        services.assert_trial_contract(client, trial, n=100_000)
    assert list(launch_dir.rglob(".submitit")), "the jobs did not go through submitit"
    assert not (launch_dir / "mlflow.db").exists()
    # The jobs ran in submitit's processes; their lines still reach this terminal, one count for the sweep.
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert sorted(line[:5] for line in lines) == ["[1/2]", "[2/2]"], done.explain()
    assert any(" serial " in line for line in lines) and any(" process_pool " in line for line in lines)


@pytest.mark.postgres
def test_wrong_credentials_stop_the_sweep_with_one_line_and_no_run(
    team_server: str, launch_dir: Path, as_admin: None
) -> None:
    done = run_parsweep(
        ["-m", "tracking=server", f"tracking.uri={team_server}", "experiment=intruder", "backend=serial", *TINY],
        launch_dir,
        env={"MLFLOW_TRACKING_USERNAME": ADMIN, "MLFLOW_TRACKING_PASSWORD": "wrong"},
        timeout=120,
    )
    assert done.returncode == 2, done.explain()
    errors = [line for line in done.stderr_lines if line.startswith("parsweep: error:")]
    assert len(errors) == 1 and f"tracking.uri={team_server}" in errors[0], done.explain()
    assert client_for(team_server).get_experiment_by_name("intruder") is None


def test_submitit_slurm_config_becomes_the_sbatch_script(launch_dir: Path, tmp_path: Path) -> None:
    """The shipped submitit_slurm config, with partition, time and CPUs per task set on the
    command line, reaches sbatch as the matching #SBATCH lines (a stand-in sbatch keeps the
    script and refuses the job: there is no SLURM here)."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    kept = tmp_path / "job.sbatch"
    (fake_bin / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {kept}\necho "sbatch: no SLURM here" >&2\nexit 1\n')
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit looks for srun to believe in SLURM
    for script in fake_bin.iterdir():
        script.chmod(script.stat().st_mode | stat.S_IEXEC)

    done = run_parsweep(
        [
            "-m", "hydra/launcher=submitit_slurm", "hydra.launcher.partition=cpu",
            "hydra.launcher.timeout_min=30", "hydra.launcher.cpus_per_task=16",
            "backend=serial", *TINY,
        ],
        launch_dir,
        uri=sqlite_uri(launch_dir / "mlflow.db"),
        env={"PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"},
        timeout=120,
    )
    assert done.returncode != 0  # sbatch refused, as it should here
    assert "may run on other machines" in done.stderr  # a local store warned about
    script = kept.read_text()
    for line in ("#SBATCH --partition=cpu", "#SBATCH --time=30", "#SBATCH --cpus-per-task=16", "#SBATCH --exclusive"):
        assert line in script.splitlines(), script


def test_the_tracking_callback_travels_to_launcher_workers_with_its_store(tmp_path: Path) -> None:
    """Remote launchers pickle the callback after on_multirun_start: what a job needs (URI,
    experiment and parent ids) travels; the MLflow client does not (it is made again there)."""
    import pickle

    import cloudpickle

    from runner.app.callbacks import TrackingCallback
    from runner.app.session import Session
    from runner.tracking.recorder import Recorder

    callback = TrackingCallback()
    uri = sqlite_uri(tmp_path / "mlflow.db")
    recorder = Recorder(uri, "parsweep", str(tmp_path / "sweep"), parent_run_id="abc123")
    callback.session = Session(uri, "parsweep", "7", recorder, total=3, multirun=True, parent_run_id="abc123")
    assert recorder.tracker is not None  # a live client, as after on_multirun_start
    for dumps in (pickle.dumps, cloudpickle.dumps):
        copy = pickle.loads(dumps(callback))
        session = copy.session
        assert (session.uri, session.experiment_id, session.parent_run_id, session.total) == (uri, "7", "abc123", 3)
        assert session.recorder._tracker is None
        assert session.recorder.tracker.uri == uri


def test_a_launcher_whose_plugin_is_missing_is_one_line_before_any_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from omegaconf import OmegaConf

    from runner.app import callbacks
    from runner.trial.spec import ConfigError

    monkeypatch.setitem(callbacks.LAUNCHER_PACKAGES, "hydra_plugins.not_installed_launcher", "pip install it")
    config = OmegaConf.create({
        "hydra": {"launcher": {"_target_": "hydra_plugins.not_installed_launcher.Launcher"}, "runtime": {"choices": {"hydra/launcher": "gone"}}}
    })
    with pytest.raises(ConfigError, match=r"^hydra/launcher=gone: needs the not_installed_launcher plugin: pip install it$"):
        callbacks.check_launcher_installed(config)
