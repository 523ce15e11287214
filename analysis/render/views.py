"""The report laid out for people: sections of formatted cells, shared by terminal, markdown and HTML.

Marks every rendering shares: a speedup whose interval contains 1 reads ``1.02x ≈`` (no
difference); the figures of a row that is not trusted end in `` ?`` and its ``trust`` cell
says why; :attr:`Section.tones` says which speedups are measurably faster or slower (the only
ones a rendering may colour) and :attr:`Section.untrusted` which rows to dim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.model.columns import legends, shown
from analysis.model.formatting import (
    BLANK,
    CANNOT_TELL_MARK,
    NO_DIFFERENCE_MARK,
    UNTRUSTED_MARK,
    backend_labels,
    format_ceiling,
    format_fraction,
    format_interval,
    format_n,
    format_ratio,
    format_seconds,
    format_speedup,
    format_times,
    is_blank,
)
from analysis.model.interpreters import configuration_label
from analysis.model.report import Report
from analysis.model.trust import is_ok

#: What the marks on the figures mean: the legend says it after the headline columns (speedup, its interval).
MARKS_LEGEND = (
    f"{NO_DIFFERENCE_MARK} = the interval contains 1 and lies within 1 +- 5%: no difference; "
    f"{CANNOT_TELL_MARK} = the interval contains 1 but is wider: cannot tell (only speedups whose interval excludes 1 "
    "are coloured, green faster, red slower); "
    f"{UNTRUSTED_MARK} = the row is not trusted (its trust column says why): its figures may be off"
)
#: The Amdahl section's figures, last in the legend.
AMDAHL_LEGEND = (
    "Amdahl f = serial fraction fitted to speedup = 1 / (f + (1 - f) / workers) over 1 < workers <= usable CPUs, "
    "ceiling = 1/f."
)


@dataclass
class Section:
    """A heading and a table of already-formatted cells (``right`` columns are numbers).

    ``tones``: per column, one of ``faster`` / ``slower`` / "" per row (what may be coloured);
    ``untrusted``: per row, True when its figures are not to be trusted (what may be dimmed).
    """

    heading: str
    cells: pd.DataFrame
    right: tuple[str, ...] = ()
    tones: dict[str, list[str]] = field(default_factory=dict)
    untrusted: list[bool] = field(default_factory=list)


def host_caption(report: Report, host: str) -> str:
    """``host vm · Intel(R) Xeon(R) Processor · 2 usable CPUs · Python 3.11.7, 3.13.5t``."""
    facts = report.hosts[report.hosts["host"] == host]
    parts = [f"host {host}"]
    if not facts.empty:
        row = facts.iloc[0]
        if not is_blank(row.get("host_cpu_model")):
            parts.append(str(row["host_cpu_model"]))
        if not is_blank(row.get("host_cpu_usable")):
            usable = int(float(row["host_cpu_usable"]))
            parts.append(f"{usable} usable CPU{'s' if usable != 1 else ''}")
        pythons = row.get("pythons")
        if isinstance(pythons, list) and pythons:
            parts.append("Python " + ", ".join(pythons))
    return " · ".join(parts)


def speedup_sections(report: Report) -> list[Section]:
    """One section per (host, workload): the per-row metrics, with trust."""
    table = report.table
    sections: list[Section] = []
    if table.empty:
        return sections
    for (host, workload), rows in table.groupby(["host", "workload"], sort=False):
        trusted = [is_ok(t) for t in rows["trust"]]
        cells = pd.DataFrame(index=rows.index)
        right, tones = [], {}
        for _, cell in shown():  # every column people see, as declared (analysis.model.columns)
            if not cell.when(rows, report.pooled):
                continue
            label = cell.label.format(confidence=report.confidence)
            cells[label] = cell.format(rows, trusted)
            if cell.right:
                right.append(label)
            if cell.toned:
                tones[label] = [c if c in ("faster", "slower") else "" for c in rows["conclusion"]]
        sections.append(
            Section(f"{host_caption(report, host)} · workload {workload}", cells.reset_index(drop=True),
                    right=tuple(right), tones=tones, untrusted=[not ok for ok in trusted])
        )
    return sections


def _context(frame: pd.DataFrame, cells: pd.DataFrame, columns: tuple[str, ...] = ("host", "python", "workload")) -> None:
    """Add the identity columns that vary in ``frame`` (one value needs no column)."""
    for column in columns:
        if column in frame and frame[column].nunique() > 1:
            cells[column] = frame[column]


def amdahl_section(report: Report) -> Section | None:
    """The Amdahl fits: serial fraction and ceiling per (host, python, workload, n, backend), or why blank."""
    fits = report.amdahl
    if fits.empty:
        return None
    cells = pd.DataFrame(index=fits.index)
    _context(fits, cells)
    cells["n"] = fits["n"].map(format_n)
    cells["backend"] = backend_labels(fits)
    cells["serial fraction f"] = fits["serial_fraction"].map(format_fraction)
    cells["ceiling 1/f"] = [format_ceiling(f, c) for f, c in zip(fits["serial_fraction"], fits["ceiling"])]
    cells["points"] = [f"{p} (workers ≤ {w})" for p, w in zip(fits["points"], fits["max_workers"])]
    cells["rmse"] = [BLANK if is_blank(r) or not p else f"{r:.3f}" for r, p in zip(fits["rmse"], fits["points"])]
    cells["trust"] = fits["trust"]
    if (fits["reason"] != "").any():
        cells["reason"] = fits["reason"]
    return Section("Amdahl fit: speedup = 1 / (f + (1 - f) / workers)", cells.reset_index(drop=True),
                   right=("n", "serial fraction f", "ceiling 1/f", "rmse"),
                   untrusted=[not is_ok(t) for t in fits["trust"]])


def crossover_section(report: Report) -> Section | None:
    """Per backend, the smallest tested n at which it is measurably faster than serial."""
    cross = report.crossover
    if cross.empty:
        return None
    cells = pd.DataFrame(index=cross.index)
    _context(cross, cells)
    cells["backend"] = backend_labels(cross)
    beats = []
    for n, n_min, n_max in zip(cross["crossover_n"], cross["n_min"], cross["n_max"]):
        if is_blank(n):
            beats.append(f"never (n ≤ {format_n(n_max)})")
        elif int(n) == int(n_min):
            beats.append(f"{format_n(n)} (smallest tested)")
        else:
            beats.append(format_n(n))
    cells["faster than serial from n"] = beats
    cells["at workers"] = [BLANK if is_blank(w) else str(int(w)) for w in cross["workers"]]
    cells["speedup there"] = cross["speedup"].map(format_ratio)
    cells["CI low"] = cross["speedup_ci_low"].map(lambda v: BLANK if is_blank(v) else f"{v:.2f}")
    cells["trust"] = cross["trust"]
    if (cross["reason"] != "").any():
        cells["reason"] = cross["reason"]
    tones = ["faster" if not is_blank(n) else "" for n in cross["crossover_n"]]
    return Section(f"Crossover: the smallest n at which each backend is faster than serial ({report.confidence:.0%} CI above 1)",
                   cells.reset_index(drop=True), right=("faster than serial from n", "at workers", "speedup there", "CI low"),
                   tones={"speedup there": tones}, untrusted=[not is_ok(t) for t in cross["trust"]])


def interpreters_section(report: Report) -> Section | None:
    """Each interpreter's serial time against the reference interpreter's."""
    costs = report.interpreters
    if costs.empty:
        return None
    cells = pd.DataFrame(index=costs.index)
    _context(costs, cells, ("host", "workload"))
    cells["n"] = costs["n"].map(format_n)
    cells["serial on"] = costs["python"]
    cells["wall (median)"] = costs["wall_time_s"].map(format_seconds)
    cells["vs"] = costs["reference"]
    cells["its wall"] = costs["reference_wall_time_s"].map(format_seconds)
    cells["time ratio"] = [format_times(r) + (f" {NO_DIFFERENCE_MARK}" if c == "no difference" else "")
                           for r, c in zip(costs["ratio"], costs["conclusion"])]
    cells[f"{report.confidence:.0%} CI"] = [format_interval(lo, hi) for lo, hi in zip(costs["ratio_ci_low"], costs["ratio_ci_high"])]
    cells["trust"] = costs["trust"]
    return Section("Interpreters: serial time against the reference interpreter (the single-thread cost)",
                   cells.reset_index(drop=True), right=("n", "wall (median)", "its wall", "time ratio", f"{report.confidence:.0%} CI"),
                   untrusted=[not is_ok(t) for t in costs["trust"]])


def fastest_section(report: Report) -> Section | None:
    """Per (host, workload, n), the fastest configuration overall (shown when interpreters differ)."""
    best = report.fastest
    if best.empty or report.table["python"].nunique() < 2:
        return None  # with one interpreter the verdict's first lines say it
    cells = pd.DataFrame(index=best.index)
    _context(best, cells, ("host", "workload"))
    cells["n"] = best["n"].map(format_n)
    cells["fastest way"] = [configuration_label(row) + (f" (tied with {row['tied_with']})" if row.get("tied_with") else "")
                            for _, row in best.iterrows()]
    cells["wall (median)"] = best["wall_time_s"].map(format_seconds)
    cells["vs serial (same Python)"] = [format_speedup(v, c) for v, c in zip(best["speedup"], best["conclusion"])]
    cells["runner-up"] = [f"{r}, {format_seconds(w)}" if r else BLANK for r, w in zip(best["runner_up"], best["runner_up_wall_time_s"])]
    cells["trust"] = best["trust"]
    return Section("The fastest way to compute each workload here", cells.reset_index(drop=True),
                   right=("n", "wall (median)", "vs serial (same Python)"),
                   tones={"vs serial (same Python)": [c if c in ("faster", "slower") else "" for c in best["conclusion"]]},
                   untrusted=[not is_ok(t) for t in best["trust"]])


def sections(report: Report) -> list[Section]:
    """Every table section of the report, in reading order."""
    out = speedup_sections(report)
    for extra in (amdahl_section(report), crossover_section(report), interpreters_section(report), fastest_section(report)):
        if extra is not None:
            out.append(extra)
    return out


def summary_lines(report: Report) -> list[str]:
    """The trial counts, how many rows are not trusted, then every note."""
    counts = report.counts
    line = f"{counts.get('finished', 0)} of {counts.get('total', 0)} trials finished"
    lines = [line]
    if report.untrusted:
        verb = "is" if report.untrusted == 1 else "are"
        lines.append(f"{report.untrusted} of {len(report.table)} rows {verb} not trusted (marked {UNTRUSTED_MARK}; see their trust column)")
    return lines + report.notes


VERDICT_HEADING = "Verdict"
WARNINGS_HEADING = "Warnings"


def warning_lines(report: Report) -> list[str]:
    """``threading · 2 workers · n=1e7 (run 0123abcd…): <warning>``, one per warning of a pooled trial."""
    return [f"{row.run_name or row.run_id} (run {row.run_id}): {row.warning}" for row in report.warnings.itertuples(index=False)]


def legend(report: Report) -> str:
    """What the columns and the marks mean: the headline columns, the marks, the other columns, the Amdahl fit."""
    rows, pooled = report.table, report.pooled
    return "; ".join([*legends(True, rows, pooled), MARKS_LEGEND, *legends(False, rows, pooled), AMDAHL_LEGEND]).format(
        confidence=report.confidence)
