"""What makes a trial's figures shaky: warnings for people, and trust reasons for tables.

Warnings name the figure and say what to do, like pyperf's and hyperfine's; they are
printed with their trial and kept in its run (``parsweep.warnings``). Trust reasons are the
same findings as short words from a fixed list (:data:`REASONS`), kept in the run's
``parsweep.trust`` tag; the report carries them to every row that pools the trial.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from runner.trial.measure import CONTENDERS_KNOWN_RULE, LIMIT_RULES, SWEEP_BUDGET_RULE, TARGET_SPEEDUP_RULE, AutoRepeats, repeat_plan
from runner.trial.stats import Summary, summarize
from runner.trial.units import format_seconds

SPREAD_WARN_REL_STD = 0.10  # pyperf's threshold: std >= 10% of the mean
OUTLIER_FACTOR = 1.5  # slowest >= 1.5 x median, or fastest <= median / 1.5
SHORT_REPETITION_S = 1e-3
FREQ_WARN_RATIO = 0.8  # current clock under 80% of the maximum
TARGET_REPETITION_S = 0.01  # what "raise n" aims a repetition at
BUSY_AT_START_MIN_CORES = 0.25  # other processes keeping a quarter of a core busy while warming up

INTERFERENCE = "interference"
SPREAD = "spread"
SHORT = "short repetitions"
OVERSUBSCRIBED = "oversubscribed"
THROTTLED = "throttled"
#: Why a trial's figures may not be trusted, as its ``parsweep.trust`` tag lists them.
REASONS = (INTERFERENCE, SPREAD, SHORT, OVERSUBSCRIBED, THROTTLED)
OK = "ok"


def spread_warnings(summary: Summary, auto: bool = False) -> list[str]:
    """Repetitions that disagree: std >= 10% of the mean, or the slowest/fastest far from the median."""
    out = []
    figures = f"min {format_seconds(summary.min)}, median {format_seconds(summary.median)}, max {format_seconds(summary.max)}"
    if summary.count >= 2 and summary.mean > 0 and summary.std / summary.mean >= SPREAD_WARN_REL_STD:
        out.append(
            f"unstable timings: std {format_seconds(summary.std)} is {summary.std / summary.mean:.0%} of the mean "
            f"{format_seconds(summary.mean)} over {summary.count} repetitions ({figures}); quiet the machine, "
            + ("raise warmup" if auto else "raise warmup, or use repeats=auto")
        )
    elif summary.count >= 3 and (summary.max >= OUTLIER_FACTOR * summary.median or summary.min * OUTLIER_FACTOR <= summary.median):
        far = "slowest" if summary.max / summary.median >= summary.median / summary.min else "fastest"
        value = summary.max if far == "slowest" else summary.min
        out.append(
            f"outlier: the {far} repetition ({format_seconds(value)}) is {abs(value / summary.median - 1):.0%} away from the "
            f"median {format_seconds(summary.median)} ({figures}); something else ran meanwhile or the first runs were "
            "cold: raise warmup or repeats"
        )
    return out


def suggested_n(n: int, median_s: float) -> int:
    """A power of ten that would bring a repetition to about 10 ms."""
    if median_s <= 0:
        return n * 1000
    wanted = n * TARGET_REPETITION_S / median_s
    return int(10 ** max(1, math.ceil(math.log10(max(wanted, 1)))))


def short_repetition_warnings(summary: Summary, n: int) -> list[str]:
    if summary.median >= SHORT_REPETITION_S:
        return []
    suggestion = suggested_n(n, summary.median)
    return [
        f"repetitions take {format_seconds(summary.median)} (median), under 1 ms: too short to time well, and "
        f"start-up and dispatch dominate; raise n (try n=1e{round(math.log10(suggestion))}: 10 ms or more per repetition)"
    ]


def oversubscription_warnings(workers: int, usable: int) -> list[str]:
    if workers <= usable:
        return []
    return [
        f"workers={workers} is more than the {usable} usable CPU cores: the workers take turns "
        "on the cores, so expect speedup to flatten (lower workers to measure scaling)"
    ]


def busy_at_start_warnings(busy_cores: float | None, load: float | None, usable: int, threshold_cores: float) -> list[str]:
    if busy_cores is None or busy_cores < max(BUSY_AT_START_MIN_CORES, threshold_cores):
        return []
    load_text = f", load average {load:.2f}" if load is not None else ""
    return [
        f"the machine was already busy at start: other processes kept {busy_cores:.2f} cores busy (of the {usable} "
        f"this trial may use){load_text}; wait for them to finish (or stop them) and run again"
    ]


def interference_warnings(result: Any, usable: int) -> list[str]:
    """Repetitions measured while other processes used the CPUs: cleaned up, or kept and flagged."""
    out = []
    if result.reps_discarded:
        out.append(
            f"{result.reps_discarded} repetition{'s were' if result.reps_discarded != 1 else ' was'} disturbed and "
            f"measured again: {'; '.join(result.discarded)}"
        )
    if result.reps_interfered:
        cores = f" (other processes: {result.other_cpu_cores:.2f} cores on average, of the {usable} this trial may use)" if result.other_cpu_cores else ""
        out.append(
            f"{result.reps_interfered} of the {len(result.wall_times_s)} kept repetitions were disturbed by other processes"
            f"{cores} and could not be measured clean again (interference.retries, interference.budget_s); "
            "stop what else runs and run again"
        )
    return out


def frequency_warnings(governors: Sequence[str], ratio: float | None) -> list[str]:
    out = []
    scaling = [g for g in governors if g != "performance"]
    if scaling:
        out.append(
            f"CPU frequency scaling is on (governor {', '.join(scaling)}): the clock follows the load, so timings "
            "drift; set the 'performance' governor (e.g. sudo cpupower frequency-set -g performance)"
        )
    if ratio is not None and ratio < FREQ_WARN_RATIO:
        out.append(
            f"the CPU clock ran at {ratio:.0%} of its maximum after the repetitions: power saving or thermal "
            "throttling slows the trial; use the 'performance' governor and let the machine cool"
        )
    return out


def auto_repeats_warnings(
    stop_rule: str | None, summary: Summary, target_rel_ci: float, paired_rel_ci: float | None = None, target_speedup_ci: float = 0.03,
    contenders_short: int = 0, own_limit: bool = True,
) -> list[str]:
    """What a repeats=auto trial stopped short of, and which rule stopped it. ``own_limit``: the
    limit is the trial's own; False for a contender whose baseline reached its limit first (a
    baseline that stops leaves its contenders without pairs: runner.trial.measure.decide_stops),
    after fewer of the contender's own repetitions than the limit."""
    if stop_rule in (None, "target_rel_ci", TARGET_SPEEDUP_RULE, CONTENDERS_KNOWN_RULE):
        return []
    if contenders_short:  # a baseline: what it stopped short of is its contenders' precision, not its own median's
        return [
            f"repeats=auto stopped by {stop_rule} after {summary.count} repetitions with {contenders_short} of the speedups "
            f"paired with it short of target_speedup_ci={target_speedup_ci:g}; raise {stop_rule}, quiet the machine, "
            "or accept a wider target"
        ]
    if paired_rel_ci is not None and not own_limit:
        return [
            f"repeats=auto ended when its baseline (serial) reached {stop_rule}, after {summary.count} of its own "
            f"repetitions, with the paired speedup's 95% CI at ±{paired_rel_ci:.1%}, short of target_speedup_ci="
            f"{target_speedup_ci:g}; raise {stop_rule}, quiet the machine, or accept a wider target"
        ]
    if paired_rel_ci is not None:  # a contender: what it stopped short of is its paired speedup's precision
        return [
            f"repeats=auto stopped by {stop_rule} after {summary.count} repetitions with the paired speedup's 95% CI at "
            f"±{paired_rel_ci:.1%}, short of target_speedup_ci={target_speedup_ci:g}; raise {stop_rule}, quiet the machine, "
            "or accept a wider target"
        ]
    reached = f"±{summary.rel_ci_half_width:.1%}" if summary.ci_reaches_confidence else "not yet defined (needs 6 repetitions)"
    return [
        f"repeats=auto stopped by {stop_rule} after {summary.count} repetitions with the median's 95% CI at {reached}, "
        f"short of target_rel_ci={target_rel_ci:g}; raise {stop_rule}, quiet the machine, or accept a wider target"
    ]


def chunk_warnings(chunks: int, workers: int) -> list[str]:
    if chunks >= workers:
        return []
    return [f"chunks={chunks} is fewer than workers={workers}: {workers - chunks} workers have nothing to do; raise chunks"]


def _own_limit(spec: Any, result: Any) -> bool:
    """Whether the limit that ended a repeats=auto trial is its own: False for a contender that
    ``max_repeats`` or ``max_time_s`` ended by ending its baseline first (its own repetitions
    are short of that limit; :func:`runner.trial.measure.decide_stops`)."""
    if result.repeats_stop not in LIMIT_RULES or result.repeats_stop == SWEEP_BUDGET_RULE:
        return True  # not a limit, or the sweep's budget, which is every trial's own
    plan = repeat_plan(spec)
    return not isinstance(plan, AutoRepeats) or plan.limit(result.wall_times_s) is not None


def assess(spec: Any, result: Any, usable: int, threshold_cores: float) -> None:
    """Fill a finished trial's ``warnings`` (added to any it has) and ``trust`` reasons.

    ``spec``: its TrialSpec; ``result``: its TrialResult; ``usable``: the CPUs it may use;
    ``threshold_cores``: how many cores of other processes' use mark interference.
    """
    if result.failed or not result.wall_times_s:
        return
    summary = summarize(result.wall_times_s)
    spread = spread_warnings(summary, spec.auto_repeats)
    short = short_repetition_warnings(summary, spec.n)
    over = oversubscription_warnings(spec.workers, usable) if spec.backend not in ("serial", "ray", "dask") else []
    frequency = frequency_warnings(result.cpu_governors, result.cpu_freq_ratio)
    out: list[str] = []
    out += short
    out += spread
    if spec.auto_repeats:
        out += auto_repeats_warnings(
            result.repeats_stop, summary, spec.target_rel_ci, getattr(result, "paired_rel_ci", None), spec.target_speedup_ci,
            getattr(result, "contenders_short", 0),
            own_limit=_own_limit(spec, result),
        )
    out += busy_at_start_warnings(result.busy_cores_at_start, result.load_1m_at_start, usable, threshold_cores)
    out += interference_warnings(result, usable)
    out += frequency
    out += over
    if spec.workers > 1:
        out += chunk_warnings(spec.chunk_count, spec.workers)
    result.warnings = out + [w for w in result.warnings if w not in out]
    reasons = []
    if result.reps_interfered:
        reasons.append(INTERFERENCE)
    if spread:
        reasons.append(SPREAD)
    if short:
        reasons.append(SHORT)
    if over:
        reasons.append(OVERSUBSCRIBED)
    if result.cpu_freq_ratio is not None and result.cpu_freq_ratio < FREQ_WARN_RATIO:
        reasons.append(THROTTLED)
    result.trust = reasons


def trust_text(reasons: Sequence[str]) -> str:
    """The ``parsweep.trust`` tag: ``ok``, or the reasons joined by ``; ``."""
    return "; ".join(reasons) if reasons else OK


# -- warnings said once: grouped by kind, with the trials that had them -------------------------


def _top_level(text: str, separator: str, last: bool = False) -> int:
    """Where ``separator`` occurs outside parentheses (the first, or the last), else -1."""
    depth, found = 0, -1
    for index, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0 and text.startswith(separator, index):
            found = index
            if not last:
                break
    return found


def _split_warning(text: str) -> tuple[str, str, str]:
    """A warning as (what, the trial's own figures, what to do): ``unstable timings: std ...; quiet the machine``."""
    cut = _top_level(text, "; ", last=True)
    body, advice = (text[:cut], text[cut + 2 :]) if cut >= 0 else (text, "")
    colon = _top_level(body, ": ")
    what, figures = (body[:colon], body[colon + 2 :]) if 0 <= colon <= 80 else (body, "")
    return what.strip(), figures.strip(), advice.strip()


def _generic(what: str) -> str:
    """A warning's kind: its words without the figures (``2 of the 5 kept ...`` -> ``… of the … kept ...``)."""
    return re.sub(r"\d+(?:\.\d+)?", "…", what.split(" (", 1)[0])


def group_warnings(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Each warning once, with the trials that had it: ``pairs`` are (trial name, warning text).

    Warnings of one kind (their words before the first ``:``, figures aside) form one group, in
    order of first appearance: its head line says the kind, how many trials, and the advice (or
    all of it, when every trial had the same words); under it the trials, each with its own
    figures when those differ, else all on one line::

        unstable timings (2 trials): quiet the machine, raise warmup, or use repeats=auto
            serial · n=1e5: std 1.22 ms is 33% of the mean 3.71 ms over 2 repetitions
            threading · 4 workers · n=1e5: std 859.5 us is 13% of the mean 6.42 ms over 2 repetitions
        workers=4 is more than the 2 usable CPU cores (2 trials): the workers take turns on the cores, ...
            threading · 4 workers · n=1e5, threading · 4 workers · n=2e5
    """
    groups: dict[str, list[tuple[str, str, str, str]]] = {}
    for trial, text in pairs:
        what, figures, todo = _split_warning(text)
        groups.setdefault(_generic(what), []).append((trial, what, figures, todo))
    lines = []
    for kind, members in groups.items():
        trials = list(dict.fromkeys(trial for trial, _, _, _ in members))
        whats = {what for _, what, _, _ in members}
        own = {(what, figures) for _, what, figures, _ in members}
        advice = {a for _, _, _, a in members}
        count = f"{len(trials)} trial{'s' if len(trials) != 1 else ''}"
        shared = next(iter(advice)) if len(advice) == 1 else ""
        if len(own) == 1:  # the same words for every trial: say them once
            what, figures = next(iter(own))
            tail = "; ".join(part for part in (figures, shared) if part)
            lines.append(f"{what} ({count})" + (f": {tail}" if tail else ""))
            lines.append("    " + ", ".join(trials))
            if not shared:
                lines += [f"    {trial}: {a}" for trial, _, _, a in members if a]
            continue
        head = next(iter(whats)) if len(whats) == 1 else kind
        lines.append(f"{head} ({count})" + (f": {shared}" if shared else ""))
        buckets: dict[tuple[str, str, str], list[str]] = {}  # the same words: one line, its trials together
        for trial, what, figures, own_advice in members:
            buckets.setdefault((what, figures, "" if shared else own_advice), []).append(trial)
        for (what, figures, own_advice), names in buckets.items():
            words = [figures] if len(whats) == 1 else [what + (f": {figures}" if figures else "")]
            detail = "; ".join(part for part in (*words, own_advice) if part)
            lines.append(f"    {', '.join(names)}" + (f": {detail}" if detail else ""))
    return lines
