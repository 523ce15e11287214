"""Trust: why a figure may not be what it seems, for each trial and each row of a report.

A trial's reasons are the runner's (:data:`runner.trial.quality.REASONS`: interference,
spread, short repetitions, oversubscribed, throttled), read from its ``parsweep.trust`` tag.
Runs logged before that tag existed get what can be derived from what they did log, by the
runner's own thresholds:

* ``spread``: std >= 10% of the mean, or the slowest repetition >= 1.5x the median (the
  fastest <= median / 1.5), from the repetition samples (else from ``wall_time_std_s`` and
  ``wall_time_mean_s``);
* ``short repetitions``: median under 1 ms;
* ``oversubscribed``: more workers than ``host.cpu_usable`` (never for serial or a cluster);
* ``interference``: ``other_cpu_cores`` >= max(0.25, 0.1 x usable CPUs), the runner's
  default ``interference.threshold``;
* ``throttled`` cannot be derived (the clock was not logged per trial).

A report row carries the union of its trials' reasons, plus :data:`NOISY_BASELINE` when the
serial row it is divided by is not ok for interference or spread, plus
:data:`FEW_REPETITIONS` when its confidence interval cannot reach 95%: the serial and the
row's repetitions are too few for a distribution-free test to reach p < 0.05
(:func:`analysis.model.stats.can_reach_alpha`; 3 against 3 cannot).

**Trust from what the answer needs.** A row whose speedup is paired (measured round by round
beside its baseline) and known within :data:`PRECISE` (+-5%) is trusted even when its
repetitions, or its baseline's, spread: on a VM whose CPU speed drifts by itself that spread
is the machine's, it moved both sides of every pair, and the paired interval already carries
what is left of it. Its cell says so in one line: ``ok: spread cancels in pairs`` (and the
baseline's, when that was the one that spread). A serial row is rescued the same way when at
least one row divided by it is; its spread then makes no :data:`NOISY_BASELINE` of the paired rows
still wider than +-5% either (the serial row reads ok, and what their pairs leave is their own:
``spread``, if their repetitions spread). Interference is never cancelled: a busy neighbour hits
one side of a pair, not both.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from runner.trial.quality import (
    BUSY_AT_START_MIN_CORES,
    OUTLIER_FACTOR,
    OVERSUBSCRIBED,
    REASONS,
    SHORT_REPETITION_S,
    SPREAD_WARN_REL_STD,
)
from runner.trial.quality import (
    INTERFERENCE as INTERFERENCE,  # "as": re-exported, the analysis names the reasons through this module
)
from runner.trial.quality import (
    OK as OK,
)
from runner.trial.quality import (
    SHORT as SHORT,
)
from runner.trial.quality import (
    SPREAD as SPREAD,
)
from runner.trial.spec import DEFAULTS

NOISY_BASELINE = "noisy baseline"
#: A paired speedup known within this (relative half-width of its interval) is precise enough to
#: trust despite raw spread; it is also the "no difference" band (1 +- 5%).
PRECISE = 0.05
CANCELS = "spread cancels in pairs"
FEW_REPETITIONS = "few repetitions"
#: Every reason a report row may carry, in the order they are listed.
ROW_REASONS = (*REASONS, NOISY_BASELINE, FEW_REPETITIONS)
#: A noisy serial row makes every speedup divided by it noisy too.
BASELINE_NOISE = (INTERFERENCE, SPREAD)
INTERFERENCE_SHARE = float(DEFAULTS["interference"]["threshold"])
NOT_OVERSUBSCRIBED = ("serial", "ray", "dask")  # serial has one worker; a cluster's CPUs are not the host's


def parse_reasons(text: object) -> list[str]:
    """``"spread; oversubscribed"`` -> ``["spread", "oversubscribed"]``; ``ok`` or blank -> ``[]``."""
    if not isinstance(text, str):
        return []
    # "ok" and "ok: <why>" (see :func:`cancelled_trust`) name no reason
    return [part.strip() for part in text.split(";") if part.strip() and not part.strip().startswith(OK)]


def join_reasons(reasons: Iterable[str]) -> str:
    """Reasons in :data:`ROW_REASONS` order (others after, as they came), joined by ``; ``; ``ok`` when none."""
    unique = list(dict.fromkeys(reasons))
    rank = {reason: i for i, reason in enumerate(ROW_REASONS)}
    ordered = sorted(unique, key=lambda r: (rank.get(r, len(rank)), unique.index(r)))
    return "; ".join(ordered) if ordered else OK


def is_ok(text: object) -> bool:
    """True for a trust cell that lists no reason."""
    return not parse_reasons(text)


def _sample_spread(samples: pd.DataFrame | None) -> pd.Series:
    """Per run id: True when its samples spread (std >= 10% of the mean, or an outlier repetition)."""
    if samples is None or samples.empty:
        return pd.Series(dtype=bool)
    stats = samples.groupby("run_id")["wall_time_s"].agg(["count", "mean", "std", "median", "min", "max"])
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (stats["count"] >= 2) & (stats["mean"] > 0) & (stats["std"] / stats["mean"] >= SPREAD_WARN_REL_STD)
        outlier = (stats["count"] >= 3) & (
            (stats["max"] >= OUTLIER_FACTOR * stats["median"]) | (stats["min"] * OUTLIER_FACTOR <= stats["median"])
        )
    return relative | outlier


def derived_reasons(trials: pd.DataFrame, samples: pd.DataFrame | None = None) -> pd.Series:
    """What the trials' logged figures say about them (for runs without a ``parsweep.trust`` tag)."""
    index = trials.index
    spread_by_run = _sample_spread(samples)
    from_samples = trials["run_id"].map(spread_by_run)
    mean = trials["wall_time_mean_s"].where(trials["wall_time_mean_s"].notna(), trials["wall_time_s"])
    with np.errstate(divide="ignore", invalid="ignore"):
        from_metrics = (trials["wall_time_std_s"] / mean >= SPREAD_WARN_REL_STD).fillna(False)
    spread = from_samples.where(from_samples.notna(), from_metrics).fillna(False).astype(bool)
    short = (trials["wall_time_s"] < SHORT_REPETITION_S).fillna(False)
    usable = pd.to_numeric(trials["host_cpu_usable"], errors="coerce")
    workers = pd.to_numeric(trials["workers"], errors="coerce")
    over = ((workers > usable) & ~trials["backend"].isin(NOT_OVERSUBSCRIBED)).fillna(False)
    threshold = np.maximum(BUSY_AT_START_MIN_CORES, INTERFERENCE_SHARE * usable.fillna(1))
    interfered = (pd.to_numeric(trials["other_cpu_cores"], errors="coerce") >= threshold).fillna(False)
    out = []
    for flags in zip(interfered, spread, short, over):
        out.append([reason for reason, on in zip((INTERFERENCE, SPREAD, SHORT, OVERSUBSCRIBED), flags) if on])
    return pd.Series(out, index=index, dtype=object)


def trial_trust(trials: pd.DataFrame, samples: pd.DataFrame | None = None) -> pd.Series:
    """Each trial's trust text: its ``parsweep.trust`` tag, else :func:`derived_reasons`."""
    if trials.empty:
        return pd.Series(dtype=object)
    tagged = trials["trust_tag"] if "trust_tag" in trials else pd.Series(pd.NA, index=trials.index)
    derived = derived_reasons(trials, samples)
    return pd.Series(
        [join_reasons(parse_reasons(tag)) if isinstance(tag, str) and tag.strip() else join_reasons(reasons)
         for tag, reasons in zip(tagged, derived)],
        index=trials.index,
        dtype=object,
    )


def pooled_trust(texts: Iterable[str]) -> str:
    """The union of several trials' trust texts."""
    return join_reasons(reason for text in texts for reason in parse_reasons(text))


def with_reasons(text: str, extra: Iterable[str]) -> str:
    """``text`` with ``extra`` reasons added."""
    return join_reasons([*parse_reasons(text), *extra])


def cancelled_trust(text: str, cancelled: Iterable[str], *, baseline: bool = False) -> str:
    """``text`` without the ``cancelled`` reasons; ``ok: spread cancels in pairs`` when they were all
    that kept it from ``ok`` (or when the baseline's spread was, ``baseline``)."""
    before = parse_reasons(text)
    after = [reason for reason in before if reason not in cancelled]
    if after:
        return join_reasons(after)
    return f"{OK}: {CANCELS}" if (len(after) < len(before) or baseline) else OK
