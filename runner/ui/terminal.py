"""What the user reads in the terminal: compact numbers, names, one line per trial, errors.

Warnings and errors are styled (yellow, red) only when stderr is a terminal; in a pipe or a
CI log they are the same single plain line.
"""

from __future__ import annotations

import datetime as dt
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
    """An exception (or anything) as ``Type: message`` (the trial side's
    :func:`~runner.trial.backends.base.describe_exception`, one wording for both)."""
    from runner.trial.backends.base import describe_exception

    return describe_exception(value) if isinstance(value, BaseException) else str(value)
