"""What the user reads in the terminal: compact numbers, names, one line per trial, errors.

Warnings and errors are styled (yellow, red) only when stderr is a terminal; in a pipe or a
CI log they are the same single plain line.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from runner.trial.results import TrialResult
from runner.trial.spec import TrialSpec
from runner.trial.units import format_n, format_seconds

if TYPE_CHECKING:
    from rich.console import Console


def trial_name(spec: TrialSpec) -> str:
    """How a trial is named in run lists: ``multiprocessing · 2 workers · n=1e8``."""
    parts = [spec.backend]
    if spec.workload == "custom":  # name the user's function: custom runs must be told apart
        parts.append(str(spec.workload_options.get("function")))
    elif spec.workload != "sum_range":
        parts.append(spec.workload)
    if spec.backend != "serial":
        parts.append(f"{spec.workers} worker{'s' if spec.workers != 1 else ''}")
    parts.append(f"n={format_n(spec.n)}")
    if spec.python != "current":
        parts.append(spec.python.rsplit("/", 1)[-1] if "/" in spec.python else spec.python)
    if spec.gil is not None:
        parts.append(f"gil={spec.gil}")
    return " · ".join(parts)


def trial_line(
    spec: TrialSpec, result: TrialResult, done: int | None = None, total: int | None = None, extra: Sequence[str] = ()
) -> str:
    """One concise line for a finished trial: count, what ran (``extra``: the other swept keys'
    values), median wall and spread, and whether the figure is to be trusted."""
    count = ""
    if done is not None:
        width = len(str(total)) if total else 1
        count = f"[{done:>{width}}/{total}] " if total else f"[{done}] "
    what = f"{spec.backend:<16} workers={spec.workers:<3} n={format_n(spec.n):<8}" + "".join(f" {item}" for item in extra)
    if result.failed:
        return f"{count}{what} FAILED: {result.error}"
    spread = result.spread or 0.0
    trust = f"  [{', '.join(result.trust)}]" if result.trust else ""
    again = f", {result.reps_discarded} measured again" if result.reps_discarded else ""
    return f"{count}{what} wall {format_seconds(result.wall_time_s):>10} ±{spread:5.1%}  ({len(result.wall_times_s)} reps{again}){trust}"


def _stderr_console(stream: TextIO | None) -> Console:
    from rich.console import Console

    # soft_wrap: a message stays one line whatever the width; no markup or emoji parsing.
    return Console(file=stream or sys.stderr, highlight=False, soft_wrap=True, emoji=False, markup=False)


def _labelled(label: str, style: str, message: str, stream: TextIO | None) -> None:
    from rich.text import Text

    text = Text()
    text.append(label, style=style)
    text.append(message)
    _stderr_console(stream).print(text)
    (stream or sys.stderr).flush()


def error(message: str, stream: TextIO | None = None) -> None:
    """A user-facing error: one line, no traceback."""
    _labelled("parsweep: error: ", "bold red", message, stream)


def warn(message: str, stream: TextIO | None = None) -> None:
    """A warning: one line, with what to do about it in the message."""
    _labelled("  warning: ", "bold yellow", message, stream)


def _values(values: Sequence[str]) -> str:
    return ",".join(values) if len(values) <= 4 else f"{values[0]}…{values[-1]}"


def sweep_name(specs: Sequence[TrialSpec], started: dt.datetime, preset: str | None = None) -> str:
    """How a sweep is named in run lists: what it sweeps and when.

    ``quick sweep · 5 backends × 1,2,4 workers × n=1e6,1e7 · 2026-11-25 12:05``
    """
    workloads = list(dict.fromkeys(spec.workload for spec in specs))
    backends = list(dict.fromkeys(spec.backend for spec in specs))
    workers = sorted({spec.workers for spec in specs if spec.backend != "serial"})
    sizes = sorted({spec.n for spec in specs})
    parts = []
    if workloads != ["sum_range"]:
        parts.append(", ".join(workloads))
    parts.append(", ".join(backends) if len(backends) <= 3 else f"{len(backends)} backends")
    if workers:
        parts.append(f"{_values([str(w) for w in workers])} worker{'s' if workers != [1] else ''}")
    parts.append("n=" + _values([format_n(n) for n in sizes]))
    head = f"{preset} sweep" if preset else "sweep"
    return f"{head} · {' × '.join(parts)} · {started:%Y-%m-%d %H:%M}"


def describe(value: object) -> str:
    """An exception (or anything) as ``Type: message``."""
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}" if str(value) else type(value).__name__
    return str(value)


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
