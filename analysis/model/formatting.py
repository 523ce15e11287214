"""Numbers as people read them, shared by every text rendering."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

BLANK = "-"


def is_blank(value: Any) -> bool:
    """True for None, NaN and pandas' NA."""
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_n(n: Any) -> str:
    """``10000000`` -> ``1e7``, ``3000000`` -> ``3e6``, ``12345`` -> ``12_345``."""
    if is_blank(n):
        return BLANK
    from runner.trial.units import format_n as runner_format_n

    return runner_format_n(int(n))


def format_seconds(seconds: Any) -> str:
    """``2.345`` -> ``2.345 s``, ``0.0123`` -> ``12.30 ms``, ``1.2e-5`` -> ``12.0 us``."""
    if is_blank(seconds):
        return BLANK
    from runner.trial.units import format_seconds as runner_format_seconds

    return runner_format_seconds(float(seconds))


def format_ratio(value: Any) -> str:
    """A speedup: ``1.93x``."""
    return BLANK if is_blank(value) else f"{float(value):.2f}x"


NO_DIFFERENCE_MARK = "≈"
CANNOT_TELL_MARK = "~"
UNTRUSTED_MARK = "?"


def format_speedup(value: Any, conclusion: Any = "", trusted: bool = True) -> str:
    """A speedup as people read it: ``1.93x``; ``1.02x ≈`` when its interval contains 1 and lies
    within 1 +- 5% (no difference); ``1.10x ~`` when it contains 1 but is wider (cannot tell);
    `` ?`` after the figures of a row that is not trusted."""
    if is_blank(value):
        return BLANK
    text = format_ratio(value)
    if conclusion == "no difference":
        text += f" {NO_DIFFERENCE_MARK}"
    elif conclusion == "cannot tell":
        text += f" {CANNOT_TELL_MARK}"
    return text if trusted else f"{text} {UNTRUSTED_MARK}"


def format_times(ratio: Any) -> str:
    """A ratio of times: ``1.33x slower``, ``1.20x faster`` (the reciprocal), ``1.00x``."""
    if is_blank(ratio):
        return BLANK
    value = float(ratio)
    if value >= 1.005:
        return f"{value:.2f}x slower"
    if value <= 1 / 1.005:
        return f"{1 / value:.2f}x faster"
    return f"{value:.2f}x"


def format_interval(low: Any, high: Any) -> str:
    """A confidence interval of a speedup: ``1.88-1.97``."""
    if is_blank(low) or is_blank(high):
        return BLANK
    return f"{float(low):.2f}–{float(high):.2f}"


def format_percent(value: Any) -> str:
    return BLANK if is_blank(value) else f"{float(value):.0%}"


def format_fraction(value: Any) -> str:
    """A serial fraction: ``0.052``."""
    return BLANK if is_blank(value) else f"{float(value):.3f}"


def format_ceiling(fraction: Any, ceiling: Any) -> str:
    """Amdahl's ceiling: ``19.2x``; ``∞`` when the fitted serial fraction is <= 0."""
    if is_blank(fraction):
        return BLANK
    if is_blank(ceiling) or math.isinf(float(ceiling)):
        return "∞"
    return f"{float(ceiling):.1f}x"


def backend_labels(frame: pd.DataFrame) -> pd.Series:
    """``backend``, plus ``(start_method)`` when one backend appears with several start methods,
    plus `` · chunks=16`` for a trial that split its range other than one chunk per worker."""
    if frame.empty:
        return pd.Series([], dtype=object)
    methods = frame.groupby("backend")["start_method"].nunique()
    chunks = frame["chunks"] if "chunks" in frame else pd.Series("", index=frame.index)
    return pd.Series(
        [
            (f"{b} ({m})" if methods.get(b, 1) > 1 and m not in (None, "none") else str(b)) + (f" · chunks={c}" if c else "")
            for b, m, c in zip(frame["backend"], frame["start_method"], chunks.fillna(""))
        ],
        index=frame.index,
    )
