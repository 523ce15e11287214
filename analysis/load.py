"""MLflow runs -> one tidy DataFrame, one row per trial; repetition samples on demand.

Three selections: one sweep (:func:`load_sweep`, by its parent run id), the latest sweep of an
experiment (:func:`load_latest_sweep`), or every trial of an experiment
(:func:`load_experiment`). :func:`load_trials` picks one of them the way the report CLI does.

Runs are read with ``MlflowClient.search_runs`` in pages (what ``mlflow.search_runs`` does,
without building its wide DataFrame). The ``rep_wall_time_s`` series is not part of a
search result (only its last value is), so :func:`load_samples` fetches it separately, in
bulk where the store allows it (sqlite and other SQL stores: one query per 500 runs), else
one request per run, in parallel.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

EXPERIMENT = "parsweep"
ROLE_TAG = "parsweep.role"
PARENT_TAG = "mlflow.parentRunId"
SAMPLE_METRIC = "rep_wall_time_s"
BULK_CHUNK = 500  # run ids per bulk history query (sqlite's variable limit is far above)

INT_PARAMS = ("workers", "n", "repeats", "warmup", "chunks")
STR_PARAMS = ("backend", "workload", "start_method")
METRICS = (
    "wall_time_s",
    "wall_time_min_s",
    "wall_time_mean_s",
    "wall_time_std_s",
    "cpu_time_s",
    "cpu_utilization",
    "startup_s",
    "dispatch_s",
    "correct",
    "repeats_done",
    "trial_duration_s",
)
#: Host facts logged as text but meaning numbers.
NUMERIC_FACTS = (
    "host_cpu_logical",
    "host_cpu_physical",
    "host_cpu_usable",
    "host_cpu_affinity",
    "host_cpu_quota",
    "host_cpu_freq_mhz",
    "host_cpu_freq_max_mhz",
    "host_memory_total_bytes",
    "host_load_1m",
    "host_load_5m",
    "host_load_15m",
)
COLUMNS = [
    "run_id", "run_name", "status", "experiment_id", "sweep_run_id", "start_time", "end_time",
    "host", "workload", "n", "backend", "workers", "start_method", "chunks", "repeats", "repeats_auto", "warmup",
    *METRICS,
    "error", "config_hash", "host_cpu_model", "host_cpu_usable", "python_version", "python_implementation",
    "python_gil_enabled", "git_commit",
]


class ReportError(RuntimeError):
    """What the user asked for cannot be found or read; ``str()`` is one line."""


def resolve_uri(tracking_uri: str | None = None) -> str:
    """The flag, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlflow.db`` (made absolute).

    The same rule as the runner's (:func:`runner.tracking.store.resolve_uri`), relative to the
    current directory.
    """
    from runner.tracking.store import resolve_uri as runner_resolve

    return runner_resolve(tracking_uri, os.getcwd())


def check_store(tracking_uri: str) -> None:
    """Raise :class:`ReportError` when the store is not there (rather than creating an empty one)."""
    if tracking_uri.startswith("sqlite:///"):
        path = tracking_uri[len("sqlite:///") :].split("?", 1)[0]
        if path != ":memory:" and not Path(path).is_file():
            raise ReportError(f"no MLflow store at {path} (run a sweep there first: parsweep -m, or pass --tracking-uri)")
    elif tracking_uri.startswith(("http://", "https://")):
        from runner.tracking.store import TrackingError, check_reachable

        try:
            check_reachable(tracking_uri)
        except TrackingError as exc:
            raise ReportError(str(exc)) from None
    elif "://" not in tracking_uri or tracking_uri.startswith("file:"):
        path = tracking_uri[len("file://") :] if tracking_uri.startswith("file://") else tracking_uri
        if not Path(path).is_dir():
            raise ReportError(f"no MLflow store at {path} (pass --tracking-uri or set MLFLOW_TRACKING_URI)")


@functools.lru_cache(maxsize=8)
def _client(tracking_uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def experiment_id(tracking_uri: str, experiment: str = EXPERIMENT) -> str:
    """The id of the experiment named ``experiment``; :class:`ReportError` when there is none."""
    client = _client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = sorted(e.name for e in client.search_experiments())
        known = f" (experiments there: {', '.join(names)})" if names else " (it holds no experiment yet)"
        raise ReportError(f"experiment '{experiment}' not found in {tracking_uri}{known}")
    return str(found.experiment_id)


def search_all_runs(tracking_uri: str, experiment_ids: Sequence[str], filter_string: str = "") -> list[Any]:
    """Every run matching ``filter_string`` (MLflow search syntax), all pages, oldest first."""
    from runner.tracking.store import search_all_runs as search

    return search(_client(tracking_uri), list(experiment_ids), filter_string)


def runs_to_frame(runs: Iterable[Any]) -> pd.DataFrame:
    """Trial runs (``mlflow.entities.Run``) as the tidy trial frame, one row per run.

    Params are cast to their types (``n``, ``workers``, ``repeats``, ``warmup`` as nullable
    integers), the run's status is kept, ``host.name`` becomes ``host``, every other
    ``host.*`` / ``python.*`` / ``git.*`` / ``cluster.*`` tag a ``host_*`` / ``python_*`` /
    ``git_*`` / ``cluster_*`` column (numeric host facts as numbers), ``parsweep.error`` becomes
    ``error``. Trials of a cluster backend get the cluster's ``cluster.name`` as ``host``.
    """
    rows = []
    for run in runs:
        info, data = run.info, run.data
        tags = data.tags
        row: dict[str, Any] = {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "status": info.status,
            "experiment_id": info.experiment_id,
            "sweep_run_id": tags.get(PARENT_TAG),
            "start_time": info.start_time,
            "end_time": info.end_time,
            # Cluster backends (ray, dask) are grouped by the cluster that did the work, not the launching host.
            "host": tags.get("cluster.name") or tags.get("host.name"),
            "error": tags.get("parsweep.error"),
            "config_hash": tags.get("parsweep.config_hash"),
        }
        for key, value in tags.items():
            section, _, name = key.partition(".")
            if section in ("host", "python", "git", "cluster") and name and key != "host.name":
                row[f"{section}_{name}"] = value
        row.update(data.params)
        row.update(data.metrics)
        row.pop(SAMPLE_METRIC, None)  # only its last value: the samples come from load_samples
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    # repeats=auto: the count is blank and `repeats_auto` says why (`repeats_done` has what ran)
    frame["repeats_auto"] = frame["repeats"].astype("string").str.lower().eq("auto").fillna(False).astype(bool)
    for column in INT_PARAMS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    for column in METRICS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in NUMERIC_FACTS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(pd.to_numeric(frame[column], errors="coerce"), unit="ms", utc=True)
    extra = sorted(c for c in frame.columns if c not in COLUMNS)
    return frame[COLUMNS + extra]


def _with_selection(frame: pd.DataFrame, **selection: Any) -> pd.DataFrame:
    frame.attrs.update(selection)
    return frame


def load_sweep(tracking_uri: str, sweep_run_id: str) -> pd.DataFrame:
    """All trials of one sweep, given the id of its parent run."""
    from mlflow.exceptions import MlflowException

    check_store(tracking_uri)
    try:
        parent = _client(tracking_uri).get_run(sweep_run_id)
    except MlflowException:
        raise ReportError(f"no run {sweep_run_id} in {tracking_uri} (the sweep's run id is printed at its end)") from None
    role = parent.data.tags.get(ROLE_TAG)
    if role != "sweep":
        raise ReportError(f"run {sweep_run_id} is not a sweep (its {ROLE_TAG} tag is {role or 'missing'}): pass a sweep's parent run id")
    runs = search_all_runs(tracking_uri, [parent.info.experiment_id], f"tags.`{PARENT_TAG}` = '{sweep_run_id}'")
    experiment = _client(tracking_uri).get_experiment(parent.info.experiment_id).name
    return _with_selection(
        runs_to_frame(runs), tracking_uri=tracking_uri, experiment=experiment, sweep_run_id=sweep_run_id,
        sweep_name=parent.info.run_name,
    )


def latest_sweep_id(tracking_uri: str, experiment: str = EXPERIMENT) -> str:
    """The parent run id of the most recently started sweep of ``experiment``."""
    check_store(tracking_uri)
    exp_id = experiment_id(tracking_uri, experiment)
    runs = _client(tracking_uri).search_runs(
        [exp_id], filter_string=f"tags.`{ROLE_TAG}` = 'sweep'", max_results=1, order_by=["attributes.start_time DESC"]
    )
    if not runs:
        raise ReportError(f"experiment '{experiment}' in {tracking_uri} holds no sweep yet (run one: parsweep -m)")
    return str(runs[0].info.run_id)


def load_latest_sweep(tracking_uri: str, experiment: str = EXPERIMENT) -> pd.DataFrame:
    """All trials of the most recent sweep of ``experiment`` (the report's default)."""
    return load_sweep(tracking_uri, latest_sweep_id(tracking_uri, experiment))


def load_experiment(tracking_uri: str, experiment: str = EXPERIMENT) -> pd.DataFrame:
    """Every trial of ``experiment``, across sweeps and lone ``parsweep`` runs, whatever its status."""
    check_store(tracking_uri)
    exp_id = experiment_id(tracking_uri, experiment)
    runs = search_all_runs(tracking_uri, [exp_id], f"tags.`{ROLE_TAG}` = 'trial'")
    return _with_selection(runs_to_frame(runs), tracking_uri=tracking_uri, experiment=experiment, sweep_run_id=None)


def load_trials(
    tracking_uri: str | None = None, *, experiment: str = EXPERIMENT, sweep: str | None = None, all_trials: bool = False
) -> pd.DataFrame:
    """The report's selection: ``sweep`` (a parent run id), else every trial of ``experiment``
    when ``all_trials``, else the latest sweep of ``experiment``. The URI is resolved with
    :func:`resolve_uri`."""
    uri = resolve_uri(tracking_uri)
    if sweep:
        return load_sweep(uri, sweep)
    if all_trials:
        return load_experiment(uri, experiment)
    return load_latest_sweep(uri, experiment)


def load_samples(tracking_uri: str, run_ids: Iterable[str], metric: str = SAMPLE_METRIC) -> pd.DataFrame:
    """The repetition samples of the given runs: columns ``run_id``, ``rep`` (the step), ``wall_time_s``.

    One row per recorded repetition, sorted by run and repetition.
    """
    ids = list(dict.fromkeys(run_ids))
    records: list[tuple[str, int, float]] = []
    client = _client(tracking_uri)
    store = None
    try:
        store = client._tracking_client.store  # the bulk query is a store method, not a client one
    except Exception:
        pass
    bulk = getattr(store, "get_metric_history_bulk", None)
    if bulk is not None and ids:
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start : start + BULK_CHUNK]
            for item in bulk(chunk, metric, max_results=2**31 - 1):
                records.append((item.run_id, int(item.step), float(item.value)))
    elif ids:
        def history(run_id: str) -> list[tuple[str, int, float]]:
            return [(run_id, int(m.step), float(m.value)) for m in client.get_metric_history(run_id, metric)]

        with ThreadPoolExecutor(max_workers=8) as pool:
            for part in pool.map(history, ids):
                records.extend(part)
    frame = pd.DataFrame(records, columns=["run_id", "rep", "wall_time_s"])
    frame = frame.drop_duplicates(["run_id", "rep"], keep="last").sort_values(["run_id", "rep"], kind="stable")
    return frame.reset_index(drop=True)
