"""``parsweep-report --compare A B``: two selections of trials, row by row, like ``pyperf compare_to``.

**Sides.** A and B are each a sweep's run id (that sweep's trials) or ``experiment:NAME``
(every trial of that experiment), optionally followed by ``@URI``: the store it lives in
(``3f2a…@sqlite:////data/other.db``, ``experiment:parsweep@http://host:5000``). Without
``@URI``, A is read from ``--tracking-uri`` (else ``MLFLOW_TRACKING_URI``, else
``./mlflow.db``) and B from ``--tracking-uri-b`` when given, else from A's store. Two
machines, two interpreters, two commits of your code: whatever the two sides differ in.

**Rows.** Each side's trials are pooled by identity (:data:`analysis.model.metrics.ROW_KEYS`), then
matched on workload, n, backend, start_method, chunks and workers, and on host and python
only when both sides have several of them (when a side has one, that is what the comparison
is about); each side keeps its own ``host_*`` and ``python_*``. Rows only one side has are
listed (:attr:`Comparison.only_a`, :attr:`Comparison.only_b`).

**Figures** (:func:`analysis.model.stats.differences`): both sides' medians (of their pooled
repetitions), ``ratio`` = B / A (above 1: B is slower), its 95% bootstrap interval (both sides
resampled), the two-sided Mann-Whitney p-value and the smallest p-value the two sample
sizes allow. ``verdict``: ``slower`` / ``faster`` (B against A) only when the test says so and
the interval excludes 1; ``no difference`` only when the test finds none and the interval lies
within 1 +- 5% (:data:`~analysis.model.stats.EQUIVALENCE`, the report's own "no difference"); else ``cannot tell``, with the reason (``N vs M repetitions are too few``
when the test could never reach p < 0.05, or too noisy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.data.load import ReportError, load_samples, load_source
from analysis.model.metrics import samples_by_row, summarize_trials
from analysis.model.stats import ALPHA, CONFIDENCE, RESAMPLES, SEED, differences
from analysis.model.trust import trial_trust

MATCH_KEYS = ["workload", "n", "backend", "start_method", "chunks", "workers"]
SIDE_KEYS = ["host", "python"]  # matched only when both sides have several
COMPARE_COLUMNS = [
    "workload", "n", "backend", "start_method", "chunks", "workers",
    "host_a", "python_a", "host_b", "python_b",
    "median_a_s", "median_b_s", "ratio", "ratio_ci_low", "ratio_ci_high", "p_value", "smallest_p",
    "repetitions_a", "repetitions_b", "verdict", "reason", "trust_a", "trust_b",
]
ONLY_COLUMNS = ["host", "python", *MATCH_KEYS, "wall_time_s", "trust"]


@dataclass
class Side:
    """One side of a comparison: what the user named, where it was read from, its trials."""

    name: str  # "A" or "B"
    source: str  # a sweep's run id or experiment:NAME
    tracking_uri: str
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)
    samples: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def label(self) -> str:
        """``sweep 3f2a… (sqlite:///…/mlflow.db)`` or ``experiment parsweep (…)``."""
        what = f"experiment {self.source.split(':', 1)[1]}" if self.source.startswith("experiment:") else f"sweep {self.source}"
        return f"{what} ({self.tracking_uri})"


@dataclass
class Comparison:
    """The comparison model every rendering reads (see the module's docstring)."""

    a: Side
    b: Side
    keys: list[str]
    rows: pd.DataFrame  # COMPARE_COLUMNS
    only_a: pd.DataFrame  # ONLY_COLUMNS
    only_b: pd.DataFrame
    confidence: float = CONFIDENCE
    alpha: float = ALPHA

    @property
    def title(self) -> str:
        return f"Compare A = {self.a.label} with B = {self.b.label}"

    def counts(self) -> dict[str, int]:
        """How many rows read each verdict, plus the one-sided rows."""
        out = {str(k): int(v) for k, v in self.rows["verdict"].value_counts().items()}
        out.update(compared=len(self.rows), only_a=len(self.only_a), only_b=len(self.only_b))
        return out

    def geometric_mean(self) -> float:
        """The geometric mean of B/A over the compared rows (NaN when none)."""
        ratios = self.rows["ratio"].to_numpy(dtype=float)
        ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
        return float(np.exp(np.log(ratios).mean())) if len(ratios) else math.nan


def split_source(text: str) -> tuple[str, str | None]:
    """``SOURCE@URI`` -> ``(SOURCE, URI)``; ``SOURCE`` -> ``(SOURCE, None)``.

    The ``@`` counts only when what follows looks like a store (``scheme://…`` or a path), so
    an experiment name with an ``@`` in it stays whole.
    """
    head, at, tail = text.partition("@")
    if at and head and ("://" in tail or tail.startswith(("/", ".", "~"))):
        return head, tail
    return text, None


def load_side(name: str, source: str, tracking_uri: str) -> Side:
    """Read one side: its trials (with trust) and repetition samples."""
    from analysis.data.load import check_store

    check_store(tracking_uri)
    trials = load_source(tracking_uri, source)
    done = trials[trials["status"] == "FINISHED"]
    samples = load_samples(tracking_uri, done) if not done.empty else pd.DataFrame(columns=["run_id", "rep", "wall_time_s"])
    if trials.empty:
        raise ReportError(f"{name}={source}: no trials in {tracking_uri}")
    trials = trials.assign(trust=trial_trust(trials, samples))
    return Side(name, source, tracking_uri, trials, samples)


def _pooled(side: Side) -> pd.DataFrame:
    rows = summarize_trials(side.trials, side.samples)
    per_row = samples_by_row(rows, side.samples) if not side.samples.empty else [np.empty(0)] * len(rows)
    rows["_samples"] = per_row
    rows["_median"] = [float(np.median(v)) if len(v) else w for v, w in zip(per_row, rows["wall_time_s"])]
    return rows


def compare_sides(
    a: Side, b: Side, *, confidence: float = CONFIDENCE, alpha: float = ALPHA, resamples: int = RESAMPLES, seed: int = SEED
) -> Comparison:
    """Match the two sides' rows and judge each pair (see the module's docstring)."""
    left, right = _pooled(a), _pooled(b)
    keys = list(MATCH_KEYS)
    for column in SIDE_KEYS:
        if left[column].nunique() > 1 and right[column].nunique() > 1:
            keys.append(column)
    merged = left.merge(right, on=keys, how="outer", suffixes=("_a", "_b"), indicator=True, sort=False)
    for column in SIDE_KEYS:
        if column in keys:
            merged[f"{column}_a"] = merged[column]
            merged[f"{column}_b"] = merged[column]
    both = merged[merged["_merge"] == "both"].reset_index(drop=True)
    judged = differences(list(both["_samples_a"]), list(both["_samples_b"]), alpha=alpha, confidence=confidence,
                         resamples=resamples, seed=seed)
    rows = pd.DataFrame({
        **{column: both[column] for column in MATCH_KEYS},
        "host_a": both["host_a"], "python_a": both["python_a"], "host_b": both["host_b"], "python_b": both["python_b"],
        "median_a_s": both["_median_a"], "median_b_s": both["_median_b"],
        "ratio": both["_median_b"] / both["_median_a"],
        "ratio_ci_low": judged["ci_low"], "ratio_ci_high": judged["ci_high"],
        "p_value": judged["p_value"], "smallest_p": judged["smallest_p"],
        "repetitions_a": judged["before_count"], "repetitions_b": judged["after_count"],
        "verdict": judged["verdict"], "reason": judged["reason"],
        "trust_a": both["trust_a"], "trust_b": both["trust_b"],
    }, columns=COMPARE_COLUMNS)
    return Comparison(
        a=a, b=b, keys=keys, rows=rows,
        only_a=_one_side(merged[merged["_merge"] == "left_only"], "a", keys),
        only_b=_one_side(merged[merged["_merge"] == "right_only"], "b", keys),
        confidence=confidence, alpha=alpha,
    )


def _one_side(frame: pd.DataFrame, suffix: str, keys: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for column in ONLY_COLUMNS:
        out[column] = frame[column] if column in keys or column in frame else frame.get(f"{column}_{suffix}")
    return out[ONLY_COLUMNS].reset_index(drop=True)


def compare(
    source_a: str,
    source_b: str,
    *,
    tracking_uri: str | None = None,
    tracking_uri_b: str | None = None,
    **options: Any,
) -> Comparison:
    """Load both sides (``SOURCE[@URI]``, see the module's docstring) and compare them."""
    import os

    from runner.tracking.store import resolve_uri

    source_a, uri_a = split_source(source_a)
    source_b, uri_b = split_source(source_b)
    base = resolve_uri(tracking_uri, os.getcwd())
    a = load_side("A", source_a, resolve_uri(uri_a, os.getcwd()) if uri_a else base)
    b_default = resolve_uri(tracking_uri_b, os.getcwd()) if tracking_uri_b else base
    b = load_side("B", source_b, resolve_uri(uri_b, os.getcwd()) if uri_b else b_default)
    return compare_sides(a, b, **options)

