"""The MLflow contract, checked on a real sqlite store after a real ``parsweep -m`` sweep."""

from __future__ import annotations

import json
import platform
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import (
    REPO,
    SPEC_FACT_TAGS,
    Launch,
    all_runs,
    client_for,
    read_artifact,
    run_parsweep,
    runs_with_role,
    sqlite_uri,
)

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

PARAMS = {"backend", "workers", "n", "workload", "repeats", "warmup", "start_method"}
METRICS = {"wall_time_s", "wall_time_min_s", "wall_time_std_s", "cpu_time_s", "cpu_utilization", "startup_s", "correct"}
TAGS = SPEC_FACT_TAGS | {"parsweep.config_hash"}
PARALLEL = ["threading", "multiprocessing", "process_pool"]  # thread_pool: see test_core_backends
N_VALUES = [10_000, 20_000]
REPEATS = 2


class Sweep:
    def __init__(self, launch: Launch, uri: str, oversubscribed: int) -> None:
        self.launch, self.uri, self.oversubscribed = launch, uri, oversubscribed
        self.runs = all_runs(uri)
        self.parents = runs_with_role(self.runs, "sweep")
        self.trials = runs_with_role(self.runs, "trial")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, usable_cores: int) -> Sweep:
    launch_dir = tmp_path_factory.mktemp("contract")
    uri = sqlite_uri(launch_dir / "contract.db")
    over = usable_cores + 1
    launch = run_parsweep(
        [
            "-m",
            f"backend=serial,{','.join(PARALLEL)}",
            f"workers=1,{over}",
            "n=1e4,2e4",
            f"repeats={REPEATS}",
            "warmup=0",
        ],
        launch_dir,
        uri=uri,
    )
    assert launch.returncode == 0, launch.explain()
    return Sweep(launch, uri, over)


def expected_trials() -> int:
    return len(N_VALUES) * (1 + len(PARALLEL) * 2)


def test_one_parent_run_tagged_sweep(sweep: Sweep) -> None:
    assert len(sweep.parents) == 1
    parent = sweep.parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags.get("parsweep.trials_total") == str(expected_trials())
    assert len(sweep.runs) == 1 + expected_trials(), "nothing but the parent and its trials"


def test_one_child_run_per_trial(sweep: Sweep) -> None:
    parent_id = sweep.parents[0].info.run_id
    assert len(sweep.trials) == expected_trials()
    for run in sweep.trials:
        assert run.data.tags.get("mlflow.parentRunId") == parent_id
        assert run.info.status == "FINISHED", run.data.tags.get("parsweep.error")
        assert run.info.experiment_id == sweep.parents[0].info.experiment_id
    combos = Counter((r.data.params["backend"], r.data.params["workers"], r.data.params["n"]) for r in sweep.trials)
    assert all(count == 1 for count in combos.values()), combos


def test_serial_runs_once_per_n(sweep: Sweep) -> None:
    serial = [r for r in sweep.trials if r.data.params["backend"] == "serial"]
    assert sorted(int(r.data.params["n"]) for r in serial) == N_VALUES
    assert all(r.data.params["workers"] == "1" for r in serial)
    for backend in PARALLEL:
        runs = [r for r in sweep.trials if r.data.params["backend"] == backend]
        assert sorted((int(r.data.params["n"]), int(r.data.params["workers"])) for r in runs) == sorted(
            (n, w) for n in N_VALUES for w in (1, sweep.oversubscribed)
        )


def test_every_param(sweep: Sweep) -> None:
    for run in sweep.trials:
        params = run.data.params
        assert set(params) >= PARAMS, PARAMS - set(params)
        assert params["workload"] == "sum_range"
        assert params["repeats"] == str(REPEATS) and params["warmup"] == "0"
        assert int(params["n"]) in N_VALUES
        if params["backend"] in ("multiprocessing", "process_pool"):
            assert params["start_method"] == "fork"
        else:
            assert params["start_method"] == "none"


def test_every_metric(sweep: Sweep) -> None:
    for run in sweep.trials:
        metrics = run.data.metrics
        assert set(metrics) >= METRICS, METRICS - set(metrics)
        assert metrics["correct"] == 1.0
        assert 0 < metrics["wall_time_min_s"] <= metrics["wall_time_s"]
        assert metrics["wall_time_std_s"] >= 0
        assert metrics["cpu_time_s"] > 0
        assert metrics["cpu_utilization"] == pytest.approx(metrics["cpu_time_s"] / metrics["wall_time_s"], rel=1e-6)
        assert metrics["startup_s"] >= 0


def test_rep_wall_time_history_has_one_step_per_repetition(sweep: Sweep) -> None:
    client = client_for(sweep.uri)
    for run in sweep.trials:
        history = client.get_metric_history(run.info.run_id, "rep_wall_time_s")
        assert sorted(m.step for m in history) == list(range(REPEATS))
        values = [m.value for m in sorted(history, key=lambda m: m.step)]
        assert min(values) == pytest.approx(run.data.metrics["wall_time_min_s"])


def test_every_tag(sweep: Sweep, usable_cores: int) -> None:
    from runner.host.facts import host_facts

    facts = host_facts()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    hashes = set()
    for run in sweep.trials:
        tags = run.data.tags
        assert set(tags) >= TAGS, TAGS - set(tags)
        assert tags["parsweep.role"] == "trial"
        assert tags["host.cpu_usable"] == str(usable_cores)
        assert tags["host.cpu_logical"] == str(facts["host"]["cpu_logical"])
        assert tags["host.name"] == facts["host"]["name"]
        assert tags["python.version"] == platform.python_version()
        assert tags["python.implementation"] == platform.python_implementation()
        assert tags["python.gil_enabled"] in ("true", "false")
        if commit:
            assert tags["git.commit"] == commit
        assert "parsweep.error" not in tags
        hashes.add(tags["parsweep.config_hash"])
    assert len(hashes) == len(sweep.trials), "each combination has its own config hash"


def test_every_artifact(sweep: Sweep, tmp_path: Path) -> None:
    client = client_for(sweep.uri)
    for index, run in enumerate(sweep.trials[:3] + sweep.trials[-2:]):
        run_id = run.info.run_id
        top = {a.path for a in client.list_artifacts(run_id)}
        assert {"host.json", ".hydra"} <= top
        hydra_files = {a.path for a in client.list_artifacts(run_id, ".hydra")}
        assert {".hydra/config.yaml", ".hydra/overrides.yaml"} <= hydra_files
        dst = tmp_path / str(index)
        config = yaml.safe_load(read_artifact(sweep.uri, run_id, ".hydra/config.yaml", dst))
        assert config["backend"]["name"] == run.data.params["backend"]
        overrides = yaml.safe_load(read_artifact(sweep.uri, run_id, ".hydra/overrides.yaml", dst))
        assert f"backend={run.data.params['backend']}" in overrides
        host = json.loads(read_artifact(sweep.uri, run_id, "host.json", dst))
        assert {"host", "python", "git"} <= set(host)
        assert str(host["host"]["cpu_usable"]) == run.data.tags["host.cpu_usable"]


def test_oversubscription_warning_tag_and_terminal_line(sweep: Sweep) -> None:
    for run in sweep.trials:
        workers = int(run.data.params["workers"])
        warning = run.data.tags.get("parsweep.warnings")
        if workers > sweep.oversubscribed - 1:
            assert warning and f"workers={workers}" in warning and "usable" in warning, run.data.tags
        else:  # other warnings (a busy machine, short repetitions) may be there, not this one
            assert not re.search(r"workers=\d+ .*usable", warning or ""), warning
    # said once, at the end, with the trials that had it (each trial's line flags it)
    output = sweep.launch.stdout + sweep.launch.stderr
    # the warning (the verdict has its own line about oversubscription: "workers=N on M usable CPUs: ...")
    pattern = re.compile(rf"workers={sweep.oversubscribed} is more than .*usable", re.IGNORECASE)
    warning_lines = [line for line in output.splitlines() if pattern.search(line)]
    assert len(warning_lines) == 1, output
    assert f"({len(PARALLEL) * len(N_VALUES)} trials)" in warning_lines[0], output
    flagged = [line for line in output.splitlines() if line.startswith("[") and "oversubscribed" in line]
    assert len(flagged) == len(PARALLEL) * len(N_VALUES), output


def test_terminal_shows_progress_and_the_table(sweep: Sweep) -> None:
    total = expected_trials()
    lines = sweep.launch.stdout.splitlines()
    for done in range(1, total + 1):
        assert any(line.lstrip().startswith(f"[{done:>{len(str(total))}}/{total}]") for line in lines), done
    assert "speedup" in sweep.launch.stdout.lower()
    assert sweep.parents[0].info.run_id in sweep.launch.stdout
    assert "Traceback" not in sweep.launch.stderr


def test_a_lone_parsweep_is_one_trial_run(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "lone.db")
    launch = run_parsweep(["backend=multiprocessing", "backend.start_method=spawn", "workers=2", "n=1e4", "repeats=2", "warmup=0"], tmp_path, uri=uri)
    assert launch.returncode == 0, launch.explain()
    runs = all_runs(uri)
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["parsweep.role"] == "trial"
    assert "mlflow.parentRunId" not in run.data.tags
    assert run.info.status == "FINISHED"
    assert run.data.params["start_method"] == "spawn"
    assert set(run.data.metrics) >= METRICS
    assert set(run.data.tags) >= TAGS
    assert {"host.json", ".hydra"} <= {a.path for a in client_for(uri).list_artifacts(run.info.run_id)}
