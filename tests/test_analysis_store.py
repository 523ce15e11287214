"""A real sqlite MLflow store populated the way the runner logs trials, and the loader on it.

:class:`StoreBuilder` (imported by the other ``test_analysis_*`` modules) writes a sweep's
parent run and one child run per trial with the spec's params, metrics (including the
``rep_wall_time_s`` steps), ``host.*`` / ``python.*`` / ``git.*`` tags, parsweep's own tags
(trust, samples, interpreter label, warnings) and final status, with timings the test
chooses; ``old=True`` writes a trial the way runs were logged before those tags existed.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow.entities import Metric, Param, RunTag

from analysis.data.load import ReportError, latest_sweep_id, load_experiment, load_latest_sweep, load_samples, load_sweep
from runner.tracking.names import (
    GROUP_TAG,
    PYTHON_LABEL_TAG,
    REPEATS_STOP_TAG,
    SAMPLE_METRIC,
    SAMPLE_PROBES_TAG,
    SAMPLE_PROCESSES_TAG,
    SAMPLE_ROUNDS_TAG,
    SAMPLES_TAG,
    TRUST_TAG,
    WARNINGS_TAG,
    WORKLOAD_FUNCTION_TAG,
)
from runner.tracking.store import open_client


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
        "git.commit": "f" * 40,
        "git.dirty": "false",
    }


#: Interpreters as the runner records them: (python.version, free-threaded build, GIL on at run time).
PYTHONS = {
    "3.11.7": ("3.11.7", False, True),
    "3.13.5t": ("3.13.5", True, False),
    "3.13.5t+GIL": ("3.13.5", True, True),
    "3.14.10": ("3.14.10", False, True),
}


def python_tags(label: str, *, old: bool = False) -> dict[str, str]:
    """The trial interpreter's tags; ``old``: as runs logged before the label and free_threaded tags."""
    version, free, gil = PYTHONS[label]
    tags = {"python.version": version, "python.implementation": "CPython", "python.gil_enabled": str(gil).lower(),
            "python.executable": f"/opt/python{version}{'t' if free else ''}/bin/python3"}
    if not old:
        tags.update({"python.free_threaded": str(free).lower(), PYTHON_LABEL_TAG: label})
    return tags


class StoreBuilder:
    """Writes sweeps and trials into a sqlite store, exactly like the tracking callback."""

    def __init__(self, directory: Path, experiment: str = "parsweep") -> None:
        self.uri = f"sqlite:///{directory / 'mlflow.db'}"
        # opened as parsweep opens a store: a new one is a copy of MLflow's empty store, not ~1 s of
        # migrations for each of the suite's synthetic stores (runner.tracking.fresh_store)
        self.client = open_client(self.uri)
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
        usable: int = 4,
        python: str = "3.11.7",
        workload: str = "sum_range",
        function: str | None = None,
        status: str = "FINISHED",
        error: str | None = None,
        start_method: str | None = None,
        chunks: int | None = None,
        repeats: str | None = None,
        samples_tag: bool = True,
        old: bool = False,
        trust: str | None = "ok",
        warnings: list[str] | None = None,
        metrics: dict[str, float] | None = None,
        group: str | None = None,
        rounds: list[int] | None = None,
        processes: list[int] | None = None,
        repeats_stop: str | None = None,
        probes: list[float] | None = None,
    ) -> str:
        """One trial run; ``reps`` are its recorded repetition wall times (None: it never timed one);
        ``chunks`` defaults to one per worker, as the runner logs it. ``samples_tag``: the
        repetitions also in ``parsweep.rep_wall_times_s`` (the runner does; older runs did not);
        ``old``: logged as before the trust, label, samples and free-threaded tags existed;
        ``trust``: the ``parsweep.trust`` tag; ``metrics``: figures to set or override
        (``cpu_utilization`` defaults to ``workers``); ``group`` and ``rounds``: measured in
        interleaved rounds, as the runner tags it (``rounds`` defaults to 0, 1, ... with a group);
        ``processes``: which of the trial's processes measured each sample (repeats_per_process);
        ``repeats_stop``: the rule that stopped its repeats=auto (``parsweep.repeats_stop``);
        ``probes``: each sample's speed probe (``parsweep.sample_probes``)."""
        tags = {
            "parsweep.role": "trial",
            "parsweep.config_hash": f"{abs(hash((backend, workers, n, host, python, function))):016x}"[:16],
            "parsweep.backend": backend,
            **host_tags(host, cpu_model, usable),
            **python_tags(python, old=old),
        }
        if function:
            tags[WORKLOAD_FUNCTION_TAG] = function
        if parent:
            tags["mlflow.parentRunId"] = parent
        name = f"{backend} · {workers} workers · n={n}" + (f" · {function}" if function else "")
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
        values.update(metrics or {})
        batch_metrics = [Metric(k, float(v), now, 0) for k, v in values.items()]
        batch_metrics += [Metric("rep_wall_time_s", float(v), now, step) for step, v in enumerate(reps or [])]
        params = {
            "backend": backend,
            "workers": workers,
            "n": n,
            "workload": workload if not function else "custom",
            "repeats": repeats or len(reps or [1]),
            "warmup": 1,
            "start_method": start_method or ("fork" if backend == "multiprocessing" else "none"),
            "chunks": chunks if chunks is not None else (1 if backend == "serial" else workers),
        }
        if not old:
            params.update(python="current", gil="default")
        batch_tags = [RunTag("parsweep.error", error)] if error else []
        if warnings:
            batch_tags.append(RunTag(WARNINGS_TAG, "\n".join(warnings)))
        if not old and reps and status == "FINISHED":
            if trust is not None:
                batch_tags.append(RunTag(TRUST_TAG, trust))
            if samples_tag:
                batch_tags.append(RunTag(SAMPLES_TAG, ",".join(repr(float(v)) for v in reps)))
            if group is not None:
                batch_tags.append(RunTag(GROUP_TAG, group))
                indexes = rounds if rounds is not None else list(range(len(reps)))
                batch_tags.append(RunTag(SAMPLE_ROUNDS_TAG, ",".join(str(i) for i in indexes)))
            if processes is not None:
                batch_tags.append(RunTag(SAMPLE_PROCESSES_TAG, ",".join(str(i) for i in processes)))
            if repeats_stop is not None:
                batch_tags.append(RunTag(REPEATS_STOP_TAG, repeats_stop))
            if probes is not None:
                batch_tags.append(RunTag(SAMPLE_PROBES_TAG, ",".join(repr(float(v)) for v in probes)))
        self.client.log_batch(run_id, metrics=batch_metrics, params=[Param(k, str(v)) for k, v in params.items()], tags=batch_tags)
        self.client.set_terminated(run_id, status=status)
        return run_id


def reps_around(wall: float) -> list[float]:
    """Five repetitions whose median is ``wall`` (spread 3%: trusted, and enough for a 95% test)."""
    return [wall * 0.98, wall * 1.01, wall, wall * 1.03, wall * 0.97]


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


def test_samples_are_the_repetitions_in_order(small_store: Any) -> None:
    builder, _, sweep = small_store
    trials = load_sweep(builder.uri, sweep)
    samples = load_samples(builder.uri, trials)
    # round and process: NaN for runs without parsweep.sample_rounds / parsweep.sample_processes
    assert list(samples.columns) == ["run_id", "rep", "wall_time_s", "round", "process"]
    assert samples["process"].isna().all()
    threading = trials.loc[trials["backend"] == "threading", "run_id"].iloc[0]
    mine = samples[samples["run_id"] == threading]
    assert mine["rep"].tolist() == [0, 1, 2, 3, 4]
    assert mine["wall_time_s"].tolist() == pytest.approx(reps_around(1.1))
    failed = trials.loc[trials["status"] == "FAILED", "run_id"].iloc[0]
    assert samples[samples["run_id"] == failed].empty


def test_samples_come_from_the_tag_and_old_runs_from_their_history(tmp_path: Path) -> None:
    """The tag is read with the runs (no query); a run without it is asked for its metric history;
    both give the same frame. A run whose history differs from its tag shows which was read."""
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    tagged = builder.trial(sweep, "serial", 1, 1000, [0.3, 0.1, 0.2])
    old = builder.trial(sweep, "threading", 2, 1000, [0.5, 0.4, 0.6], old=True)
    # the tag is the truth for new runs: make its metric history disagree to see which one is read
    from mlflow.entities import Metric

    builder.client.log_batch(tagged, metrics=[Metric("rep_wall_time_s", 9.0, 0, 3)])
    trials = load_sweep(builder.uri, sweep)
    assert pd.isna(trials.set_index("run_id").loc[old, "rep_wall_times_s"])
    samples = load_samples(builder.uri, trials)
    by_run = samples.groupby("run_id")["wall_time_s"].apply(list)
    assert by_run[tagged] == pytest.approx([0.3, 0.1, 0.2])  # from the tag, in repetition order
    assert by_run[old] == pytest.approx([0.5, 0.4, 0.6])  # from the history (the fallback)
    # no query at all: runs without the tag have no samples
    quiet = load_samples(builder.uri, trials, history=False)
    assert set(quiet["run_id"]) == {tagged}
    # plain run ids: every one from its history
    from_ids = load_samples(builder.uri, trials["run_id"])
    assert from_ids.groupby("run_id")["wall_time_s"].apply(list)[tagged] == pytest.approx([0.3, 0.1, 0.2, 9.0])


def test_old_runs_histories_come_in_bulk_from_a_sql_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins the one private MLflow path the report takes (runner.tracking.store.metric_history_bulk):
    a sqlite store's client reaches ``get_metric_history_bulk`` through ``_tracking_client.store``,
    and its answer for many runs, across query chunks, is the public per-run history's. A client
    without that store (a tracking server's) gets None: the per-run requests."""
    from runner.tracking import store as tracking_store
    from runner.tracking.store import metric_history_bulk

    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    old = {builder.trial(sweep, "threading", w, 1000, [0.5 + w, 0.4 + w, 0.6 + w], old=True): w for w in range(1, 6)}
    client = open_client(builder.uri)
    ids = list(old)
    public = sorted((run_id, m.step, m.value) for run_id in ids for m in client.get_metric_history(run_id, SAMPLE_METRIC))
    assert len(public) == 15
    monkeypatch.setattr(tracking_store, "BULK_HISTORY_RUNS", 2)  # three queries for five runs
    bulk = metric_history_bulk(client, ids, SAMPLE_METRIC)
    assert bulk is not None, "MLflow's SQL store lost get_metric_history_bulk: the report falls back to a request per run"
    assert sorted(bulk) == public
    samples = load_samples(builder.uri, load_sweep(builder.uri, sweep))
    for run_id, workers in old.items():
        mine = samples[samples["run_id"] == run_id]
        assert mine["wall_time_s"].tolist() == pytest.approx([0.5 + workers, 0.4 + workers, 0.6 + workers])
    assert metric_history_bulk(object(), ids, SAMPLE_METRIC) is None


@pytest.mark.slow
def test_old_runs_through_a_tracking_server_take_one_request_each(tmp_path: Path) -> None:
    """A tracking server's client has no bulk query: the same old runs' histories come one public
    request per run, and read the same as from the store itself."""
    import _cluster_services as services

    from runner.tracking.store import metric_history_bulk

    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    old = [builder.trial(sweep, "threading", w, 1000, [0.5 + w, 0.4 + w, 0.6 + w], old=True) for w in range(1, 4)]
    direct = load_samples(builder.uri, old)
    with services.mlflow_server(builder.uri, tmp_path) as url:
        assert metric_history_bulk(open_client(url), old, SAMPLE_METRIC) is None
        served = load_samples(url, old)
    assert len(served) == 9
    pd.testing.assert_frame_equal(served, direct)


def test_a_search_pauses_the_cycle_collector_and_gives_it_back(tmp_path: Path) -> None:
    """Every run is read with Python's cycle collector paused (runner.tracking.store.collector_paused),
    and the collector is left as it was found: on, off, or after an error inside."""
    import gc

    from runner.tracking.store import collector_paused, search_all_runs

    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    ids = {builder.trial(sweep, "threading", w, 1000, reps_around(1.0)) for w in range(1, 4)}
    client = open_client(builder.uri)
    experiment = client.get_experiment_by_name("parsweep").experiment_id
    assert gc.isenabled()
    seen: list[bool] = []
    original = client._client.search_runs  # the MlflowClient a RetryingClient holds

    def searching(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    client._client.search_runs = searching
    found = {run.info.run_id for run in search_all_runs(client, [experiment], f"tags.`mlflow.parentRunId` = '{sweep}'")}
    assert found == ids and seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("inside")
    assert gc.isenabled()


def test_interpreter_labels_and_custom_workloads(tmp_path: Path) -> None:
    """``python`` is the runner's label, or built the same way for runs logged before it; a custom
    workload is named by its function."""
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    runs = {
        "new-gil": builder.trial(sweep, "serial", 1, 1000, reps_around(1.0)),
        "new-ft": builder.trial(sweep, "serial", 1, 1000, reps_around(1.3), python="3.13.5t"),
        "new-ft-gil": builder.trial(sweep, "serial", 1, 1000, reps_around(1.3), python="3.13.5t+GIL"),
        "old-gil": builder.trial(sweep, "serial", 1, 1000, reps_around(1.0), old=True),
        "old-ft": builder.trial(sweep, "serial", 1, 1000, reps_around(1.3), python="3.13.5t", old=True),
        "custom": builder.trial(sweep, "serial", 1, 1000, reps_around(1.0), function="mywork:chunk"),
    }
    trials = load_sweep(builder.uri, sweep).set_index("run_id")
    labels = {name: trials.loc[run_id, "python"] for name, run_id in runs.items()}
    assert labels == {"new-gil": "3.11.7", "new-ft": "3.13.5t", "new-ft-gil": "3.13.5t+GIL", "old-gil": "3.11.7",
                      "old-ft": "3.13.5t", "custom": "3.11.7"}
    assert trials.loc[runs["custom"], "workload"] == "custom:mywork:chunk"
    assert trials.loc[runs["new-gil"], "workload"] == "sum_range"
    assert trials.loc[runs["new-gil"], "python_command"] == "current" and trials.loc[runs["new-gil"], "gil"] == "default"
    from analysis.data.load import python_label

    assert python_label("3.10.14", "PyPy", None, "true") == "PyPy 3.10.14"  # never one row with CPython 3.10.14
    assert python_label(None) == "unknown"


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
