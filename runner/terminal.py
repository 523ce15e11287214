"""What the user reads in the terminal: compact numbers, one line per trial, errors."""

from __future__ import annotations

import sys
from typing import TextIO

from runner.results import TrialResult
from runner.spec import TrialSpec


def format_n(n: int) -> str:
    """``10000000`` -> ``1e7``, ``3000000`` -> ``3e6``, ``12345`` -> ``12_345``."""
    if n >= 1000:
        mantissa, exponent = n, 0
        while mantissa % 10 == 0:
            mantissa //= 10
            exponent += 1
        if exponent >= 3 and mantissa < 10:
            return f"{mantissa}e{exponent}"
    return f"{n:_}"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def trial_name(spec: TrialSpec) -> str:
    """How a trial is named in run lists: ``multiprocessing · 2 workers · n=1e8``."""
    parts = [spec.backend]
    if spec.workload != "sum_range":
        parts.append(spec.workload)
    if spec.backend != "serial":
        parts.append(f"{spec.workers} worker{'s' if spec.workers != 1 else ''}")
    parts.append(f"n={format_n(spec.n)}")
    return " · ".join(parts)


def trial_line(spec: TrialSpec, result: TrialResult, done: int | None = None, total: int | None = None) -> str:
    """One concise line for a finished trial: count, what ran, median wall and spread."""
    count = ""
    if done is not None:
        width = len(str(total)) if total else 1
        count = f"[{done:>{width}}/{total}] " if total else f"[{done}] "
    what = f"{spec.backend:<16} workers={spec.workers:<3} n={format_n(spec.n):<8}"
    if result.failed:
        return f"{count}{what} FAILED: {result.error}"
    spread = result.spread or 0.0
    return f"{count}{what} wall {format_seconds(result.wall_time_s):>10} ±{spread:5.1%}  ({len(result.wall_times_s)} reps)"


def error(message: str, stream: TextIO | None = None) -> None:
    """A user-facing error: one line, no traceback."""
    print(f"parsweep: error: {message}", file=stream or sys.stderr, flush=True)


def warn(message: str, stream: TextIO | None = None) -> None:
    print(f"  warning: {message}", file=stream or sys.stderr, flush=True)


def describe(value: object) -> str:
    """An exception (or anything) as ``Type: message``."""
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}" if str(value) else type(value).__name__
    return str(value)
