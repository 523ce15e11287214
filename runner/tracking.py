"""Everything parsweep says to MLflow, through ``MlflowClient`` only.

No fluent API (``mlflow.start_run``) is used anywhere: there is never an "active run" to
leak from one trial into the next, and a stray ``MLFLOW_RUN_ID`` in the environment
cannot redirect a run. Each finished trial is written with one ``log_batch`` call.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable

DEFAULT_DB = "mlflow.db"
ROLE_TAG = "parsweep.role"
PARENT_TAG = "mlflow.parentRunId"
HEALTH_TIMEOUT_S = 5.0


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


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def check_reachable(uri: str) -> None:
    """Fail fast, with one line, when an HTTP tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S) as response:
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
        self.client = _client(uri)

    def experiment_id(self, name: str) -> str:
        """The experiment's id, creating it once (safe when two launchers race)."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                return found.experiment_id
            try:
                return self.client.create_experiment(name, artifact_location=self._artifact_location())
            except MlflowException:
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
                return found.experiment_id
        except MlflowException as exc:
            raise TrackingError(f"tracking.uri={self.uri}: {first_line(exc)}") from None

    def _artifact_location(self) -> str | None:
        # Keep artifacts next to a local sqlite store rather than under whatever the
        # current directory happens to be when the experiment is created.
        if self.uri.startswith("sqlite:///"):
            return (Path(self.uri[len("sqlite:///") :]).parent / "mlruns").as_uri()
        return None

    def start_run(self, experiment_id: str, name: str, tags: dict[str, str], parent_run_id: str | None = None) -> str:
        if parent_run_id:
            tags = {**tags, PARENT_TAG: parent_run_id}
        run = self.client.create_run(experiment_id, run_name=name, tags=tags)
        return run.info.run_id

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

    def log_files(self, run_id: str, files: Iterable[tuple[Path, str | None]]) -> None:
        for path, artifact_path in files:
            if path.exists():
                self.client.log_artifact(run_id, str(path), artifact_path)

    def log_json(self, run_id: str, name: str, data: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="parsweep-") as tmp:
            path = Path(tmp) / name
            path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
            self.client.log_artifact(run_id, str(path))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def finish(self, run_id: str, status: str) -> None:
        """``status``: FINISHED, FAILED or KILLED."""
        self.client.set_terminated(run_id, status=status)

    def children(self, experiment_id: str, parent_run_id: str) -> list[Any]:
        """Every trial run of a sweep, oldest first."""
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs(
                [experiment_id],
                filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
                max_results=1000,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
