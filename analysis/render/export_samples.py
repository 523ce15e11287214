"""The repetitions themselves, to take elsewhere: a per-repetition CSV and pyperf's JSON.

* ``samples-csv``: one row per recorded repetition of every trial the report pools, with
  the trial's keys: :data:`SAMPLE_CSV_COLUMNS`.
* ``pyperf``: one pyperf ``BenchmarkSuite`` (JSON format version 1.0, what ``pyperf dump``
  writes), readable by ``python -m pyperf stats / hist / compare_to``. One benchmark per
  report row (a single sweep: one per trial), named from its keys
  (:func:`benchmark_name`); each pooled trial is one pyperf run whose values are its
  repetitions' wall times in seconds. Metadata: pyperf's own keys where they exist
  (``hostname``, ``cpu_model_name``, ``cpu_count``, ``python_version``,
  ``python_implementation``, ``date``) and parsweep's keys prefixed ``parsweep_``. Names
  leave out what every benchmark of the file shares (the host, the interpreter), so
  ``compare_to`` matches the same configuration across two files, say two interpreters;
  they include it where the file spans several.

Written by hand rather than with pyperf's API: pyperf is not a dependency of parsweep (the
tests read these files with the real pyperf).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.model.formatting import format_n, is_blank
from analysis.model.metrics import ROW_KEYS
from analysis.model.report import Report
from analysis.render.export_csv import frame_csv
from analysis.render.exporter import Exporter

SAMPLE_CSV_COLUMNS = [
    "run_id", "host", "python", "workload", "n", "backend", "start_method", "chunks", "workers", "rep", "wall_time_s", "trust",
]
PYPERF_FORMAT_VERSION = "1.0"


def sample_rows(report: Report) -> pd.DataFrame:
    """One row per repetition of every pooled trial (:data:`SAMPLE_CSV_COLUMNS`), by trial then repetition."""
    trials, samples = report.trials, report.samples
    if trials.empty or samples.empty:
        return pd.DataFrame(columns=SAMPLE_CSV_COLUMNS)
    keys = trials[["run_id", "host", "python", "workload", "n", "backend", "start_method", "chunks", "workers", "trust"]]
    rows = samples.merge(keys, on="run_id", how="inner")
    order = {run: i for i, run in enumerate(trials["run_id"])}
    rows = rows.assign(_order=rows["run_id"].map(order)).sort_values(["_order", "rep"], kind="stable")
    return rows[SAMPLE_CSV_COLUMNS].reset_index(drop=True)


def to_samples_csv(report: Report) -> str:
    """:func:`sample_rows` as CSV."""
    return frame_csv(sample_rows(report))


def benchmark_name(row: Mapping[str, Any], with_host: bool, with_python: bool) -> str:
    """``sum_range n=1e7 process_pool x2`` (``(spawn)``, ``chunks=16``, ``python=3.13.5t``, ``host=vm`` when they tell rows apart)."""
    parts = [str(row["workload"]), f"n={format_n(row['n'])}", str(row["backend"])]
    if row["start_method"] not in (None, "none") and not is_blank(row["start_method"]):
        parts[-1] += f" ({row['start_method']})"
    if row["backend"] != "serial":
        parts.append(f"x{int(row['workers'])}")
    if row["chunks"]:
        parts.append(f"chunks={row['chunks']}")
    if with_python:
        parts.append(f"python={row['python']}")
    if with_host:
        parts.append(f"host={row['host']}")
    return " ".join(parts)


def _metadata(values: dict[str, Any]) -> dict[str, Any]:
    """pyperf's rules: str, int or float values, no empty strings, no newlines."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if is_blank(value):
            continue
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, bool):
            value = str(value).lower()
        if isinstance(value, str):
            value = " ".join(value.split())
            if not value:
                continue
        elif not isinstance(value, (int, float)):
            value = str(value)
        out[key] = value
    return out


RUN_COLUMNS = ["run_id", "run_name", "sweep_run_id", "start_time", "trust", "warmup"]  # what a pyperf run says of its trial
BENCHMARK_COLUMNS = [  # what a pyperf benchmark says of its row (the first trial's, which every trial of the row shares)
    "workload", "n", "backend", "start_method", "chunks", "workers", "python", "host",
    "host_cpu_model", "host_cpu_usable", "python_version", "python_implementation",
]


def to_pyperf_dict(report: Report) -> dict[str, Any]:
    """The pyperf ``BenchmarkSuite`` JSON document of the report's trials (see the module's docstring)."""
    trials, samples = report.trials, report.samples
    if trials.empty or samples.empty:
        return {"version": PYPERF_FORMAT_VERSION, "benchmarks": []}
    values = samples.groupby("run_id", sort=False)["wall_time_s"].apply(list).to_dict()
    with_host = trials["host"].nunique() > 1
    with_python = trials["python"].nunique() > 1
    # The trials as plain dicts of only the columns used, read once: a pandas row or a group's
    # slice of the wide frame (~90 columns) per row-group cost a 41-trial sweep's report 62 ms
    # (11 ms this way, the same JSON; the 2-core VM, 2026-12-04, warm, in one process).
    columns = [c for c in dict.fromkeys([*RUN_COLUMNS, *BENCHMARK_COLUMNS]) if c in trials.columns]
    records = trials[columns].to_dict("records")
    benchmarks = []
    for positions in trials.groupby(ROW_KEYS, sort=False, dropna=False).indices.values():
        group = [records[i] for i in positions]
        first = group[0]
        runs = []
        for trial in group:
            repetitions = [v for v in values.get(trial["run_id"], []) if v > 0]  # pyperf takes values > 0 only
            if not repetitions:
                continue
            start = trial["start_time"]
            date = start.isoformat(sep=" ", timespec="seconds") if not is_blank(start) else None
            run_metadata = _metadata({
                "date": date, "parsweep_run_id": trial["run_id"], "parsweep_run_name": trial["run_name"],
                "parsweep_sweep_run_id": trial["sweep_run_id"], "parsweep_trust": trial["trust"],
                "parsweep_warmup": trial["warmup"],
            })
            runs.append({"metadata": run_metadata, "values": repetitions})
        if not runs:
            continue
        usable = pd.to_numeric(first.get("host_cpu_usable"), errors="coerce")
        metadata = _metadata({
            "name": benchmark_name(first, with_host, with_python),
            "unit": "second",
            "loops": 1,
            "hostname": first["host"],
            "cpu_model_name": first.get("host_cpu_model"),
            "cpu_count": int(usable) if not is_blank(usable) else None,
            "python_version": first.get("python_version"),
            "python_implementation": first.get("python_implementation"),
            "parsweep_python": first["python"],
            "parsweep_workload": first["workload"],
            "parsweep_n": int(first["n"]),
            "parsweep_backend": first["backend"],
            "parsweep_start_method": first["start_method"],
            "parsweep_chunks": first["chunks"],
            "parsweep_workers": int(first["workers"]),
        })
        benchmarks.append({"metadata": metadata, "runs": runs})
    return {"version": PYPERF_FORMAT_VERSION, "benchmarks": benchmarks}


def to_pyperf(report: Report) -> str:
    """:func:`to_pyperf_dict` as JSON text."""
    return json.dumps(to_pyperf_dict(report), sort_keys=True) + "\n"


EXPORTERS = [Exporter("samples-csv", "samples.csv", to_samples_csv), Exporter("pyperf", "pyperf.json", to_pyperf)]
