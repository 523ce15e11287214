"""A real sqlite MLflow store populated the way ``runner/callbacks.py`` logs, and the loader on it.

:class:`StoreBuilder` (imported by the other ``test_analysis_*`` modules) writes a sweep's
parent run and one child run per trial with the spec's params, metrics (including the
``rep_wall_time_s`` steps), ``host.*`` / ``python.*`` / ``git.*`` tags and final status,
with timings the test chooses.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from analysis.load import load_experiment, load_latest_sweep, load_samples, load_sweep, ReportError, latest_sweep_id


def host_tags(host: str, cpu_model: str = "Test CPU 3000", usable: int = 4) -> dict[str, str]:
    return {
        "host.name": host,
        "host.cpu_model": cpu_model,
        "host.cpu_logical": str(usable),
        "host.cpu_physical": str(usable),
        "host.cpu_usable": str(usable),
        "host.cpu_affinity": str(usable),
        "host.memory_total_bytes": "8589934592",
        "host.os": "Linux",
        "host.kernel": "6.1.0",
        "host.machine": "x86_64",
        "host.load_1m": "0.05",
        "python.version": "3.11.7",
        "python.implementation": "CPython",
        "python.gil_enabled": "true",
        "git.commit": "f" * 40,
        "git.dirty": "false",
    }


class StoreBuilder:
    """Writes sweeps and trials into a sqlite store, exactly like the tracking callback."""

    def __init__(self, directory: Path, experiment: str = "parsweep") -> None:
        self.uri = f"sqlite:///{directory / 'mlflow.db'}"
        self.client = MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(
            experiment, artifact_location=(directory / "mlruns").as_uri()
        )

    def sweep(self, name: str = "sweep · test") -> str:
        tags = {"parsweep.role": "sweep", "parsweep.trials_total": "0", "parsweep.overrides": "backend=serial"}
        return self.client.create_run(self.experiment_id, run_name=name, tags=tags).info.run_id

    def finish_sweep(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def trial(
        self,
        parent: str | None,
        backend: str,
        workers: int,
        n: int,
        reps: list[float] | None,
        *,
        host: str = "alpha",
        cpu_model: str = "Test CPU 3000",
        workload: str = "sum_range",
        status: str = "FINISHED",
        error: str | None = None,
        start_method: str | None = None,
        chunks: int | None = None,
        repeats: str | None = None,
    ) -> str:
        """One trial run; ``reps`` are its recorded repetition wall times (None: it never timed one);
        ``chunks`` defaults to one per worker, as the runner logs it."""
        tags = {
            "parsweep.role": "trial",
            "parsweep.config_hash": f"{abs(hash((backend, workers, n, host))):016x}"[:16],
            "parsweep.backend": backend,
            **host_tags(host, cpu_model),
        }
        if parent:
            tags["mlflow.parentRunId"] = parent
        name = f"{backend} · {workers} workers · n={n}"
        run_id = self.client.create_run(self.experiment_id, run_name=name, tags=tags).info.run_id
        now = int(time.time() * 1000)
        values: dict[str, float] = {"correct": 0.0 if error else 1.0}
        if reps:
            wall = statistics.median(reps)
            values.update(
                startup_s=1e-3,
                wall_time_s=wall,
                wall_time_min_s=min(reps),
                wall_time_mean_s=statistics.mean(reps),
                wall_time_std_s=statistics.stdev(reps) if len(reps) > 1 else 0.0,
                cpu_time_s=wall * workers,
                cpu_utilization=float(workers),
                dispatch_s=1e-4,
            )
        values["repeats_done"] = float(len(reps or []))
        values["trial_duration_s"] = sum(reps or []) + 0.01
        metrics = [Metric(k, float(v), now, 0) for k, v in values.items()]
        metrics += [Metric("rep_wall_time_s", float(v), now, step) for step, v in enumerate(reps or [])]
        params = {
            "backend": backend,
            "workers": workers,
            "n": n,
            "workload": workload,
            "repeats": repeats or len(reps or [1]),
            "warmup": 1,
            "start_method": start_method or ("fork" if backend == "multiprocessing" else "none"),
            "chunks": chunks if chunks is not None else (1 if backend == "serial" else workers),
        }
        batch_tags = [RunTag("parsweep.error", error)] if error else []
        self.client.log_batch(run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in params.items()], tags=batch_tags)
        self.client.set_terminated(run_id, status=status)
        return run_id


def reps_around(wall: float) -> list[float]:
    """Three repetitions whose median is ``wall``."""
    return [wall * 0.98, wall, wall * 1.03]


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoreBuilder, str, str]:
    builder = StoreBuilder(tmp_path_factory.mktemp("store"))
    old = builder.sweep("sweep · old")
    builder.trial(old, "serial", 1, 1000, reps_around(9.0))
    builder.finish_sweep(old)
    time.sleep(0.01)
    sweep = builder.sweep("sweep · new")
    builder.trial(sweep, "serial", 1, 1000, reps_around(1.0))
    builder.trial(sweep, "threading", 2, 1000, reps_around(1.1))
    builder.trial(sweep, "multiprocessing", 2, 1000, None, status="FAILED", error="worker crashed")
    builder.finish_sweep(sweep, "FAILED")
    builder.trial(None, "serial", 1, 1000, reps_around(1.2))  # a lone `parsweep` trial
    return builder, old, sweep


def test_load_sweep_is_one_tidy_row_per_trial(small_store: Any) -> None:
    builder, _, sweep = small_store
    trials = load_sweep(builder.uri, sweep)
    assert len(trials) == 3
    assert sorted(trials["status"]) == ["FAILED", "FINISHED", "FINISHED"]
    assert trials["n"].dtype == "Int64" and trials["workers"].dtype == "Int64"
    assert set(trials["host"]) == {"alpha"}
    assert set(trials["host_cpu_model"]) == {"Test CPU 3000"}
    assert trials["host_cpu_usable"].tolist() == [4, 4, 4]
    assert (trials["sweep_run_id"] == sweep).all()
    failed = trials[trials["status"] == "FAILED"].iloc[0]
    assert failed["error"] == "worker crashed" and pd.isna(failed["wall_time_s"])
    threading = trials[trials["backend"] == "threading"].iloc[0]
    assert threading["wall_time_s"] == pytest.approx(1.1)
    assert "rep_wall_time_s" not in trials  # only its last value would be there: samples come separately
    assert trials.attrs["sweep_run_id"] == sweep and trials.attrs["experiment"] == "parsweep"


def test_latest_sweep_and_whole_experiment(small_store: Any) -> None:
    builder, old, sweep = small_store
    assert latest_sweep_id(builder.uri) == sweep
    assert set(load_latest_sweep(builder.uri)["sweep_run_id"]) == {sweep}
    everything = load_experiment(builder.uri)
    assert len(everything) == 5  # both sweeps' trials and the lone trial, not the parents
    assert everything["sweep_run_id"].isna().sum() == 1
    assert old in set(everything["sweep_run_id"].dropna())


def test_samples_are_the_rep_series_in_step_order(small_store: Any) -> None:
    builder, _, sweep = small_store
    trials = load_sweep(builder.uri, sweep)
    samples = load_samples(builder.uri, trials["run_id"])
    assert list(samples.columns) == ["run_id", "rep", "wall_time_s"]
    threading = trials.loc[trials["backend"] == "threading", "run_id"].iloc[0]
    mine = samples[samples["run_id"] == threading]
    assert mine["rep"].tolist() == [0, 1, 2]
    assert mine["wall_time_s"].tolist() == pytest.approx(reps_around(1.1))
    failed = trials.loc[trials["status"] == "FAILED", "run_id"].iloc[0]
    assert samples[samples["run_id"] == failed].empty


def test_missing_things_are_one_line_errors(small_store: Any, tmp_path: Path) -> None:
    builder, _, _ = small_store
    with pytest.raises(ReportError, match="no MLflow store at"):
        load_latest_sweep(f"sqlite:///{tmp_path / 'nothing.db'}")
    assert not (tmp_path / "nothing.db").exists()  # looking did not create an empty store
    with pytest.raises(ReportError, match="experiment 'nope' not found.*parsweep"):
        load_latest_sweep(builder.uri, "nope")
    with pytest.raises(ReportError, match="no run deadbeef"):
        load_sweep(builder.uri, "deadbeef")
    trial = builder.client.search_runs([builder.experiment_id], "tags.`parsweep.role` = 'trial'", max_results=1)[0]
    with pytest.raises(ReportError, match="is not a sweep"):
        load_sweep(builder.uri, trial.info.run_id)
