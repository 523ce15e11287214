"""The verdict: plain-language claims computed from a report's figures, each by a rule you can read.

Claims are data. Every sentence the verdict prints comes from one :class:`Rule` of :data:`RULES`,
which states what it says, the evidence it needs and the interval it reads; a rule that finds
its evidence missing says nothing (or says what is missing). A line that cites a row which is
not trusted ends with ``[?: <its trust>]``, so no figure loses its trust on the way. The
rules, in the order their lines are printed for each (host, workload):

=============== ==============================================================================
rule            what it claims, and only when
=============== ==============================================================================
answer          one plain line first: the best speedup of each kind of parallelism (threads,
                processes, subinterpreters, cluster; per interpreter) at the largest n, within
                the usable CPUs, with its interval and its trust mark
fastest         per n: "X is fastest" only when X is measurably faster than serial (interval
                above 1) and its interval clears every other candidate's (X's low end above
                their high ends); otherwise "X, Y ... are tied". Candidates run at most as many
                workers as there are usable CPUs: oversubscribed rows are a finding, not a
                candidate. Across interpreters (whose speedups have different baselines) the
                fastest way is the least wall time, tied when the interval of the wall-time
                ratio contains 1
oversubscribed  rows with more workers than usable CPUs, against the same backend at the
                usable count: "no measurable gain past N" unless the oversubscribed interval lies above
gil             "GIL-bound" for threads on a GIL build only from CPU use (at most
                :data:`GIL_BOUND_CORES` cores with several threads: the others wait) *and* a
                speedup that is not measurably above 1; "in parallel" for threads on a
                free-threaded build only when they are measurably faster *and* use more than
                one core; "releases the GIL" on a GIL build only when measurably faster with
                more than one core busy or with the CPU idle (waiting, not computing);
                threads on a GIL build measurably faster with one core busy: "not work done
                in parallel", the same code run faster in a new thread (neither GIL claim)
subinterpreters ``interpreters`` at several workers, measurably faster
startup         "start-up bound" only from ``startup_s`` (workers started inside the timed
                repetition: ``multiprocessing``, and ``threading`` on a free-threaded build:
                a GIL build's threads start when they get the GIL, so their start-up is
                mostly GIL waiting) of at least
                :data:`STARTUP_SHARE` of the wall time, on a row not measurably faster. A
                pool's dispatch time is not start-up (threads waiting for the GIL grow it)
imbalance       the busiest worker worked :data:`IMBALANCE` x the mean or more, only where work
                can be rebalanced (processes, subinterpreters, clusters, free-threaded threads);
                "more chunks" is advised only for the backends that take ``chunks``
interpreters    each interpreter's serial time against the reference's: "slower"/"faster" when
                the interval excludes 1, "no measurable difference" only within 1 +- 5%, else
                "cannot tell"; the reference named, with any version or build difference
superlinear     a speedup whose interval lies above its worker count (x 1.05): suspect, not a gain
precision       rows trusted because their paired interval is narrow although their raw
                repetitions spread (the machine's drift cancelled); speedups known less
                precisely than +- 5%, with how many more rounds would reach it
noise           rows not trusted, by reason, each with what would fix it (few repetitions:
                raise repeats; spread: rounds and repeats=auto; interference: a quiet machine;
                short repetitions: a larger n)
=============== ==============================================================================

The same rules serve the side tables: :func:`leaders` is what "fastest" reads, and
:func:`analysis.model.interpreters.fastest` uses it too, so the side table never calls fastest what the
verdict calls a tie.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from analysis.model.columns import IMBALANCE, STARTUP_SHARE, startup_share
from analysis.model.formatting import format_interval, format_n, format_seconds, is_blank
from analysis.model.interpreters import configuration_label, is_free_threaded
from analysis.model.metrics import FIXED_REPEATS, usable_cpus
from analysis.model.stats import CANNOT_TELL, FASTER, NO_DIFFERENCE, SLOWER
from analysis.model.trust import CANCELS, FEW_REPETITIONS, INTERFERENCE, NOISY_BASELINE, PRECISE, SHORT, SPREAD, is_ok, parse_reasons, pooled_trust
from runner.trial import backends
from runner.trial.measure import LIMIT_RULES
from runner.trial.stats import more_to_target

GIL_BOUND_CORES = 1.2  # threads whose CPU use stays at or below this many cores run one at a time
IDLE_CORES = 0.5  # below this, workers mostly wait (sleep, I/O): the GIL is not what limits them
# The backends' kinds, as each backend module declares them (runner.trial.backends: Backend.kind,
# workers_per_repetition, takes_chunks): a new backend gets the lines of its kind without a name here.
THREAD_BACKENDS = backends.of_kind("threads")
PROCESS_BACKENDS = backends.of_kind("processes")
SUBINTERPRETER_BACKENDS = backends.of_kind("subinterpreters")
CLUSTER_BACKENDS = backends.of_kind("cluster")
STARTUP_INSIDE_WALL = backends.declaring("workers_per_repetition")  # workers created inside every repetition
CHUNKED_BACKENDS = backends.declaring("takes_chunks")  # they take chunks=...
OVERSUBSCRIBED = "oversubscribed"
#: How each reason that keeps a row from being trusted is fixed.
FIXES = {
    FEW_REPETITIONS: "raise repeats (or repeats=auto, which stops when the speedups are known)",
    SPREAD: "keep schedule=interleaved (pairs cancel the machine's drift) and use repeats=auto",
    NOISY_BASELINE: "keep schedule=interleaved (pairs cancel the machine's drift) and use repeats=auto",
    INTERFERENCE: "quiet the machine (other processes used its CPUs while these ran)",
    SHORT: "raise n (repetitions under 1 ms are mostly timer and dispatch)",
}


class ReportLike(Protocol):
    """What the verdict reads of a report (:class:`analysis.model.report.Report`)."""

    table: pd.DataFrame
    interpreters: pd.DataFrame
    fastest: pd.DataFrame
    confidence: float


@dataclass(frozen=True)
class Claim:
    """One sentence and whether everything it cites is trusted (``trust``: the cited rows' reasons)."""

    text: str
    trust: str = "ok"

    def line(self) -> str:
        return self.text if is_ok(self.trust) else f"{self.text} [?: {self.trust}]"


@dataclass(frozen=True)
class Context:
    """One (host, workload)'s rows and what every rule may need."""

    rows: pd.DataFrame
    interpreters: pd.DataFrame
    confidence: float
    several_pythons: bool
    fastest: pd.DataFrame  # the side table's rows of this (host, workload): across interpreters, by wall time


@dataclass(frozen=True)
class Rule:
    name: str
    claims: str  # what it says
    needs: str  # the evidence it needs
    apply: Callable[[Context], list[Claim]]


def _trust_of(rows: pd.DataFrame | pd.Series) -> str:
    texts = [rows["trust"]] if isinstance(rows, pd.Series) else list(rows["trust"])
    return pooled_trust(str(t) for t in texts)


def _ci(row: pd.Series, confidence: float) -> str:
    if is_blank(row.get("speedup_ci_low")):
        return "no interval"
    return f"{confidence:.0%} CI {format_interval(row['speedup_ci_low'], row['speedup_ci_high'])}"


def _label(row: pd.Series, context: Context) -> str:
    return configuration_label(row, python=context.several_pythons)


def _usable_each(rows: pd.DataFrame) -> pd.Series:
    """Each row's usable CPUs, infinite where unknown (read as a column: a report can hold 10,000 rows)."""
    return usable_cpus(rows).astype(float).fillna(math.inf)


def _usable(row: pd.Series) -> float:
    return float(_usable_each(row.to_frame().T).iloc[0])


def _parallel(rows: pd.DataFrame) -> pd.DataFrame:
    """The parallel rows with a speedup."""
    return rows[(rows["backend"] != "serial") & rows["speedup"].notna()]


def candidates(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that may be called fastest: parallel, with a speedup, within the usable CPUs."""
    parallel = _parallel(rows)
    if parallel.empty:
        return parallel
    within = parallel["backend"].isin(CLUSTER_BACKENDS) | (pd.to_numeric(parallel["workers"]) <= _usable_each(parallel))
    return parallel[within.to_numpy(dtype=bool)]


def _why_no_leader(rows: pd.DataFrame) -> str:
    """Why ``rows`` (one n) have no candidate (:func:`candidates`), in the words that are true of them."""
    others = rows[rows["backend"] != "serial"]
    if others.empty:
        return "only serial finished at this n: nothing to compare with it"
    if not (rows["backend"] == "serial").any():
        return "no finished serial trial at this n: speedups are against serial"
    if _parallel(rows).empty:
        return "no other configuration has a speedup against serial"
    usable = sorted({_usable(row) for _, row in rows.iterrows()} - {math.inf})
    cpus = f"the {usable[0]:g} usable CPUs" if len(usable) == 1 else "the usable CPUs"
    return f"every other configuration has more workers than {cpus}"


def leaders(rows: pd.DataFrame) -> tuple[pd.Series | None, pd.DataFrame]:
    """The leading candidate of ``rows`` (one n) and the candidates tied with it.

    The leader has the highest speedup; a candidate is tied with it when its interval reaches
    the leader's (its high end at or above the leader's low end). Without intervals every other
    candidate is tied (nothing tells them apart). ``(None, empty)`` without candidates.
    """
    pool = candidates(rows).sort_values(["speedup", "workers"], ascending=[False, True], kind="stable")
    if pool.empty:
        return None, pool
    leader = pool.iloc[0]
    others = pool.iloc[1:]
    if is_blank(leader.get("speedup_ci_low")):
        return leader, others
    reach = others["speedup_ci_high"].fillna(np.inf) >= leader["speedup_ci_low"]
    return leader, others[reach]


def _names(rows: pd.DataFrame, context: Context, limit: int = 3) -> str:
    shown = [f"{_label(row, context)} ({row['speedup']:.2f}x, {_ci(row, context.confidence)})" for _, row in rows.head(limit).iterrows()]
    more = len(rows) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


# --- the rules -----------------------------------------------------------------------------------


def _family(backend: str) -> str:
    if backend in THREAD_BACKENDS:
        return "threads"
    if backend in PROCESS_BACKENDS:
        return "processes"
    if backend in SUBINTERPRETER_BACKENDS:
        return "subinterpreters"
    return "cluster" if backend in CLUSTER_BACKENDS else backend


def _best_of_kind(group: pd.DataFrame) -> pd.Series:
    """The kind's best row: the highest speedup. A trusted row stands in for an untrusted best only
    when their intervals overlap (the two are tied, and the trusted figure is the safer one to
    cite); a best that clears every trusted row of its kind is cited, marked ?, never hidden
    behind a lesser trusted one (3.13t's threads at 1.71x ? are the answer, not x1's 0.99x)."""
    ranked = group.sort_values("speedup", ascending=False)
    top = ranked.iloc[0]
    trusted = ranked[ranked["trust"].map(is_ok)]
    if is_ok(top["trust"]) or trusted.empty:
        return top
    stand_in = trusted.iloc[0]
    tied = not (is_blank(top.get("speedup_ci_low")) or is_blank(stand_in.get("speedup_ci_high"))) and \
        stand_in["speedup_ci_high"] >= top["speedup_ci_low"]
    return stand_in if tied else top


def answer(context: Context) -> list[Claim]:
    rows = context.rows
    largest = rows[rows["n"] == rows["n"].max()]
    pool = candidates(largest)
    if pool.empty:
        return []
    parts, cited = [], []
    for (python, family), group in pool.assign(_family=pool["backend"].map(_family)).groupby(["python", "_family"], sort=False):
        best = _best_of_kind(group)
        name = f"{python} {family}" if context.several_pythons else family
        notes = [] if is_blank(best.get("speedup_ci_low")) else [format_interval(best["speedup_ci_low"], best["speedup_ci_high"])]
        if family == "threads" and not _free_threaded(python) and best["conclusion"] != FASTER:
            notes.append("GIL")
        if not is_ok(best["trust"]):
            notes.append("?")
        parts.append((float(best["speedup"]), f"{name} {best['speedup']:.2f}x" + (f" ({', '.join(notes)})" if notes else "")))
        cited.append(best)
    parts.sort(key=lambda part: part[0])
    return [Claim(f"in short (n={format_n(largest['n'].iloc[0])}): " + ", ".join(text for _, text in parts)
                  + f" (the best of each kind against serial, {context.confidence:.0%} CI; ? = not trusted).")]


def _across_interpreters(context: Context, n: int, at_n: pd.DataFrame) -> Claim | None:
    """Across interpreters speedups have different baselines: the fastest way is by wall time, and
    its ties are the side table's (the interval of the wall-time ratio reaches 1)."""
    side = context.fastest[context.fastest["n"] == n] if not context.fastest.empty else context.fastest
    if side.empty:
        return None
    best = side.iloc[0]
    where = f"n={format_n(n)}"
    figures = f"{format_seconds(best['wall_time_s'])}; {best['speedup']:.2f}x against serial on {best['python']} ({_ci(best, context.confidence)})"
    if best["backend"] == "serial":
        figures = f"{format_seconds(best['wall_time_s'])}"
    if best.get("tied_with"):
        return Claim(f"{where}: no single fastest way: {configuration_label(best)} ({figures}) is tied with {best['tied_with']} "
                     "(the interval of their wall-time ratio contains 1).", str(best["trust"]))
    return Claim(f"{where}: {configuration_label(best)} is the fastest way, {figures}; its wall time is measurably below every "
                 "other configuration's.", str(best["trust"]))


def fastest_claims(context: Context) -> list[Claim]:
    claims = []
    for n, at_n in context.rows.groupby("n", sort=True):
        where = f"n={format_n(n)}"
        if context.several_pythons:
            across = _across_interpreters(context, int(n), at_n)
            if across is not None:
                claims.append(across)
                continue
        leader, tied = leaders(at_n)
        if leader is None:
            claims.append(Claim(f"{where}: no speedup to judge ({_why_no_leader(at_n)})."))
            continue
        if is_blank(leader.get("speedup_ci_low")):
            claims.append(Claim(f"{where}: {_label(leader, context)} measured {leader['speedup']:.2f}x against serial, but without "
                                "confidence intervals no configuration is claimed faster.", _trust_of(leader)))
            continue
        if FEW_REPETITIONS in parse_reasons(leader["trust"]):
            claims.append(Claim(f"{where}: {_label(leader, context)} measured {leader['speedup']:.2f}x against serial, but with too "
                                "few repetitions for a 95% interval no configuration is claimed fastest.", _trust_of(leader)))
            continue
        if leader["conclusion"] != FASTER:
            claims.append(Claim(f"{where}: no configuration is measurably faster than serial here (best: {_label(leader, context)}, "
                                f"{leader['speedup']:.2f}x, {_ci(leader, context.confidence)}).", _trust_of(leader)))
            continue
        figures = f"{leader['speedup']:.2f}x faster than serial ({_ci(leader, context.confidence)}; {format_seconds(leader['wall_time_s'])})"
        if tied.empty:
            # Rows beyond the usable CPUs are never candidates (oversubscribed_claims speaks of them),
            # so "every other" says which others when candidates() left some out.
            usable = _usable(leader)
            left_out = len(candidates(at_n)) < len(_parallel(at_n))
            within = f" within the {int(usable)} usable CPUs" if math.isfinite(usable) and left_out else ""
            claims.append(Claim(f"{where}: {_label(leader, context)} is fastest, {figures}; its interval clears every other "
                                f"configuration's{within}.", _trust_of(leader)))
        else:
            cited = pd.concat([leader.to_frame().T, tied])
            claims.append(Claim(f"{where}: no single fastest: {_label(leader, context)}, {figures}, is tied with "
                                f"{_names(tied, context)} (their intervals overlap).", _trust_of(cited)))
    return claims


def oversubscribed_claims(context: Context) -> list[Claim]:
    rows = context.rows
    over = rows[rows["trust"].map(lambda t: OVERSUBSCRIBED in parse_reasons(t)) & rows["speedup"].notna()]
    if over.empty:
        return []
    usable = _usable(over.iloc[0])
    cpus = int(usable) if math.isfinite(usable) else None
    counts = ", ".join(map(str, sorted(set(over["workers"].astype(int)))))
    no_gain: list[str] = []
    gained: list[str] = []
    over = over[over["n"] == over["n"].max()]
    for (n, backend, start, chunks), group in over.groupby(["n", "backend", "start_method", "chunks"], sort=False):
        same = rows[(rows["n"] == n) & (rows["backend"] == backend) & (rows["start_method"] == start) & (rows["chunks"] == chunks)
                    & (rows["workers"] <= usable) & rows["speedup"].notna()]
        if same.empty:
            continue
        base = same.sort_values("speedup", ascending=False).iloc[0]
        top = group.sort_values("speedup", ascending=False).iloc[0]
        above = not is_blank(top.get("speedup_ci_low")) and not is_blank(base.get("speedup_ci_high")) and top["speedup_ci_low"] > base["speedup_ci_high"]
        (gained if above else no_gain).append(f"{configuration_label(top, python=False)} {top['speedup']:.2f}x vs x{int(base['workers'])} "
                                              f"{base['speedup']:.2f}x")
    where = f"on {cpus} usable CPUs" if cpus else "beyond the usable CPUs"
    at = f"at n={format_n(over['n'].iloc[0])}"

    def listed(items: list[str]) -> str:
        return "; ".join(items[:3]) + (f"; {len(items) - 3} more alike" if len(items) > 3 else "")

    claims = []
    if no_gain:
        claims.append(Claim(f"workers={counts} {where}: no measurable gain past {cpus or 'the usable CPUs'}, the workers take turns on the "
                            f"cores ({at}: {listed(no_gain)})."))
    if gained:
        claims.append(Claim(f"workers={counts} {where} measured faster than at {cpus} ({at}: {listed(gained)}): more workers "
                            "than cores can hide waiting (start-up, imbalance), not add compute.", _trust_of(over)))
    if not claims:
        claims.append(Claim(f"workers={counts} {where}: oversubscribed, not compared (no row of the same backend within the usable CPUs)."))
    return claims


def _free_threaded(python: Any) -> bool:
    return is_free_threaded(str(python)) and not str(python).endswith("+GIL")


def gil_claims(context: Context) -> list[Claim]:
    rows = context.rows
    threads = rows[rows["backend"].isin(THREAD_BACKENDS) & (rows["workers"] > 1) & rows["speedup"].notna()]
    claims = []
    for python, group in threads.groupby("python", sort=True):
        largest = group[group["n"] == group["n"].max()]
        faster = largest[largest["conclusion"] == FASTER]
        cores = largest["cpu_utilization"].dropna()
        if _free_threaded(python):
            parallel = faster[faster["cpu_utilization"] > GIL_BOUND_CORES]
            if not parallel.empty:
                claims.append(_in_parallel(parallel, f"threads run in parallel on {python} (free-threaded)"))
            continue
        if faster.empty and not cores.empty and cores.max() <= GIL_BOUND_CORES:
            cited = largest.sort_values("workers", ascending=False).iloc[0]
            claims.append(Claim(
                f"threads are GIL-bound on {python}: with up to {int(largest['workers'].max())} threads CPU use stays at "
                f"{cores.max():.1f} core ({configuration_label(cited, python=False)}: {cited['speedup']:.2f}x, "
                f"{_ci(cited, context.confidence)}): one thread runs Python at a time, the others wait.", _trust_of(largest)))
        elif not faster.empty:
            evidence = faster[(faster["cpu_utilization"] > GIL_BOUND_CORES) | (faster["cpu_utilization"] < IDLE_CORES)]
            if not evidence.empty:
                top = evidence.sort_values("speedup", ascending=False).iloc[0]
                claims.append(Claim(f"threads speed up on {python} ({configuration_label(top, python=False)}: {top['speedup']:.2f}x, "
                                    f"{_ci(top, context.confidence)}, {top['cpu_utilization']:.1f} cores busy): this workload "
                                    "releases the GIL.", _trust_of(top)))
            else:
                one_core = faster[faster["cpu_utilization"].between(IDLE_CORES, GIL_BOUND_CORES)]
                if not one_core.empty:
                    top = one_core.sort_values("speedup", ascending=False).iloc[0]
                    claims.append(Claim(
                        f"{configuration_label(top, python=False)} on {python} is {top['speedup']:.2f}x faster than serial "
                        f"({_ci(top, context.confidence)}) with CPU use at {top['cpu_utilization']:.1f} core: not work done in "
                        "parallel, but one core's work done faster; the same code ran faster in its threads than in the serial "
                        "trial's main thread (a new thread can: README, \"Where the loop runs\").", _trust_of(top)))
    return claims


def _in_parallel(faster: pd.DataFrame, why: str) -> Claim:
    top = faster.assign(_untrusted=~faster["trust"].map(is_ok)).sort_values(["_untrusted", "speedup"], ascending=[True, False]).iloc[0]
    cores = "" if is_blank(top["cpu_utilization"]) else f", using {top['cpu_utilization']:.1f} cores"
    return Claim(f"{why}: {configuration_label(top, python=False)} is {top['speedup']:.2f}x faster than serial{cores}.", _trust_of(top))


def subinterpreter_claims(context: Context) -> list[Claim]:
    rows = context.rows
    pools = rows[rows["backend"].isin(SUBINTERPRETER_BACKENDS) & (rows["workers"] > 1) & rows["speedup"].notna()]
    claims = []
    for python, group in pools.groupby("python", sort=True):
        largest = group[group["n"] == group["n"].max()]
        faster = largest[largest["conclusion"] == FASTER]
        if not faster.empty:
            claims.append(_in_parallel(faster, f"subinterpreters run Python in parallel on {python}, each with its own GIL, in one process"))
    return claims


def startup_claims(context: Context) -> list[Claim]:
    rows = context.rows
    inside = rows[rows["backend"].isin(STARTUP_INSIDE_WALL) & (rows["conclusion"] != FASTER) & (rows["wall_time_s"] > 0)
                  & rows["startup_s"].notna()]
    # threads on a GIL build "start" when they first get the GIL: their startup_s is mostly waiting
    # for it (one thread runs Python at a time), not starting; that is the GIL rule's to say
    gil_threads = inside["backend"].isin(THREAD_BACKENDS) & ~inside["python"].map(_free_threaded)
    inside = inside[~gil_threads]
    if inside.empty:
        return []
    inside = inside.assign(_share=startup_share(inside))
    heavy = inside[inside["_share"] >= STARTUP_SHARE].sort_values("_share", ascending=False)
    if heavy.empty:
        return []
    top = heavy.iloc[0]
    others = len(heavy) - 1
    more = f" ({others} more row{'s' if others != 1 else ''} alike)" if others else ""
    return [Claim(f"start-up bound at n={format_n(top['n'])}: starting its workers takes {top['_share']:.0%} of "
                  f"{configuration_label(top, python=False)}'s wall time ({format_seconds(top['startup_s'])} of "
                  f"{format_seconds(top['wall_time_s'])}){more}: the work is too small to pay for it.", _trust_of(top))]


def _rebalanceable(row: pd.Series) -> bool:
    if row["backend"] in THREAD_BACKENDS:
        return _free_threaded(row["python"])
    return bool(row["backend"] != "serial")


def imbalance_claims(context: Context) -> list[Claim]:
    rows = context.rows
    uneven = rows[(rows["load_imbalance"] >= IMBALANCE)]
    uneven = uneven[[_rebalanceable(row) for _, row in uneven.iterrows()]] if not uneven.empty else uneven
    if uneven.empty:
        return []
    top = uneven.sort_values("load_imbalance", ascending=False).iloc[0]
    advice = ("; more chunks than workers (chunks=...) let a pool even it out" if top["backend"] in CHUNKED_BACKENDS
              else "; a pool backend with more chunks than workers (chunks=...) could even it out")
    return [Claim(f"load imbalance: in {configuration_label(top, python=False)} at n={format_n(top['n'])} the busiest worker "
                  f"worked {top['load_imbalance']:.2f}x the mean{advice}.", _trust_of(top))]


def interpreter_claims(context: Context) -> list[Claim]:
    claims = []
    for row in context.interpreters.itertuples(index=False):
        factor = row.ratio if row.ratio >= 1 else 1 / row.ratio
        direction = "slower" if row.ratio >= 1 else "faster"
        trust = str(getattr(row, "trust", "ok"))
        reference = str(row.reference)
        note = _reference_note(str(row.python), reference)
        if row.conclusion in (SLOWER, FASTER):
            ci = f"{context.confidence:.0%} CI of the time ratio {format_interval(row.ratio_ci_low, row.ratio_ci_high)}"
            cost = ": the single-thread cost of free-threading" if row.conclusion == SLOWER and is_free_threaded(row.python) else ""
            claims.append(Claim(f"n={format_n(row.n)}: serial on {row.python} is {factor:.2f}x {direction} than on {reference} "
                                f"({ci}){cost}{note}.", trust))
        elif row.conclusion == NO_DIFFERENCE:
            claims.append(Claim(f"n={format_n(row.n)}: serial on {row.python} and on {reference}: no measurable difference "
                                f"({row.ratio:.2f}x, within 1 +- {PRECISE:.0%}){note}.", trust))
        elif row.conclusion == CANNOT_TELL:
            claims.append(Claim(f"n={format_n(row.n)}: serial on {row.python} measured {factor:.2f}x {direction} than on {reference}, "
                                f"but the interval ({format_interval(row.ratio_ci_low, row.ratio_ci_high)}) is too wide to tell{note}.", trust))
        else:
            claims.append(Claim(f"n={format_n(row.n)}: serial on {row.python} measured {factor:.2f}x {direction} than on {reference} "
                                f"(no interval: not a claim){note}.", trust))
    return claims


def _reference_note(python: str, reference: str) -> str:
    """What differs between an interpreter and its reference besides what is measured."""
    version, ref_version = python.split("t")[0].split("+")[0], reference.split("t")[0].split("+")[0]
    if version.rsplit(".", 1)[0] != ref_version.rsplit(".", 1)[0]:
        return f" (the reference is another version, {reference}: the figure mixes the version and the build)"
    return ""


def _more_rounds(row: pd.Series) -> int | None:
    """Rounds (or repetitions) more that would bring ``row``'s interval to +- PRECISE (width ~ 1/sqrt(count))."""
    low, high = row.get("speedup_ci_low"), row.get("speedup_ci_high")
    if is_blank(low) or is_blank(high) or low <= 0:
        return None
    count = int(row["pairs"]) if row.get("ci_method") == "paired" else int(row.get("repetitions") or 0)
    return more_to_target(math.sqrt(high / low) - 1, count, PRECISE)


def precision_claims(context: Context) -> list[Claim]:
    rows = context.rows
    claims = []
    rescued = rows[rows["trust"].astype(str).str.contains(CANCELS, regex=False)]
    if not rescued.empty:
        one = len(rescued) == 1
        claims.append(Claim(f"{len(rescued)} row{'' if one else 's'} whose repetitions spread {'is' if one else 'are'} trusted all the "
                            f"same: paired round by round with serial, {'its' if one else 'their'} speedup{'' if one else 's'} "
                            f"{'is' if one else 'are'} known within +- {PRECISE:.0%} (the spread was the machine's drift, which "
                            "moved both sides of every pair)."))
    parallel = rows[(rows["backend"] != "serial") & rows["speedup_ci_low"].notna()]
    wide = [(row, more) for _, row in parallel.iterrows() if (more := _more_rounds(row)) is not None]
    if wide:
        worst = max(more for _, more in wide)
        one = len(wide) == 1
        claims.append(Claim(f"{len(wide)} of {len(parallel)} speedups {'is' if one else 'are'} known less precisely than +- {PRECISE:.0%}: "
                            f"{'about' if one else 'up to'} {worst} more round{'s' if worst != 1 else ''} would get there "
                            f"({_what_stopped([row for row, _ in wide])})."))
    return claims


def _stop_rules(row: pd.Series) -> set[str]:
    """The rules that ended a row's repetitions (its ``repeats_stop``: :func:`analysis.model.metrics.summarize_trials`)."""
    return {rule for rule in str(row.get("repeats_stop") or "").split(", ") if rule}


def _what_stopped(rows: list[pd.Series]) -> str:
    """What ended the wide rows' repetitions and what would let them go on, from each row's
    ``repeats_stop`` (its trials' ``parsweep.repeats_stop`` tags): the limits by name, a fixed
    count, a stop on the target; runs logged before the tag say only what auto does."""
    limits: dict[str, int] = {}
    fixed = target = unknown = 0
    for row in rows:
        rules = _stop_rules(row)
        named = [limit for limit in LIMIT_RULES if limit in rules]
        for limit in named:
            limits[limit] = limits.get(limit, 0) + 1
        if named:
            continue
        if FIXED_REPEATS in rules:
            fixed += 1
        elif rules:
            target += 1  # stopped on its target (set wider than +- PRECISE, or read with fewer of the group's pairs)
        else:
            unknown += 1
    everyone = len(rows)

    def subject(count: int) -> str:  # who did it: "it", "they", or how many of them
        return ("it" if count == 1 else "they") if count == everyone else str(count)

    parts = []
    if limits:
        ranked = sorted(limits.items(), key=lambda item: (-item[1], LIMIT_RULES.index(item[0])))
        (first, count), *others = ranked
        objects = "it" if everyone == 1 else "them" if count == everyone else f"{count} of them"
        listed = [f"{first} stopped {objects}", *(f"{limit} {n}" for limit, n in others)]
        parts.append(f"{', '.join(listed)}: raise {'it' if not others else 'those limits'}")
    if fixed:
        parts.append(f"{subject(fixed)} ran a fixed repeats count: repeats=auto runs rounds where they are needed")
    if target:
        parts.append(f"{subject(target)} stopped on target_speedup_ci: a lower one runs more rounds")
    if unknown:
        told = "" if unknown == everyone else f"{unknown} logged no stop rule: "
        parts.append(f"{told}repeats=auto runs rounds where they are needed, within sweep_budget_s")
    return "; ".join(parts)


def superlinear_claims(context: Context) -> list[Claim]:
    """More than ``workers`` times faster, measurably: the figure says more than the workers can give.

    What else can give it: the same loop runs at different speeds in different places (a new
    thread ~2% faster than the main thread, a spawned worker process ~16% faster, on the 2026
    cloud VM of ``benchmarks/contexts.py``), so a 1-worker spawned pool can read above 1.00x.
    """
    rows = context.rows
    beyond = rows[(rows["backend"] != "serial") & (rows["speedup_ci_low"] > rows["workers"] * (1 + PRECISE))]
    if beyond.empty:
        return []
    top = beyond.sort_values("speedup", ascending=False).iloc[0]
    more = f" ({len(beyond) - 1} more alike)" if len(beyond) > 1 else ""
    return [Claim(f"{configuration_label(top, python=False)} at n={format_n(top['n'])} measured {top['speedup']:.2f}x "
                  f"({_ci(top, context.confidence)}) with {int(top['workers'])} worker{'s' if top['workers'] != 1 else ''}: "
                  f"more than its workers can give the same code{more}; suspect the baseline (a slow phase, a cold start), "
                  "workers that run the same code faster than the serial trial's main thread does (a spawned process can: "
                  "README, \"Where the loop runs\"), or a workload that is not the same work in both, before reading it as a gain.",
                  _trust_of(top))]


def _stopped_short(flagged: pd.DataFrame) -> str | None:
    """The fix for rows untrusted for their (or their baseline's) spread when the schedule already
    paired them and repeats=auto already ran: what stopped their speedups short of +- PRECISE
    (:func:`_what_stopped`), where "keep interleaved, use repeats=auto" would tell them what they
    did. None when a row was not paired, ran a fixed count, or is known within +- PRECISE after all
    (a noisy baseline for its interference, which pairs never cancel): that advice then holds."""
    contenders = flagged[flagged["backend"] != "serial"]
    if contenders.empty or not (contenders["ci_method"] == "paired").all():
        return None
    rows = [row for _, row in contenders.iterrows()]
    if any(FIXED_REPEATS in _stop_rules(row) or _more_rounds(row) is None for row in rows):
        return None
    speedups = "its speedup" if len(rows) == 1 else "their speedups"
    return f"paired with serial and measured with repeats=auto, {speedups} stopped short of +- {PRECISE:.0%} ({_what_stopped(rows)})"


def noise_claims(context: Context) -> list[Claim]:
    rows = context.rows
    claims = []
    by_reason: dict[str, int] = {}
    for text in rows["trust"]:
        for reason in parse_reasons(text):
            if reason != OVERSUBSCRIBED:  # a finding of its own (the oversubscribed rule)
                by_reason[reason] = by_reason.get(reason, 0) + 1
    for reason, count in sorted(by_reason.items(), key=lambda item: -item[1]):
        flagged = rows[[reason in parse_reasons(text) for text in rows["trust"]]]
        fix = _stopped_short(flagged) if reason in (SPREAD, NOISY_BASELINE) else None
        fix = fix or FIXES.get(reason, "see the trust column")
        claims.append(Claim(f"{count} of {len(rows)} row{'s' if len(rows) != 1 else ''} not trusted for {reason}: {fix}."))
    unknown = rows[rows["conclusion"] == CANNOT_TELL]
    if not unknown.empty:
        one = len(unknown) == 1
        claims.append(Claim(f"{len(unknown)} speedup{'' if one else 's'} cannot be told apart from 1, nor shown equal to it (the "
                            f"interval contains 1 but is wider than 1 +- {PRECISE:.0%}): no claim either way."))
    same = rows[rows["conclusion"] == NO_DIFFERENCE]
    if not same.empty:
        one = len(same) == 1
        claims.append(Claim(f"{len(same)} speedup{'' if one else 's'} equal{'s' if one else ''} 1 within +- {PRECISE:.0%}: no difference "
                            "from serial.", _trust_of(same)))
    return claims


RULES: tuple[Rule, ...] = (
    Rule("answer", "the best speedup of each kind of parallelism at the largest n", "candidates within the usable CPUs", answer),
    Rule("fastest", "X is fastest / X is tied with Y", "an interval above 1 that clears every other candidate's", fastest_claims),
    Rule("oversubscribed", "no measurable gain past N cores", "the same backend within the usable CPUs, intervals compared", oversubscribed_claims),
    Rule("gil", "GIL-bound / in parallel / releases the GIL", "CPU use and a speedup's interval", gil_claims),
    Rule("subinterpreters", "subinterpreters run in parallel", "an interval above 1 at several workers", subinterpreter_claims),
    Rule("startup", "start-up bound", "startup_s inside the wall time", startup_claims),
    Rule("imbalance", "load imbalance", "load_imbalance, on work that can be rebalanced", imbalance_claims),
    Rule("interpreter cost", "interpreter X is slower/faster than the reference", "the time ratio's interval", interpreter_claims),
    Rule("superlinear", "a speedup above its worker count is suspect", "an interval above workers x 1.05", superlinear_claims),
    Rule("precision", "trusted by pairing / known within +-5% / which limit to raise", "paired intervals, each trial's repeats_stop",
         precision_claims),
    Rule("noise", "not trusted, and the fix", "the trust column, the conclusion", noise_claims),
)


def verdict_claims(report: ReportLike) -> list[tuple[str, list[Claim]]]:
    """For each (host, workload): its heading and its claims, rule by rule."""
    table = report.table
    if table.empty:
        return []
    out = []
    several_hosts = table["host"].nunique() > 1
    costs = report.interpreters
    for (host, workload), rows in table.groupby(["host", "workload"], sort=False):
        mine = costs[(costs["host"] == host) & (costs["workload"] == workload)] if not costs.empty else costs
        side = report.fastest
        side = side[(side["host"] == host) & (side["workload"] == workload)] if not side.empty else side
        context = Context(rows=rows, interpreters=mine, confidence=report.confidence, several_pythons=rows["python"].nunique() > 1,
                          fastest=side)
        heading = f"{workload}" + (f" on host {host}" if several_hosts else "") + ":"
        out.append((heading, [claim for rule in RULES for claim in rule.apply(context)]))
    return out


def verdict_lines(report: ReportLike) -> list[str]:
    """The verdict of a report: for each (host, workload), a heading line then its claims."""
    lines: list[str] = []
    for heading, claims in verdict_claims(report):
        lines.append(heading)
        lines += [f"  {claim.line()}" for claim in claims]
    return lines
