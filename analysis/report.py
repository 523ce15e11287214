"""One model of a report, which every rendering (terminal, markdown, csv, html, json, plots) reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.formatting import backend_labels
from analysis.load import load_samples, load_trials
from analysis.metrics import amdahl_fit, crossover, finished, speedup_table, with_amdahl
from analysis.stats import CONFIDENCE, RESAMPLES, SEED

#: The CSV's columns, in order (the spec's names first).
CSV_COLUMNS = [
    "host", "workload", "n", "backend", "workers", "wall_time_s", "speedup", "efficiency", "karp_flatt",
    "start_method", "chunks", "trials", "wall_time_std_s", "speedup_ci_low", "speedup_ci_high", "self_speedup",
    "amdahl_serial_fraction", "amdahl_ceiling", "cpu_utilization", "host_cpu_model",
]


@dataclass
class Report:
    """Everything a report shows.

    ``table``: one row per (host, workload, n, backend, start_method, chunks, workers), see
    :data:`CSV_COLUMNS`; ``amdahl`` and ``crossover``: see :mod:`analysis.metrics`;
    ``hosts``: one row per host (CPU model, usable CPUs, Python); ``notes``: what was left
    out or left blank, and why; ``counts``: trials by outcome.
    """

    table: pd.DataFrame
    amdahl: pd.DataFrame
    crossover: pd.DataFrame
    hosts: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    confidence: float = CONFIDENCE

    @property
    def title(self) -> str:
        """``Speedup vs serial · experiment parsweep · sweep run <id>`` (or ``· all trials``)."""
        parts = ["Speedup vs serial"]
        if self.selection.get("experiment"):
            parts.append(f"experiment {self.selection['experiment']}")
        if self.selection.get("sweep_run_id"):
            parts.append(f"sweep run {self.selection['sweep_run_id']}")
        elif self.selection.get("experiment"):
            parts.append("all trials")
        return " · ".join(parts)

    def csv_frame(self) -> pd.DataFrame:
        """The table as exported to CSV and JSON: :data:`CSV_COLUMNS`."""
        return self.table[CSV_COLUMNS]


def _host_facts(trials: pd.DataFrame) -> pd.DataFrame:
    columns = ["host", "host_cpu_model", "host_cpu_usable", "python_version", "python_implementation", "python_gil_enabled"]
    done = finished(trials)
    if done.empty:
        return pd.DataFrame(columns=columns)
    facts = done[columns].copy()
    facts["host"] = facts["host"].fillna("unknown")
    return facts.groupby("host", dropna=False, sort=True).first().reset_index()


def _notes(trials: pd.DataFrame, table: pd.DataFrame, crossovers: pd.DataFrame, counts: dict[str, int]) -> list[str]:
    from runner.ui.terminal import format_n

    notes = []
    if counts["failed"]:
        notes.append(f"{counts['failed']} FAILED trial{'s' if counts['failed'] != 1 else ''} left out")
    if counts["unfinished"]:
        notes.append(f"{counts['unfinished']} trial{'s' if counts['unfinished'] != 1 else ''} not finished (running or killed) left out")
    if counts["incomplete"]:
        notes.append(f"{counts['incomplete']} finished trial(s) without a wall time, backend, n or workers left out")
    missing = table[table["speedup"].isna()][["host", "workload", "n"]].drop_duplicates()
    for host, workload, n in missing.itertuples(index=False, name=None):
        notes.append(
            f"no serial baseline for host {host}, workload {workload}, n={format_n(int(n))}: speedup, efficiency and Karp-Flatt left blank"
        )
    hosts = table["host"].dropna().unique()
    if len(hosts) > 1:
        notes.append(f"{len(hosts)} hosts ({', '.join(map(str, hosts))}): each is compared with its own serial baseline only")
    never = crossovers[crossovers["crossover_n"].isna()]
    for row, label in zip(never.itertuples(index=False), backend_labels(never)):
        notes.append(
            f"{label} never beats serial on host {row.host} for n from {format_n(int(row.n_min))} to {format_n(int(row.n_max))}"
        )
    done = finished(trials)
    if not done.empty and "python_version" in done:
        for host, versions in done.groupby("host")["python_version"]:
            distinct = sorted(versions.dropna().unique())
            if len(distinct) > 1:
                notes.append(f"host {host}: trials ran on Python {', '.join(distinct)} and are compared together")
    return notes


def build_report(
    trials: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Report:
    """The report of a trial frame (and, for confidence intervals, its samples)."""
    status = trials["status"] if "status" in trials else pd.Series(dtype=str)
    counts = {
        "total": int(len(trials)),
        "finished": int((status == "FINISHED").sum()),
        "failed": int((status == "FAILED").sum()),
    }
    counts["unfinished"] = counts["total"] - counts["finished"] - counts["failed"]
    counts["incomplete"] = counts["finished"] - (int(len(finished(trials))) if len(trials) else 0)
    table = speedup_table(trials, samples, confidence=confidence, resamples=resamples, seed=seed)
    amdahl = amdahl_fit(table)
    crossovers = crossover(table)
    table = with_amdahl(table, amdahl)
    return Report(
        table=table,
        amdahl=amdahl,
        crossover=crossovers,
        hosts=_host_facts(trials),
        notes=_notes(trials, table, crossovers, counts),
        counts=counts,
        selection=dict(trials.attrs),
        confidence=confidence,
    )


def load_report(
    tracking_uri: str | None = None,
    *,
    experiment: str = "parsweep",
    sweep: str | None = None,
    all_trials: bool = False,
    intervals: bool = True,
    seed: int = SEED,
) -> Report:
    """Load a selection (see :func:`analysis.load.load_trials`) and build its report.

    ``intervals=False`` skips reading the repetition samples (no confidence intervals).
    """
    trials = load_trials(tracking_uri, experiment=experiment, sweep=sweep, all_trials=all_trials)
    samples = None
    if intervals:
        done = finished(trials)
        samples = load_samples(trials.attrs["tracking_uri"], done["run_id"]) if not done.empty else None
    return build_report(trials, samples, seed=seed)
