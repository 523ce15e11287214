"""Everything parsweep says to MLflow, through ``MlflowClient`` only.

No fluent API (``mlflow.start_run``) is used anywhere: there is never an "active run" to
leak from one trial into the next, and a stray ``MLFLOW_RUN_ID`` in the environment
cannot redirect a run. Each finished trial is written with one ``log_batch`` call.

The one door to MLflow: :func:`open_client` (client creation), :func:`check_reachable`,
:func:`search_all_runs` (paging) and :class:`Tracker` (the runner's writes); the analysis reads
through the same functions. Every call goes through :class:`RetryingClient`: a sqlite store shared by two launchers at
once answers "database is locked" now and then (and two launchers creating a fresh store
race on its tables); such calls are retried with exponential backoff instead of failing.
HTTP calls retry only briefly (see ``HTTP_DEFAULTS``): a tracking server that went away
mid-sweep must not stall the trials; what cannot be logged waits in the sweep's journal
(:mod:`runner.tracking.journal`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import posixpath
import random
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner.tracking.fresh_store import seed
from runner.tracking.names import EXPERIMENT_TAGS, PARENT_TAG

DEFAULT_DB = "mlflow.db"
HEALTH_TIMEOUT_S = 5.0
# MLflow's own HTTP retries default to minutes of backoff; a sweep would stall on a dead server.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",  # MLflow parses it as an int
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    # MLflow's own chatter, wherever parsweep logs (a remote launcher's worker too): no
    # "View run ... at:" line per run, no INFO lines about the store.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}
RETRY_ATTEMPTS = 12
RETRY_FIRST_DELAY_S = 0.1
RETRY_MAX_DELAY_S = 4.0
_TRANSIENT = re.compile(r"database is locked|database table is locked|table \w+ already exists", re.IGNORECASE)


class TrackingError(RuntimeError):
    """The tracking store cannot be used; ``str()`` is one line for the user."""


def resolve_uri(configured: str | None, launch_dir: str | os.PathLike[str]) -> str:
    """``tracking.uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<launch dir>/mlflow.db``.

    Relative local paths (``sqlite:///mlflow.db``, ``./mlruns``) are made absolute against the
    launch directory, so a job's working directory never moves the store.
    """
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or ""
    launch = Path(launch_dir).resolve()
    if not uri:
        return f"sqlite:///{launch / DEFAULT_DB}"
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///") :]
        if path and not path.startswith("/") and path != ":memory:":
            return f"sqlite:///{launch / path}"
        return uri
    if "://" not in uri:  # a bare path: a file store
        return str((launch / uri).resolve())
    return uri


def is_transient(exc: BaseException) -> bool:
    """A sqlite store busy with another writer (or another launcher creating its tables)."""
    return bool(_TRANSIENT.search(str(exc)))


def with_retries(call: Any, *args: Any, what: str = "", **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, retried with exponential backoff (and jitter) while transient."""
    delay = RETRY_FIRST_DELAY_S
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if attempt == RETRY_ATTEMPTS or not is_transient(exc):
                raise
            if attempt == 3:
                print(f"  warning: tracking store busy ({first_line(exc)}); retrying {what or getattr(call, '__name__', 'call')}", file=sys.stderr, flush=True)
            time.sleep(delay * (1 + random.random() / 2))
            delay = min(delay * 2, RETRY_MAX_DELAY_S)
    raise AssertionError("unreachable")


class RetryingClient:
    """An ``MlflowClient`` whose every method retries transient store errors (see module doc)."""

    def __init__(self, uri: str) -> None:
        from mlflow.tracking import MlflowClient

        for key, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
        # Creating the client opens the store: on a fresh sqlite file, that creates the tables,
        # and two launchers migrating one file at once corrupt it. One at a time, then.
        with _store_init_lock(uri):
            if uri.startswith("sqlite:///") and "?" not in uri and not uri.endswith(":memory:"):
                seed(Path(uri[len("sqlite:///") :]).resolve())
            self._client = with_retries(MlflowClient, tracking_uri=uri, what="opening the store")

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def retried(*args: Any, **kwargs: Any) -> Any:
            return with_retries(attribute, *args, what=name, **kwargs)

        return retried


@contextlib.contextmanager
def _store_init_lock(uri: str) -> Iterator[None]:
    """For a sqlite store: an exclusive lock while the store opens (a file in the temp directory,
    named after the store, so that nothing is left beside the user's files)."""
    if not uri.startswith("sqlite:///") or uri.endswith(":memory:"):
        yield
        return
    import fcntl
    import hashlib

    from runner.host.leftovers import same_file

    db = Path(uri[len("sqlite:///") :]).resolve()
    name = hashlib.sha256(str(db).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"parsweep-store-{name}.lock"
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if same_file(fd, path):
                break
            os.close(fd)  # its holder removed it while we waited: lock the new one
    except OSError:  # nowhere to put it: nothing to serialise
        yield
        return
    try:
        yield
    finally:
        # Removed while held, so that none piles up: a launcher waiting on this file finds it
        # gone once it gets the lock, and locks a new one (same_file above).
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def open_client(uri: str) -> Any:
    """The one way parsweep opens an MLflow store (the runner's :class:`Tracker`, the analysis's
    loader and publisher): a :class:`RetryingClient` (retries, HTTP time-outs, one opener at a
    time), its failure one :class:`TrackingError` line. Pair it with :func:`check_reachable`
    (fail fast on a dead server) and :func:`search_all_runs` (every page of a search)."""
    try:
        return RetryingClient(uri)
    except Exception as exc:
        raise TrackingError(f"tracking.uri={uri}: cannot open the tracking store ({first_line(exc)})") from exc


def check_reachable(uri: str, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    """Fail fast, with one line, when an HTTP tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise TrackingError(f"tracking.uri={uri}: the MLflow server answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"tracking.uri={uri}: cannot reach the MLflow tracking server ({reason}); "
            "start it or point tracking.uri / MLFLOW_TRACKING_URI at a running one"
        ) from None


class Tracker:
    """Runs of one experiment in one tracking store."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.client = open_client(uri)
        self._experiment_ids: dict[str, str] = {}
        self._artifact_dirs: dict[str, Path] = {}  # runs this tracker created, with a file:// artifact location

    def experiment_id(self, name: str) -> str:
        """The experiment's id, creating it once (safe when two launchers race)."""
        if name not in self._experiment_ids:
            self._experiment_ids[name] = self._find_or_create(name)
        return self._experiment_ids[name]

    def _find_or_create(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                try:
                    return str(self.client.create_experiment(name, artifact_location=self._artifact_location(), tags=EXPERIMENT_TAGS))
                except MlflowException:
                    found = self.client.get_experiment_by_name(name)
                    if found is None:
                        raise
            with contextlib.suppress(Exception):  # a courtesy for the UI (a read-only user may not set tags): never stops a launch
                ensure_experiment_tags(self.client, found.experiment_id, found.tags)  # made by an older parsweep, or by hand
            return str(found.experiment_id)
        except Exception as exc:  # MlflowException, or the store's own (sqlalchemy, requests)
            raise TrackingError(f"tracking.uri={self.uri}: {first_line(exc)}") from None

    def _artifact_location(self) -> str | None:
        # Keep artifacts next to a local sqlite store rather than under whatever the
        # current directory happens to be when the experiment is created.
        if self.uri.startswith("sqlite:///"):
            return (Path(self.uri[len("sqlite:///") :]).parent / "mlruns").as_uri()
        return None

    def start_run(
        self,
        experiment_id: str,
        name: str,
        tags: dict[str, str],
        parent_run_id: str | None = None,
        start_time_ms: int | None = None,
    ) -> str:
        if parent_run_id:
            tags = {**tags, PARENT_TAG: parent_run_id}
        run = self.client.create_run(experiment_id, run_name=name, tags=tags, start_time=start_time_ms)
        if run.info.artifact_uri.startswith("file://"):
            self._artifact_dirs[run.info.run_id] = Path(urllib.request.url2pathname(urllib.parse.urlparse(run.info.artifact_uri).path))
        return run.info.run_id

    def get_run(self, run_id: str) -> Any | None:
        """The run, or None when this store has no such run."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")) or "not found" in str(exc).lower():
                return None
            raise

    def metric_history(self, run_id: str, key: str) -> list[float]:
        """A per-step metric's values in step order (``rep_wall_time_s``)."""
        history = self.client.get_metric_history(run_id, key)
        return [m.value for m in sorted(history, key=lambda m: (m.step, m.timestamp))]

    def log_texts(self, run_id: str, files: dict[str, str]) -> None:
        """Text artifacts (``{artifact path: text}``, e.g. ``.hydra/config.yaml``) in one upload.

        A run this tracker created whose artifact location is a ``file://`` URI (the local
        sqlite store's ``mlruns/``) gets its files written straight into that directory, the
        artifact URI ``create_run`` returned: ``MlflowClient.log_artifacts`` would look the run
        up in the store first and copy from a temporary directory, about 5 ms a trial, a tenth
        of parsweep's per-trial budget. Any other location (a tracking server's, S3) goes
        through ``log_artifacts``.
        """
        if not files:
            return
        directory = self._artifact_dirs.pop(run_id, None)
        if directory is not None:
            for artifact_file, text in files.items():
                path = directory.joinpath(*posixpath.normpath(artifact_file).split("/"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            return
        from runner.host.leftovers import make_temp_dir

        tmp = make_temp_dir("artifacts", remove_at_exit=False)  # named after this process: a kill -9 leaves it to the next launch
        try:
            for artifact_file, text in files.items():
                path = Path(tmp, *posixpath.normpath(artifact_file).split("/"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            self.client.log_artifacts(run_id, str(tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def search(self, experiment_id: str, filter_string: str = "", newest_first: bool = False, max_results: int | None = None) -> list[Any]:
        """Runs of the experiment matching ``filter_string`` (MLflow search syntax), every page."""
        return search_all_runs(self.client, [experiment_id], filter_string, newest_first=newest_first, max_results=max_results)

    def reopen(self, run_id: str) -> None:
        """A finished, failed or killed run is running again (a sweep being resumed)."""
        self.client.update_run(run_id, status="RUNNING")

    def log_trial(
        self,
        run_id: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        series: dict[str, list[float]],
        tags: dict[str, str],
    ) -> None:
        """Params, metrics, per-step series and tags of a trial in a single batch."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        metric_entities = [Metric(key, float(value), now, 0) for key, value in metrics.items()]
        for key, values in series.items():
            metric_entities += [Metric(key, float(v), now, step) for step, v in enumerate(values)]
        self.client.log_batch(
            run_id,
            metrics=metric_entities,
            params=[Param(key, str(value)) for key, value in params.items()],
            tags=[RunTag(key, str(value)) for key, value in tags.items()],
        )

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def finish(self, run_id: str, status: str, end_time_ms: int | None = None) -> None:
        """``status``: FINISHED, FAILED or KILLED."""
        self.client.set_terminated(run_id, status=status, end_time=end_time_ms)

    def children(self, experiment_id: str, parent_run_id: str) -> list[Any]:
        """Every trial run of a sweep, oldest first."""
        return self.search(experiment_id, f"tags.`{PARENT_TAG}` = '{parent_run_id}'")


def ensure_experiment_tags(client: Any, experiment_id: str, held: dict[str, str] | None = None) -> None:
    """Set :data:`~runner.tracking.names.EXPERIMENT_TAGS` where the experiment lacks them (or they
    differ), so MLflow's UI opens it on the runs table with ``speedup`` as its primary metric.

    ``held``: the experiment's tags when the caller has them already (saves a request)."""
    if held is None:
        held = client.get_experiment(experiment_id).tags or {}
    for key, value in EXPERIMENT_TAGS.items():
        if held.get(key) != value:
            client.set_experiment_tag(experiment_id, key, value)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


SEARCH_PAGE_SIZE = 10_000  # what mlflow.search_runs uses
BULK_HISTORY_RUNS = 500  # run ids per bulk metric-history query (far under sqlite's variable limit)


def metric_history_bulk(client: Any, run_ids: list[str], key: str) -> list[tuple[str, int, float]] | None:
    """Every value of metric ``key`` of ``run_ids``, as ``(run id, step, value)`` sorted by run,
    then by when it was logged, in one query per :data:`BULK_HISTORY_RUNS` runs; None when the
    store has no such query (a tracking server, a file store): then ask
    ``get_metric_history`` once per run.

    A private path, on purpose. ``MlflowClient`` offers a metric's history one run at a time, a
    request each: on 10,000 runs logged before the samples tag, ``parsweep-report`` took 68-69 s
    against 36 s for runs that carry it (``benchmarks/report_scale.py``, benchmarks/README.md). MLflow's
    SQL store answers many runs in one query, ``get_metric_history_bulk``: the query MLflow's own
    server calls (``mlflow.server.handlers``) when its UI charts many runs, after the same
    ``hasattr`` test as here. It is reached through the client's ``_tracking_client.store``.
    ``tests/test_analysis_store.py::test_old_runs_histories_come_in_bulk_from_a_sql_store`` pins
    both, and that its answer is the public per-run one's.
    """
    mlflow_client = getattr(client, "_client", client)  # a RetryingClient holds the MlflowClient
    store = getattr(getattr(mlflow_client, "_tracking_client", None), "store", None)
    bulk = getattr(store, "get_metric_history_bulk", None)
    if bulk is None:
        return None
    values: list[tuple[str, int, float]] = []
    with collector_paused():
        for start in range(0, len(run_ids), BULK_HISTORY_RUNS):
            chunk = run_ids[start : start + BULK_HISTORY_RUNS]
            found = with_retries(bulk, run_ids=chunk, metric_key=key, max_results=2**31 - 1, what="get_metric_history_bulk")
            values.extend((str(metric.run_id), int(metric.step), float(metric.value)) for metric in found)
    return values


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block, back on after it (if it was on).

    Reading many runs builds a few hundred objects per run (SQLAlchemy's rows and instance
    states, MLflow's entities), all of them alive, and the collector, woken every few hundred new
    objects, walks the growing heap again and again: on 10,000 runs, ``parsweep-report`` took
    1.48-1.54x ``mlflow.search_runs`` before the pause and 0.93-1.05x after it
    (``benchmarks/report_scale.py``, benchmarks/README.md). What the block leaves as garbage is
    collected as usual once the collector is back.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def search_all_runs(
    client: Any, experiment_ids: list[str], filter_string: str = "", newest_first: bool = False, max_results: int | None = None
) -> list[Any]:
    """Every run matching ``filter_string`` (MLflow search syntax), all pages, oldest first
    (newest first with ``newest_first``); at most ``max_results`` when given. Read with the cycle
    collector paused (:func:`collector_paused`)."""
    runs: list[Any] = []
    token = None
    order = "DESC" if newest_first else "ASC"
    with collector_paused():
        while True:
            page = client.search_runs(
                list(experiment_ids),
                filter_string=filter_string,
                max_results=min(SEARCH_PAGE_SIZE, max_results) if max_results else SEARCH_PAGE_SIZE,
                order_by=[f"attributes.start_time {order}"],
                page_token=token,
            )
            runs.extend(page)
            token = page.token
            if not token or (max_results is not None and len(runs) >= max_results):
                return runs[:max_results] if max_results else runs
