"""MLflow runs -> one tidy DataFrame, one row per trial."""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

INT_PARAMS = ("workers", "n", "repeats", "warmup")
COLUMNS = [
    "run_id", "run_name", "status", "host", "workload", "n", "backend", "workers", "start_method",
    "wall_time_s", "wall_time_min_s", "wall_time_std_s", "cpu_time_s", "cpu_utilization", "startup_s", "correct",
]


def runs_to_frame(runs: Iterable[Any]) -> pd.DataFrame:
    """Trial runs (``mlflow.entities.Run``) as a DataFrame with params cast to their types."""
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "status": run.info.status,
            "host": run.data.tags.get("host.name"),
        }
        row.update(run.data.params)
        row.update(run.data.metrics)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else COLUMNS)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    for column in INT_PARAMS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def load_sweep(tracking_uri: str, sweep_run_id: str) -> pd.DataFrame:
    """All trials of one sweep (parent run id)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    parent = client.get_run(sweep_run_id)
    runs = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{sweep_run_id}'", max_results=50000
    )
    return runs_to_frame(runs)
