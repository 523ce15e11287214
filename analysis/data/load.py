"""MLflow runs -> one tidy DataFrame, one row per trial; repetition samples on demand.

Three selections: one sweep (:func:`load_sweep`, by its parent run id), the latest sweep of an
experiment (:func:`load_latest_sweep`), or every trial of an experiment
(:func:`load_experiment`). :func:`load_trials` picks one of them the way the report CLI does.

Runs are read with ``MlflowClient.search_runs`` in pages
(:func:`runner.tracking.store.search_all_runs`, what ``mlflow.search_runs`` does, without
building its wide DataFrame). A trial's repetition wall times come with it: the runner keeps
them in the ``parsweep.rep_wall_times_s`` tag (comma-separated, repetition order), so
:func:`load_samples` parses them from the trial frame with no further query. Only runs logged
before that tag existed fall back to the ``rep_wall_time_s`` metric history: from a SQL store
(sqlite, PostgreSQL...) in one query per 500 runs, MLflow's own bulk query
(:func:`runner.tracking.store.metric_history_bulk`), else one public
``MlflowClient.get_metric_history`` request per run, in a thread pool (about 2 ms a run).

Identity columns the report groups by: ``host`` (``host.name``; for cluster backends the
cluster's name), ``python`` (the interpreter's label, :func:`python_labels`) and ``workload``
(``custom:module:function`` for a custom workload, so two custom functions never share a row).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runner.tracking.names import (
    CI_METHOD_TAG,
    CONFIG_HASH_TAG,
    DISCARDED_TAG,
    ERROR_TAG,
    GROUP_TAG,
    PARENT_TAG,
    PYTHON_LABEL_TAG,
    REPEATS_STOP_TAG,
    ROLE_TAG,
    SAMPLE_METRIC,
    SAMPLE_PROBES_TAG,
    SAMPLE_PROCESSES_TAG,
    SAMPLE_ROUNDS_TAG,
    SAMPLES_TAG,
    SCHEDULE_SEED_TAG,
    SCHEDULE_TAG,
    SPEEDUP_TRUST_TAG,
    TRIAL_METRICS,
    TRUST_TAG,
    WARNINGS_TAG,
    WORKLOAD_FUNCTION_TAG,
)

EXPERIMENT = "parsweep"
HISTORY_THREADS = 8  # parallel get_metric_history requests for runs without the samples tag

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
    "other_cpu_cores",
    "load_imbalance",
    "reps_discarded",
    "reps_interfered",
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
#: parsweep's own tags, as trial-frame columns.
TAG_COLUMNS = {
    ERROR_TAG: "error",
    CONFIG_HASH_TAG: "config_hash",
    WORKLOAD_FUNCTION_TAG: "workload_function",
    TRUST_TAG: "trust_tag",
    WARNINGS_TAG: "warnings",
    DISCARDED_TAG: "discarded",
    SAMPLES_TAG: "rep_wall_times_s",
    SAMPLE_ROUNDS_TAG: "sample_rounds",
    SAMPLE_PROCESSES_TAG: "sample_processes",
    SAMPLE_PROBES_TAG: "sample_probes",
    SCHEDULE_TAG: "schedule",
    SCHEDULE_SEED_TAG: "schedule_seed",
    GROUP_TAG: "group",
    REPEATS_STOP_TAG: "repeats_stop",
    PYTHON_LABEL_TAG: "python_label",
}
#: Params whose names would clash with an identity column.
RENAMED_PARAMS = {"python": "python_command"}
COLUMNS = [
    "run_id", "run_name", "status", "experiment_id", "sweep_run_id", "start_time", "end_time",
    "host", "python", "workload", "workload_function", "n", "backend", "workers", "start_method", "chunks",
    "repeats", "repeats_auto", "warmup", "python_command", "gil",
    *METRICS,
    "error", "warnings", "warnings_count", "trust_tag", "discarded", "schedule", "schedule_seed", "group", "repeats_stop",
    "config_hash", "host_cpu_model", "host_cpu_usable", "python_label", "python_version", "python_implementation",
    "python_free_threaded", "python_gil_enabled", "python_executable", "git_commit", "rep_wall_times_s",
    "sample_rounds", "sample_processes", "sample_probes",
]
SAMPLE_COLUMNS = ["run_id", "rep", "wall_time_s"]
#: Samples of interleaved trials also carry ``round``: the interleaved round each was measured in
#: (``parsweep.sample_rounds``), which is what pairs a trial's repetition with its baseline's;
#: and ``process``: which of the trial's processes measured it (``parsweep.sample_processes``),
#: what tells the pairs that share a couple of processes (runner.trial.stats.log_mean_interval).
ROUND_COLUMN = "round"
PROCESS_COLUMN = "process"


class ReportError(RuntimeError):
    """What the user asked for cannot be found or read; ``str()`` is one line."""


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
    """One client per store for the whole process, through the runner's one door to MLflow
    (:func:`runner.tracking.store.open_client`: retries while a sqlite store is busy)."""
    from runner.tracking.store import open_client

    return open_client(tracking_uri)


def experiment_id(tracking_uri: str, experiment: str = EXPERIMENT) -> str:
    """The id of the experiment named ``experiment``; :class:`ReportError` when there is none."""
    client = _client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = sorted(e.name for e in client.search_experiments())
        known = f" (experiments there: {', '.join(names)})" if names else " (it holds no experiment yet)"
        raise ReportError(f"experiment '{experiment}' not found in {tracking_uri}{known}")
    return str(found.experiment_id)


def _search(
    tracking_uri: str, experiment_ids: list[str], filter_string: str, *, newest_first: bool = False, max_results: int | None = None
) -> list[Any]:
    from runner.tracking.store import search_all_runs

    return search_all_runs(_client(tracking_uri), experiment_ids, filter_string, newest_first=newest_first, max_results=max_results)


def _true(value: Any) -> Any:
    """A logged "true"/"false" tag as a bool (None when absent or anything else)."""
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text in ("true", "1", True):
        return True
    if text in ("false", "0", False):
        return False
    return None


def python_label(
    version: Any, implementation: Any = None, free_threaded: Any = None, gil_enabled: Any = None, tag: Any = None
) -> str:
    """The interpreter as the report names it: ``3.11.7``, ``3.13.5t`` (free-threaded),
    ``3.13.5t+GIL`` (a free-threaded build with its GIL forced on); ``PyPy 3.10.14`` for
    another implementation; ``unknown`` without a version.

    ``tag`` (the runner's ``parsweep.python``) wins when present; otherwise the label is built
    the runner's way (:func:`runner.host.facts.python_label`) from the ``python.*`` tags. Runs
    logged before ``python.free_threaded`` existed count as free-threaded when their GIL was
    off (a GIL build cannot turn it off).
    """
    from runner.host.facts import python_label as runner_label

    if isinstance(tag, str) and tag.strip():
        label = tag.strip()
    elif isinstance(version, str) and version.strip():
        gil = _true(gil_enabled)
        free = _true(free_threaded)
        if free is None:
            free = gil is False
        label = runner_label(version.strip(), free, True if gil is None else gil)
    else:
        return "unknown"
    if isinstance(implementation, str) and implementation.strip() and implementation.strip().lower() != "cpython":
        label = f"{implementation.strip()} {label}"  # the runner's label names CPython's builds only
    return label


def python_labels(frame: pd.DataFrame) -> pd.Series:
    """:func:`python_label` of every row of a trial frame."""
    columns = ["python_version", "python_implementation", "python_free_threaded", "python_gil_enabled", "python_label"]
    values = [frame[c] if c in frame else pd.Series(None, index=frame.index, dtype=object) for c in columns]
    cache: dict[tuple[Any, ...], str] = {}
    labels = []
    for key in zip(*values):
        key = tuple(None if v is pd.NA or (isinstance(v, float) and v != v) else v for v in key)
        if key not in cache:
            cache[key] = python_label(*key)
        labels.append(cache[key])
    return pd.Series(labels, index=frame.index, dtype=object)


def workload_labels(workload: pd.Series, function: pd.Series | None) -> pd.Series:
    """``sum_range`` as is; ``custom:mywork:chunk`` for a custom workload (its function named)."""
    names = workload.astype(object).where(workload.notna(), "unknown")
    if function is None:
        return names
    custom = names.eq("custom") & function.notna()
    return names.where(~custom, "custom:" + function.astype(str))


def runs_to_frame(runs: Iterable[Any]) -> pd.DataFrame:
    """Trial runs (``mlflow.entities.Run``) as the tidy trial frame, one row per run.

    Params are cast to their types (``n``, ``workers``, ``repeats``, ``warmup``, ``chunks`` as
    nullable integers; the ``python`` param as ``python_command``), the run's status is kept,
    ``host.name`` becomes ``host``, every other ``host.*`` / ``python.*`` / ``git.*`` /
    ``cluster.*`` tag a ``host_*`` / ``python_*`` / ``git_*`` / ``cluster_*`` column (numeric
    host facts as numbers), parsweep's own tags the columns of :data:`TAG_COLUMNS`
    (``warnings`` the text, ``warnings_count`` its lines). ``python`` is the interpreter's label
    and ``workload`` names a custom workload's function (see the module's docstring). Trials of
    a cluster backend get the cluster's ``cluster.name`` as ``host``.
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
        }
        for key, value in tags.items():
            column = TAG_COLUMNS.get(key)
            if column:
                row[column] = value
                continue
            section, _, name = key.partition(".")
            if section in ("host", "python", "git", "cluster") and name and key != "host.name":
                row[f"{section}_{name}"] = value
        for key, value in data.params.items():
            row[RENAMED_PARAMS.get(key, key)] = value
        row.update(data.metrics)
        row.pop(SAMPLE_METRIC, None)  # only its last value: the samples come from load_samples
        for written_back in TRIAL_METRICS:  # a report's own figures (analysis.notebook), never its input
            row.pop(written_back, None)
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
    frame["python"] = python_labels(frame)
    frame["workload"] = workload_labels(frame["workload"], frame["workload_function"])
    text = frame["warnings"].astype("string").str.strip()
    frame["warnings_count"] = text.str.count("\n").add(1).where(text.fillna("").ne(""), 0).fillna(0).astype(int)
    extra = sorted(c for c in frame.columns if c not in COLUMNS)
    return frame[COLUMNS + extra]


HELD = "held"  # the key of a sweep's HeldFigures in its trial frame's attrs (and its report's selection)
WRITTEN_BACK_TAGS = (SPEEDUP_TRUST_TAG, CI_METHOD_TAG)  # the tags a report writes on its trial runs


@dataclass(eq=False)
class HeldFigures:
    """What a sweep's trial runs held, when they were read, of the figures a report writes back
    on them (:func:`analysis.notebook.publish_figures`), so that writing them back needs no
    second read of every run (on 10,000 runs, ``parsweep-report`` took 36 s with that second
    search and 23-24 s without it, ``benchmarks/report_scale.py``).

    ``runs``: per run id, its :data:`~runner.tracking.names.TRIAL_METRICS`, its
    :data:`WRITTEN_BACK_TAGS` and its end time (ms since the epoch, or None). It rides in the
    trial frame's ``attrs`` (:data:`HELD`). pandas deep-copies a frame's attrs into every frame
    derived from it; the copies share this one instead, so that what ``publish_figures`` writes
    (:meth:`wrote`) is known to all of them: publishing one report twice writes nothing the
    second time.
    """

    runs: dict[str, tuple[Mapping[str, float], Mapping[str, str], int | None]]

    def __deepcopy__(self, memo: dict[int, Any]) -> HeldFigures:
        return self

    def wrote(self, run_id: str, metrics: Mapping[str, float], tags: Mapping[str, str]) -> None:
        """The run now holds these figures too (they were just written onto it)."""
        held_metrics, held_tags, end = self.runs[run_id]
        self.runs[run_id] = ({**held_metrics, **metrics}, {**held_tags, **tags}, end)

    @classmethod
    def of(cls, runs: Iterable[Any]) -> HeldFigures:
        return cls({
            str(run.info.run_id): (
                {key: run.data.metrics[key] for key in TRIAL_METRICS if key in run.data.metrics},
                {key: run.data.tags[key] for key in WRITTEN_BACK_TAGS if key in run.data.tags},
                run.info.end_time,
            )
            for run in runs
        })


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
    runs = _search(tracking_uri, [parent.info.experiment_id], f"tags.`{PARENT_TAG}` = '{sweep_run_id}'")
    experiment = _client(tracking_uri).get_experiment(parent.info.experiment_id).name
    return _with_selection(
        runs_to_frame(runs), tracking_uri=tracking_uri, experiment=experiment, sweep_run_id=sweep_run_id,
        sweep_name=parent.info.run_name, **{HELD: HeldFigures.of(runs)},
    )


def latest_sweep_id(tracking_uri: str, experiment: str = EXPERIMENT) -> str:
    """The parent run id of the most recently started sweep of ``experiment``."""
    check_store(tracking_uri)
    exp_id = experiment_id(tracking_uri, experiment)
    runs = _search(tracking_uri, [exp_id], f"tags.`{ROLE_TAG}` = 'sweep'", newest_first=True, max_results=1)
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
    runs = _search(tracking_uri, [exp_id], f"tags.`{ROLE_TAG}` = 'trial'")
    return _with_selection(runs_to_frame(runs), tracking_uri=tracking_uri, experiment=experiment, sweep_run_id=None)


def load_trials(
    tracking_uri: str | None = None, *, experiment: str = EXPERIMENT, sweep: str | None = None, all_trials: bool = False
) -> pd.DataFrame:
    """The report's selection: ``sweep`` (a parent run id), else every trial of ``experiment``
    when ``all_trials``, else the latest sweep of ``experiment``. The URI is resolved the
    runner's way (:func:`runner.tracking.store.resolve_uri`, relative to the current directory)."""
    from runner.tracking.store import resolve_uri

    uri = resolve_uri(tracking_uri, os.getcwd())
    if sweep:
        return load_sweep(uri, sweep)
    if all_trials:
        return load_experiment(uri, experiment)
    return load_latest_sweep(uri, experiment)


def parse_samples(text: Any) -> list[float] | None:
    """One ``parsweep.rep_wall_times_s`` tag -> its wall times; None when absent or unreadable."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        return None


def samples_from_tags(trials: pd.DataFrame) -> pd.DataFrame:
    """The repetition samples kept in the trials' ``parsweep.rep_wall_times_s`` tags (no query).

    Columns ``run_id``, ``rep`` (0, 1, ... in repetition order), ``wall_time_s``, ``round``
    (the interleaved round of each repetition, from ``parsweep.sample_rounds``; NaN for runs
    without that tag, or whose tag does not name one round per sample) and ``process`` (the
    same, from ``parsweep.sample_processes``); runs without the samples tag (or with an
    unreadable one) have no rows.
    """
    columns = [*SAMPLE_COLUMNS, ROUND_COLUMN, PROCESS_COLUMN]
    if trials.empty or "rep_wall_times_s" not in trials:
        return pd.DataFrame(columns=columns)
    text = trials.set_index("run_id")["rep_wall_times_s"].dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return pd.DataFrame(columns=columns)
    values = text.str.split(",").explode()
    frame = pd.DataFrame({"run_id": values.index, "wall_time_s": pd.to_numeric(values.to_numpy(), errors="coerce")})
    frame["rep"] = frame.groupby("run_id", sort=False).cumcount()
    bad = frame.loc[frame["wall_time_s"].isna(), "run_id"].unique()
    frame = frame[~frame["run_id"].isin(bad)]  # a damaged tag: read that run's history instead
    frame[ROUND_COLUMN] = _per_sample(trials, frame, "sample_rounds")
    frame[PROCESS_COLUMN] = _per_sample(trials, frame, "sample_processes")
    return frame[columns].reset_index(drop=True)


def _per_sample(trials: pd.DataFrame, samples: pd.DataFrame, column: str) -> np.ndarray:
    """Each sample's whole number from the trials' comma-separated ``column`` (a round, a
    process: see :func:`samples_from_tags`), NaN where it is not known."""
    rounds = np.full(len(samples), np.nan)
    if column not in trials or samples.empty:
        return rounds
    by_run: dict[str, list[float]] = {}
    for run_id, text in trials.set_index("run_id")[column].dropna().items():
        try:
            by_run[str(run_id)] = [float(int(part)) for part in str(text).split(",")]
        except ValueError:
            continue  # unreadable: that run is not paired
    if not by_run:
        return rounds
    counts = samples.groupby("run_id", sort=False).size()
    for position, (run_id, rep) in enumerate(zip(samples["run_id"], samples["rep"])):
        known = by_run.get(run_id)
        if known is not None and len(known) == counts[run_id]:
            rounds[position] = known[rep]
    return rounds


def samples_from_history(tracking_uri: str, run_ids: Iterable[str], metric: str = SAMPLE_METRIC) -> pd.DataFrame:
    """The samples of runs logged without the samples tag: their ``rep_wall_time_s`` metric
    history, in bulk from a SQL store (:func:`runner.tracking.store.metric_history_bulk`), else
    one public ``MlflowClient.get_metric_history`` request per run, :data:`HISTORY_THREADS` at a
    time. A step logged twice keeps its latest value."""
    from runner.tracking.store import metric_history_bulk

    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return pd.DataFrame(columns=SAMPLE_COLUMNS)
    client = _client(tracking_uri)
    records = metric_history_bulk(client, ids, metric)
    if records is None:

        def history(run_id: str) -> list[tuple[str, int, float]]:
            return [(run_id, int(m.step), float(m.value)) for m in client.get_metric_history(run_id, metric)]

        with ThreadPoolExecutor(max_workers=HISTORY_THREADS) as pool:
            records = [record for part in pool.map(history, ids) for record in part]
    frame = pd.DataFrame(records, columns=SAMPLE_COLUMNS)
    return frame.drop_duplicates(["run_id", "rep"], keep="last")


def load_samples(tracking_uri: str, runs: pd.DataFrame | Iterable[str], *, history: bool = True) -> pd.DataFrame:
    """The repetition samples of the given runs: columns ``run_id``, ``rep``, ``wall_time_s``, ``round``, ``process``.

    ``runs``: a trial frame (from :func:`load_trials` and friends: the samples come from its
    ``parsweep.rep_wall_times_s`` tags, and only runs without one are asked for their metric
    history) or plain run ids (all from the metric history). ``history=False`` never queries
    (runs without the tag then have no samples). One row per recorded repetition, sorted by run
    and repetition.
    """
    if isinstance(runs, pd.DataFrame):
        tagged = samples_from_tags(runs)
        have = set(tagged["run_id"])
        missing = [r for r in runs["run_id"] if r not in have] if history else []
    else:
        tagged = pd.DataFrame(columns=SAMPLE_COLUMNS)
        missing = list(runs) if history else []
    parts = [tagged]
    if missing:
        parts.append(samples_from_history(tracking_uri, missing))
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(not p.empty for p in parts) else tagged
    for column in (ROUND_COLUMN, PROCESS_COLUMN):
        if column not in frame:
            frame[column] = np.nan
    frame = frame.astype({"run_id": object, "rep": "int64", "wall_time_s": "float64", ROUND_COLUMN: "float64", PROCESS_COLUMN: "float64"})
    return frame.sort_values(["run_id", "rep"], kind="stable").reset_index(drop=True)


EXPERIMENT_PREFIX = "experiment:"


def load_source(tracking_uri: str, source: str) -> pd.DataFrame:
    """One side of a comparison: ``experiment:NAME`` (every trial of that experiment) or a sweep's run id."""
    if source.startswith(EXPERIMENT_PREFIX):
        name = source[len(EXPERIMENT_PREFIX) :]
        if not name:
            raise ReportError(f"{source}: name the experiment, e.g. experiment:parsweep")
        return load_experiment(tracking_uri, name)
    return load_sweep(tracking_uri, source)
