"""The verdict: a few plain-language lines per workload, computed from a report's figures.

For each (host, workload), first what wins, per n: the fastest configuration (over backends,
worker counts and interpreters) and how much faster than serial on its own interpreter it
is, claimed only when that speedup's 95% interval lies above 1; otherwise "no configuration
is measurably faster than serial here". Then why, from measured evidence, each line only
when its evidence is there:

* **GIL-bound**: threads (``threading``, ``thread_pool``) at several workers on a GIL
  interpreter whose CPU utilisation stays near one core (<= :data:`GIL_BOUND_CORES`), not
  measurably faster; or, on a free-threaded build, threads that are measurably faster.
* **subinterpreters**: ``interpreters`` (PEP 734) at several workers, measurably faster: Python
  running in parallel in one process, each interpreter with its own GIL (not GIL-bound threads,
  nor processes).
* **start-up bound**: start-up (threading, multiprocessing: inside the wall time) or dispatch
  (pools, clusters) is :data:`STARTUP_SHARE` or more of a row's wall time, and it is not faster.
* **oversubscribed**: rows with more workers than usable CPUs (their trust says so).
* **load imbalance**: the busiest worker worked :data:`IMBALANCE` x the mean or more.
* **noise-limited**: rows that are not trusted, and speedups whose interval contains 1.
* **interpreters**: each interpreter's serial time against the reference's, with its verdict.

Every claim of "faster" or "slower" rests on an interval that excludes 1; a figure without
one is given as measured and said to be no claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from analysis.formatting import format_interval, format_n, format_seconds, is_blank
from analysis.interpreters import configuration_label, is_free_threaded
from analysis.stats import FASTER, NO_DIFFERENCE, SLOWER
from analysis.trust import is_ok, parse_reasons

if TYPE_CHECKING:
    from analysis.report import Report

GIL_BOUND_CORES = 1.2  # threads whose CPU use stays at or below this many cores run one at a time
STARTUP_SHARE = 0.25
IMBALANCE = 1.25
THREAD_BACKENDS = ("threading", "thread_pool")
SUBINTERPRETER_BACKENDS = ("interpreters",)  # threads of the trial process, each running its own interpreter
STARTUP_INSIDE_WALL = ("threading", "multiprocessing")  # workers created inside every repetition


def _best_first(rows: pd.DataFrame, by: str, ascending: bool) -> pd.DataFrame:
    """``rows`` sorted by ``by``, trusted rows before untrusted ones (cite the evidence that holds)."""
    return rows.assign(_untrusted=~rows["trust"].map(is_ok)).sort_values(["_untrusted", by], ascending=[True, ascending], kind="stable")


def _ci(row: pd.Series, confidence: float) -> str:
    if is_blank(row.get("speedup_ci_low")):
        return "no interval"
    return f"{confidence:.0%} CI {format_interval(row['speedup_ci_low'], row['speedup_ci_high'])}"


def _winner_lines(rows: pd.DataFrame, confidence: float, several_pythons: bool) -> list[str]:
    lines = []
    for n, at_n in rows.groupby("n", sort=True):
        ordered = at_n.sort_values(["wall_time_s", "workers"], kind="stable")
        best = ordered.iloc[0]
        measurably = at_n[(at_n["conclusion"] == FASTER)].sort_values("wall_time_s", kind="stable")
        where = f"n={format_n(n)}"
        label = configuration_label(best, python=several_pythons)
        if not measurably.empty and measurably.index[0] == best.name:
            mark = "" if is_ok(best["trust"]) else f" (not trusted: {best['trust']})"
            lines.append(
                f"{where}: {label} is fastest, {format_seconds(best['wall_time_s'])}: {best['speedup']:.2f}x faster than "
                f"serial ({_ci(best, confidence)}){mark}."
            )
            continue
        if not measurably.empty:
            # the fastest measured row has no interval above 1; a measurably faster one exists
            top = measurably.iloc[0]
            lines.append(
                f"{where}: {configuration_label(top, python=several_pythons)} is measurably faster than serial: "
                f"{top['speedup']:.2f}x ({_ci(top, confidence)}); {label} measured faster still but without that support."
            )
            continue
        parallel = at_n[at_n["backend"] != "serial"].sort_values("wall_time_s", kind="stable")
        if parallel.empty or parallel["speedup"].isna().all():
            lines.append(f"{where}: no speedup to judge (no serial baseline or no parallel configuration).")
            continue
        top = parallel[parallel["speedup"].notna()].iloc[0]
        if parallel["speedup_ci_low"].isna().all():
            lines.append(
                f"{where}: {configuration_label(top, python=several_pythons)} measured {top['speedup']:.2f}x against serial, "
                "but without confidence intervals no configuration is claimed faster."
            )
            continue
        lines.append(
            f"{where}: no configuration is measurably faster than serial here (best: "
            f"{configuration_label(top, python=several_pythons)}, {top['speedup']:.2f}x, {_ci(top, confidence)})."
        )
    return lines


def _in_parallel(faster: pd.DataFrame, why: str) -> str:
    """``why: <the fastest of faster> is Nx faster than serial, using C cores.``"""
    top = _best_first(faster, "speedup", ascending=False).iloc[0]
    cores = "" if is_blank(top["cpu_utilization"]) else f", using {top['cpu_utilization']:.1f} cores"
    return f"{why}: {configuration_label(top, python=False)} is {top['speedup']:.2f}x faster than serial{cores}."


def _gil_lines(rows: pd.DataFrame) -> list[str]:
    lines = []
    threads = rows[rows["backend"].isin(THREAD_BACKENDS) & (rows["workers"] > 1) & rows["speedup"].notna()]
    for python, group in threads.groupby("python", sort=True):
        largest = group[group["n"] == group["n"].max()]
        faster = largest[largest["conclusion"] == FASTER]
        if is_free_threaded(python) and not str(python).endswith("+GIL"):
            if not faster.empty:
                lines.append(_in_parallel(faster, f"threads run in parallel on {python} (free-threaded)"))
            continue
        utilization = largest["cpu_utilization"].dropna()
        if faster.empty and not utilization.empty and utilization.max() <= GIL_BOUND_CORES:
            worst = _best_first(largest, "workers", ascending=False).iloc[0]
            lines.append(
                f"threads are GIL-bound on {python}: with up to {int(largest['workers'].max())} threads CPU use stays at "
                f"{utilization.max():.1f} core ({configuration_label(worst, python=False)}: {worst['speedup']:.2f}x); "
                "one thread runs Python at a time."
            )
        elif not faster.empty:
            top = _best_first(faster, "speedup", ascending=False).iloc[0]
            lines.append(f"threads speed up on {python} ({configuration_label(top, python=False)}: {top['speedup']:.2f}x): "
                         "this workload releases the GIL.")
    return lines


def _subinterpreter_lines(rows: pd.DataFrame) -> list[str]:
    """Why subinterpreters scale where threads on the same GIL build do not: one GIL each."""
    lines = []
    pools = rows[rows["backend"].isin(SUBINTERPRETER_BACKENDS) & (rows["workers"] > 1) & rows["speedup"].notna()]
    for python, group in pools.groupby("python", sort=True):
        largest = group[group["n"] == group["n"].max()]
        faster = largest[largest["conclusion"] == FASTER]
        if not faster.empty:
            lines.append(_in_parallel(faster, f"subinterpreters run Python in parallel on {python}, each with its own GIL, in one process"))
    return lines


def _startup_lines(rows: pd.DataFrame) -> list[str]:
    parallel = rows[(rows["backend"] != "serial") & (rows["conclusion"] != FASTER) & (rows["wall_time_s"] > 0)].copy()
    if parallel.empty:
        return []
    inside = parallel["backend"].isin(STARTUP_INSIDE_WALL)
    parallel["_cost"] = parallel["startup_s"].where(inside, parallel["dispatch_s"])
    parallel["_share"] = parallel["_cost"] / parallel["wall_time_s"]
    heavy = parallel[parallel["_share"] >= STARTUP_SHARE].sort_values("_share", ascending=False)
    if heavy.empty:
        return []
    top = heavy.iloc[0]
    what = "starting its workers" if top["backend"] in STARTUP_INSIDE_WALL else "dispatching the work"
    others = len(heavy) - 1
    more = f" ({others} more row{'s' if others != 1 else ''} alike)" if others else ""
    return [
        f"start-up bound at n={format_n(top['n'])}: {what} takes {top['_share']:.0%} of "
        f"{configuration_label(top, python=False)}'s wall time ({format_seconds(top['_cost'])} of "
        f"{format_seconds(top['wall_time_s'])}){more}: the work is too small to pay for it."
    ]


def _oversubscribed_lines(rows: pd.DataFrame) -> list[str]:
    over = rows[rows["trust"].map(lambda t: "oversubscribed" in parse_reasons(t))]
    if over.empty:
        return []
    usable = pd.to_numeric(over["host_cpu_usable"], errors="coerce").dropna()
    cpus = f"the {int(usable.iloc[0])} usable CPUs" if len(usable) else "the usable CPUs"
    counts = sorted(set(over["workers"].astype(int)))
    return [f"oversubscribed: {len(over)} row{'s' if len(over) != 1 else ''} ran more workers than {cpus} "
            f"(workers={', '.join(map(str, counts))}): the workers take turns on the cores, so their speedups cannot grow."]


def _imbalance_lines(rows: pd.DataFrame) -> list[str]:
    uneven = rows[rows["load_imbalance"] >= IMBALANCE].sort_values("load_imbalance", ascending=False)
    if uneven.empty:
        return []
    top = uneven.iloc[0]
    return [f"load imbalance: in {configuration_label(top, python=False)} at n={format_n(top['n'])} the busiest worker "
            f"worked {top['load_imbalance']:.2f}x the mean; more chunks than workers (chunks=...) let a pool even it out."]


def _noise_lines(rows: pd.DataFrame) -> list[str]:
    lines = []
    untrusted = rows[~rows["trust"].map(is_ok)]
    if not untrusted.empty:
        reasons = sorted({r for t in untrusted["trust"] for r in parse_reasons(t)})
        one = len(untrusted) == 1
        lines.append(f"noise-limited: {len(untrusted)} of {len(rows)} rows {'is' if one else 'are'} not trusted "
                     f"({', '.join(reasons)}); {'its' if one else 'their'} figures may be off: quiet the machine, "
                     "raise repeats, and run again.")
    within = rows[rows["conclusion"] == NO_DIFFERENCE]
    if not within.empty:
        one = len(within) == 1
        lines.append(f"{len(within)} speedup{'' if one else 's'} cannot be told apart from 1 (the interval contains 1): "
                     f"read {'it' if one else 'them'} as no difference.")
    return lines


def _interpreter_lines(costs: pd.DataFrame, confidence: float) -> list[str]:
    lines = []
    for row in costs.itertuples(index=False):
        factor = row.ratio if row.ratio >= 1 else 1 / row.ratio
        direction = "slower" if row.ratio >= 1 else "faster"
        if row.conclusion in (SLOWER, FASTER):
            ci = f"{confidence:.0%} CI of the time ratio {format_interval(row.ratio_ci_low, row.ratio_ci_high)}"
            cost = ": the single-thread cost of free-threading" if row.conclusion == SLOWER and is_free_threaded(row.python) else ""
            lines.append(f"n={format_n(row.n)}: serial on {row.python} is {factor:.2f}x {direction} than on {row.reference} ({ci}){cost}.")
        elif row.conclusion == NO_DIFFERENCE:
            lines.append(f"n={format_n(row.n)}: serial on {row.python} and on {row.reference}: no measurable difference ({row.ratio:.2f}x).")
        else:
            lines.append(f"n={format_n(row.n)}: serial on {row.python} measured {factor:.2f}x {direction} than on {row.reference} "
                         "(no interval: not a claim).")
    return lines


def verdict_lines(report: Report) -> list[str]:
    """The verdict of a report: for each (host, workload), a heading line then its findings."""
    table = report.table
    if table.empty:
        return []
    lines: list[str] = []
    several_hosts = table["host"].nunique() > 1
    for (host, workload), rows in table.groupby(["host", "workload"], sort=False):
        several_pythons = rows["python"].nunique() > 1
        heading = f"{workload}" + (f" on host {host}" if several_hosts else "") + ":"
        findings = _winner_lines(rows, report.confidence, several_pythons)
        findings += _gil_lines(rows)
        findings += _subinterpreter_lines(rows)
        findings += _startup_lines(rows)
        findings += _oversubscribed_lines(rows)
        findings += _imbalance_lines(rows)
        costs = report.interpreters
        if not costs.empty:
            findings += _interpreter_lines(costs[(costs["host"] == host) & (costs["workload"] == workload)], report.confidence)
        findings += _noise_lines(rows)
        lines.append(heading)
        lines += [f"  {line}" for line in findings]
    return lines
