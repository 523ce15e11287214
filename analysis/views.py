"""The report laid out for people: sections of formatted cells, shared by terminal, markdown and HTML."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.formatting import (
    BLANK,
    backend_labels,
    format_ceiling,
    format_fraction,
    format_interval,
    format_n,
    format_percent,
    format_ratio,
    format_seconds,
    is_blank,
)
from analysis.report import Report

#: What the people-facing columns mean (used as legends).
LEGEND = (
    "speedup = serial median wall time / this one (same host, workload, n); "
    "CI = {confidence:.0%} bootstrap interval of that ratio of medians; "
    "self = vs the same backend at 1 worker; efficiency = speedup / workers; "
    "Karp-Flatt = (1/speedup - 1/workers) / (1 - 1/workers), the measured serial fraction; "
    "Amdahl f = serial fraction fitted to speedup = 1 / (f + (1 - f) / workers), ceiling = 1/f."
)


@dataclass
class Section:
    """A heading and a table of already-formatted cells (``right`` columns are numbers)."""

    heading: str
    cells: pd.DataFrame
    right: tuple[str, ...] = ()


def host_caption(report: Report, host: str) -> str:
    """``host vm · Intel(R) Xeon(R) Processor · 2 usable CPUs · CPython 3.11.7``."""
    facts = report.hosts[report.hosts["host"] == host]
    parts = [f"host {host}"]
    if not facts.empty:
        row = facts.iloc[0]
        if not is_blank(row.get("host_cpu_model")):
            parts.append(str(row["host_cpu_model"]))
        if not is_blank(row.get("host_cpu_usable")):
            usable = int(float(row["host_cpu_usable"]))
            parts.append(f"{usable} usable CPU{'s' if usable != 1 else ''}")
        if not is_blank(row.get("python_version")):
            implementation = "" if is_blank(row.get("python_implementation")) else f"{row['python_implementation']} "
            gil = " (free-threaded)" if str(row.get("python_gil_enabled")).lower() == "false" else ""
            parts.append(f"{implementation}{row['python_version']}{gil}")
    return " · ".join(parts)


def speedup_sections(report: Report) -> list[Section]:
    """One section per (host, workload): the per-row metrics."""
    table = report.table
    sections = []
    if table.empty:
        return sections
    ci = f"{report.confidence:.0%} CI"
    for (host, workload), rows in table.groupby(["host", "workload"], sort=False):
        cells = pd.DataFrame(
            {
                "n": rows["n"].map(format_n),
                "backend": backend_labels(rows),
                "workers": rows["workers"].astype(str),
                "wall (median)": rows["wall_time_s"].map(format_seconds),
                "± std": [
                    BLANK if is_blank(s) or not w else f"{s / w:.1%}" for s, w in zip(rows["wall_time_std_s"], rows["wall_time_s"])
                ],
                "speedup": rows["speedup"].map(format_ratio),
                ci: [format_interval(lo, hi) for lo, hi in zip(rows["speedup_ci_low"], rows["speedup_ci_high"])],
                "self": rows["self_speedup"].map(format_ratio),
                "efficiency": rows["efficiency"].map(format_percent),
                "Karp-Flatt": rows["karp_flatt"].map(format_fraction),
            }
        )
        if (rows["trials"] > 1).any():
            cells.insert(3, "trials", rows["trials"].astype(str))
        sections.append(
            Section(f"{host_caption(report, host)} · workload {workload}", cells.reset_index(drop=True),
                    right=("n", "workers", "trials", "wall (median)", "± std", "speedup", ci, "self", "efficiency", "Karp-Flatt"))
        )
    return sections


def amdahl_section(report: Report) -> Section | None:
    """The Amdahl fits: serial fraction and ceiling per (host, workload, n, backend)."""
    fits = report.amdahl
    if fits.empty:
        return None
    cells = pd.DataFrame(index=fits.index)
    if fits["host"].nunique() > 1:
        cells["host"] = fits["host"]
    if fits["workload"].nunique() > 1:
        cells["workload"] = fits["workload"]
    cells["n"] = fits["n"].map(format_n)
    cells["backend"] = backend_labels(fits)
    cells["serial fraction f"] = fits["serial_fraction"].map(format_fraction)
    cells["ceiling 1/f"] = [format_ceiling(f, c) for f, c in zip(fits["serial_fraction"], fits["ceiling"])]
    cells["points"] = [f"{p} (workers ≤ {w})" for p, w in zip(fits["points"], fits["max_workers"])]
    cells["rmse"] = [BLANK if is_blank(r) or not p else f"{r:.3f}" for r, p in zip(fits["rmse"], fits["points"])]
    return Section("Amdahl fit: speedup = 1 / (f + (1 - f) / workers)", cells.reset_index(drop=True),
                   right=("n", "serial fraction f", "ceiling 1/f", "rmse"))


def crossover_section(report: Report) -> Section | None:
    """Per backend, the smallest tested n at which it beats serial."""
    cross = report.crossover
    if cross.empty:
        return None
    cells = pd.DataFrame(index=cross.index)
    if cross["host"].nunique() > 1:
        cells["host"] = cross["host"]
    if cross["workload"].nunique() > 1:
        cells["workload"] = cross["workload"]
    cells["backend"] = backend_labels(cross)
    beats = []
    for n, n_min, n_max in zip(cross["crossover_n"], cross["n_min"], cross["n_max"]):
        if is_blank(n):
            beats.append(f"never (n ≤ {format_n(n_max)})")
        elif int(n) == int(n_min):
            beats.append(f"{format_n(n)} (smallest tested)")
        else:
            beats.append(format_n(n))
    cells["beats serial from n"] = beats
    cells["at workers"] = [BLANK if is_blank(w) else str(int(w)) for w in cross["workers"]]
    cells["speedup there"] = cross["speedup"].map(format_ratio)
    return Section("Crossover: the smallest n at which each backend beats serial", cells.reset_index(drop=True),
                   right=("beats serial from n", "at workers", "speedup there"))


def sections(report: Report) -> list[Section]:
    """Every section of the report, in reading order."""
    out = speedup_sections(report)
    for extra in (amdahl_section(report), crossover_section(report)):
        if extra is not None:
            out.append(extra)
    return out


def summary_lines(report: Report) -> list[str]:
    """The trial counts, then every note."""
    counts = report.counts
    line = f"{counts.get('finished', 0)} of {counts.get('total', 0)} trials finished"
    return [line, *report.notes]


def legend(report: Report) -> str:
    return LEGEND.format(confidence=report.confidence)
