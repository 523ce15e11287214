"""One model of a report, which every rendering (terminal, markdown, csv, html, json, samples,
pyperf, plots) reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.model.columns import export_columns
from analysis.model.formatting import format_n
from analysis.model.interpreters import fastest, interpreter_costs
from analysis.model.metrics import amdahl_fit, crossover, finished, prepare_trials, speedup_table, with_amdahl
from analysis.model.stats import CONFIDENCE, RESAMPLES, SEED
from analysis.model.trust import is_ok, trial_trust

WARNING_COLUMNS = ["run_id", "run_name", "host", "python", "workload", "n", "backend", "workers", "warning"]
HOST_COLUMNS = ["host", "host_cpu_model", "host_cpu_usable", "pythons"]


@dataclass
class Report:
    """Everything a report shows.

    ``table``: one row per (host, python, workload, n, backend, start_method, chunks,
    workers), see :mod:`analysis.model.columns`; ``amdahl`` and ``crossover``: see
    :mod:`analysis.model.metrics`; ``interpreters`` and ``fastest``: see :mod:`analysis.model.interpreters`;
    ``verdict``: plain-language lines (:mod:`analysis.claims.verdict`); ``warnings``: one row per
    warning of a pooled trial (:data:`WARNING_COLUMNS`); ``hosts``: one row per host (CPU
    model, usable CPUs, interpreters); ``trials`` / ``samples``: the pooled trials (with their
    ``trust``) and their repetitions, for the per-repetition exports; ``notes``: what was left
    out or left blank, and why; ``counts``: trials by outcome.
    """

    table: pd.DataFrame
    amdahl: pd.DataFrame
    crossover: pd.DataFrame
    hosts: pd.DataFrame
    interpreters: pd.DataFrame = field(default_factory=pd.DataFrame)
    fastest: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WARNING_COLUMNS))
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdict: list[str] = field(default_factory=list)
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

    @property
    def pooled(self) -> bool:
        """True when rows may pool trials of several sweeps (``--all``)."""
        return bool(self.selection.get("experiment")) and not self.selection.get("sweep_run_id")

    @property
    def untrusted(self) -> int:
        """How many rows carry a trust reason."""
        return int((~self.table["trust"].map(is_ok)).sum()) if not self.table.empty else 0

    def csv_frame(self) -> pd.DataFrame:
        """The table as exported to CSV and JSON: :func:`analysis.model.columns.export_columns`."""
        return self.table[export_columns()]


def _host_facts(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame(columns=HOST_COLUMNS)
    facts = table.groupby("host", sort=True).agg(
        host_cpu_model=("host_cpu_model", "first"),
        host_cpu_usable=("host_cpu_usable", "first"),
        pythons=("python", lambda labels: sorted(set(labels))),
    )
    return facts.reset_index()[HOST_COLUMNS]


def warning_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per warning line of each trial (:data:`WARNING_COLUMNS`), in trial order."""
    rows = []
    with_text = trials[trials["warnings"].notna()] if "warnings" in trials else trials.iloc[0:0]
    for trial in with_text.itertuples(index=False):
        for line in str(trial.warnings).splitlines():
            if line.strip():
                rows.append((trial.run_id, trial.run_name, trial.host, trial.python, trial.workload, trial.n,
                             trial.backend, trial.workers, line.strip()))
    return pd.DataFrame(rows, columns=WARNING_COLUMNS)


def remeasured_runs(trials: pd.DataFrame) -> pd.Series:
    """True for a run that did not finish (KILLED by Ctrl-C, FAILED) but whose measurement has a
    FINISHED run in the same selection (same ``parsweep.config_hash``): a resumed sweep measured it
    again. Such a run is not a trial of its own: it is neither counted nor said to be missing."""
    if trials.empty or "config_hash" not in trials or "status" not in trials:
        return pd.Series(False, index=trials.index, dtype=bool)
    done = set(trials.loc[trials["status"] == "FINISHED", "config_hash"].dropna())
    return (trials["status"] != "FINISHED") & trials["config_hash"].isin(done)


def _notes(table: pd.DataFrame, counts: dict[str, int]) -> list[str]:
    """What was left out or left blank, and why (a crossover's absence is said in its own table)."""
    notes = []
    if counts.get("remeasured"):
        runs = counts["remeasured"]
        notes.append(f"{runs} run{'s' if runs != 1 else ''} stopped before the sweep was resumed "
                     f"{'were' if runs != 1 else 'was'} measured again: the FINISHED run{'s' if runs != 1 else ''} count"
                     f"{'' if runs != 1 else 's'}, the stopped one{'s' if runs != 1 else ''} {'are' if runs != 1 else 'is'} kept for the record")
    if counts["failed"]:
        notes.append(f"{counts['failed']} FAILED trial{'s' if counts['failed'] != 1 else ''} left out")
    if counts["unfinished"]:
        notes.append(f"{counts['unfinished']} trial{'s' if counts['unfinished'] != 1 else ''} not finished (running or killed) left out")
    if counts["incomplete"]:
        notes.append(f"{counts['incomplete']} finished trial(s) without a wall time, backend, n or workers left out")
    missing = table[table["speedup"].isna()][["host", "python", "workload", "n"]].drop_duplicates()
    for host, python, workload, n in missing.itertuples(index=False, name=None):
        notes.append(
            f"no serial baseline for host {host}, Python {python}, workload {workload}, n={format_n(int(n))}: "
            "speedup, efficiency and Karp-Flatt left blank"
        )
    hosts = table["host"].dropna().unique()
    if len(hosts) > 1:
        notes.append(f"{len(hosts)} hosts ({', '.join(map(str, hosts))}): each is compared with its own serial baseline only")
    for host, pythons in table.groupby("host")["python"]:
        labels = sorted(set(pythons))
        if len(labels) > 1:
            notes.append(f"host {host}: {len(labels)} interpreters ({', '.join(labels)}): each speedup is against serial "
                         "on the same interpreter; see the interpreters section for how they compare")
    return notes


def build_figures(
    trials: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    intervals: bool = True,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Report:
    """The report of a trial frame (and of its repetition samples: they give the trust of runs
    logged without a ``parsweep.trust`` tag, the per-repetition exports and, unless
    ``intervals=False``, the confidence intervals), without the verdict: :func:`analysis.report.build_report`
    adds it (the claims sit above the figures they read)."""

    selection = dict(trials.attrs)
    status = trials["status"] if "status" in trials else pd.Series(dtype=str)
    remeasured = remeasured_runs(trials)
    counts = {
        "total": int(len(trials)) - int(remeasured.sum()),
        "finished": int((status == "FINISHED").sum()),
        "failed": int(((status == "FAILED") & ~remeasured).sum()),
        "remeasured": int(remeasured.sum()),
    }
    counts["unfinished"] = counts["total"] - counts["finished"] - counts["failed"]
    counts["incomplete"] = counts["finished"] - (int(len(finished(trials))) if len(trials) else 0)
    trials = trials.assign(trust=trial_trust(trials, samples)) if len(trials) else trials
    pooled = prepare_trials(trials, samples) if len(trials) else trials
    ci_samples = samples if intervals else None
    table = speedup_table(pooled, ci_samples, confidence=confidence, resamples=resamples, seed=seed)
    amdahl = amdahl_fit(table)
    crossovers = crossover(table)
    table = with_amdahl(table, amdahl)
    kept_samples = samples if samples is not None else pd.DataFrame(columns=["run_id", "rep", "wall_time_s"])
    if len(pooled):
        kept_samples = kept_samples[kept_samples["run_id"].isin(set(pooled["run_id"]))]
    report = Report(
        table=table,
        amdahl=amdahl,
        crossover=crossovers,
        hosts=_host_facts(table),
        interpreters=interpreter_costs(table, ci_samples, confidence=confidence, resamples=resamples, seed=seed),
        fastest=fastest(table, ci_samples, confidence=confidence, seed=seed),
        warnings=warning_rows(pooled) if len(pooled) else pd.DataFrame(columns=WARNING_COLUMNS),
        trials=pooled,
        samples=kept_samples.reset_index(drop=True),
        notes=_notes(table, counts),
        counts=counts,
        selection=selection,
        confidence=confidence,
    )
    return report
