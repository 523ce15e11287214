"""Statistics the report, ``--compare`` and ``parsweep-reproduce`` share, through scipy.

* **Bootstrap interval of a ratio of medians** (a speedup, or B/A in a comparison):
  ``scipy.stats.bootstrap``, percentile method, the two sides resampled independently, each
  its own size. Rows whose sides have the same sizes are bootstrapped in one call (scipy
  vectorises the statistic over the rows, ``axis=-1``), :data:`ROWS_PER_CALL` rows and
  :data:`BATCH` resamples at a time to bound memory. Each size group draws from its own
  generator seeded by ``(seed, sizes)``: the same data always gives the same intervals, and a
  row of another size never moves them. A side with a single value has no interval (scipy
  needs two values to resample; one value says nothing about its spread).
  Measured on 2 cores (AMD EPYC VM): 10,000 rows' intervals (5 against 5 repetitions) take
  about 1.3-1.5 s; ``benchmarks/report_scale.py`` (10,000 trials) gave report 15.5 s against
  ``mlflow.search_runs`` 13.0 s, 1.19x, within its 1.5x goal: no hand-written bootstrap is kept.
* **The Mann-Whitney U test** (``scipy.stats.mannwhitneyu``, two-sided: exact for small
  samples without ties, else the normal approximation), and what the sample sizes allow: with
  ``n1`` against ``n2`` values the two-sided exact test cannot give p below
  ``2 / C(n1 + n2, n1)`` (:func:`smallest_p_value`); 3 against 3 never goes below 0.10.
* **A difference's verdict** (:func:`differences`): ``faster`` / ``slower`` only when the test
  says so (p < alpha) *and* the interval of the ratio excludes 1; ``no difference`` only when
  the test finds none *and* the interval lies within a band: :data:`EQUIVALENCE` (1 +- 5%,
  the same "no difference" as the report's speedups) unless the caller names another
  (``parsweep-reproduce`` asks "within noise?", :data:`WITHIN_NOISE`); otherwise ``cannot
  tell``, saying why (too few repetitions for the test to ever reach alpha, or too noisy).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 0
ALPHA = 0.05
#: "No difference": a ratio whose interval contains 1 and lies within 1 +- 5% (the report's
#: speedups, ``--compare``, every "no difference" parsweep prints).
EQUIVALENT_WITHIN = 0.05
EQUIVALENCE = (1 / (1 + EQUIVALENT_WITHIN), 1 + EQUIVALENT_WITHIN)
#: ``parsweep-reproduce``'s "within noise": a re-run at another time, on a machine whose speed
#: drifts, is within noise of the original when the interval of new/original lies within this
#: band (a 2x change never reads as within noise). It is a claim about reproduction, worded as
#: such, never printed as "no difference".
WITHIN_NOISE = (0.8, 1.25)
ROWS_PER_CALL = 1000  # rows bootstrapped per scipy call: 1000 x BATCH x size values in memory
BATCH = 100  # resamples scipy draws at a time (fixed: it decides how the random stream is used)
MAX_REPEATS = 50  # the most repetitions :func:`repeats_for_power` asks for

FASTER, SLOWER, NO_DIFFERENCE, CANNOT_TELL = "faster", "slower", "no difference", "cannot tell"


def _ratio_of_medians(numerator: np.ndarray, denominator: np.ndarray, axis: int = -1) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio: np.ndarray = np.median(numerator, axis=axis) / np.median(denominator, axis=axis)
    return ratio


def ratio_of_medians_ci(
    numerators: Sequence[Sequence[float] | np.ndarray],
    denominators: Sequence[Sequence[float] | np.ndarray],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap interval of ``median(num) / median(den)`` for each pair of sample sets.

    Returns ``(low, high)`` arrays, one value per pair; NaN where either side has fewer than
    two values.
    """
    count = len(numerators)
    low = np.full(count, np.nan)
    high = np.full(count, np.nan)
    groups: dict[tuple[int, int], list[int]] = {}
    for index, (num, den) in enumerate(zip(numerators, denominators)):
        if len(num) >= 2 and len(den) >= 2:
            groups.setdefault((len(num), len(den)), []).append(index)
    if not groups:  # no side with two values: nothing to resample, and scipy.stats (~1 s to import) stays unloaded
        return low, high
    from scipy import stats

    for (num_size, den_size), rows in sorted(groups.items()):
        # sorted: the interval depends on the values only, never on the order they were read in
        num_rows = np.sort(np.asarray([np.asarray(numerators[i], dtype=float) for i in rows]), axis=1)
        den_rows = np.sort(np.asarray([np.asarray(denominators[i], dtype=float) for i in rows]), axis=1)
        rng = np.random.default_rng([seed, num_size, den_size])
        for start in range(0, len(rows), ROWS_PER_CALL):
            part = slice(start, start + ROWS_PER_CALL)
            with warnings.catch_warnings():
                # identical values resample to one ratio: a zero-width interval is the right answer
                warnings.simplefilter("ignore", stats.DegenerateDataWarning)
                result = stats.bootstrap(
                    (num_rows[part], den_rows[part]), _ratio_of_medians, vectorized=True, axis=-1, paired=False,
                    n_resamples=resamples, batch=BATCH, confidence_level=confidence, method="percentile",
                    random_state=rng,
                )
            target = np.asarray(rows[part])
            low[target] = result.confidence_interval.low
            high[target] = result.confidence_interval.high
    return low, high


def smallest_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided p-value a Mann-Whitney test of ``n1`` against ``n2`` values can give.

    Exact test, no ties: the two most extreme orderings (all of one sample below all of the
    other) are 2 of the ``C(n1 + n2, n1)`` equally likely ones. 1.0 when a side is empty.
    """
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, 2 / math.comb(n1 + n2, n1))


def can_reach_alpha(n1: int, n2: int, alpha: float = ALPHA) -> bool:
    """True when ``n1`` against ``n2`` values can reach p < ``alpha`` at all."""
    return smallest_p_value(n1, n2) < alpha


def repeats_for_power(original: int, alpha: float = ALPHA, cap: int = MAX_REPEATS) -> int:
    """The repetitions a re-run needs so that its test against ``original`` ones can reach p < ``alpha``.

    At least ``original`` (a re-run is never measured less well than what it checks), at most ``cap``.
    """
    count = max(1, original)
    while count < cap and not can_reach_alpha(original, count, alpha):
        count += 1
    return min(count, cap)


def too_few_text(n1: int, n2: int) -> str:
    """``cannot tell: 3 vs 3 repetitions are too few`` (with the smallest p-value they allow)."""
    return f"cannot tell: {n1} vs {n2} repetitions are too few (the test cannot go below p={smallest_p_value(n1, n2):.3g})"


def mann_whitney_p(before: Sequence[float], after: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U test p-value (scipy; 1.0 when every value is the same)."""
    from scipy import stats

    p = float(stats.mannwhitneyu(before, after, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p


@dataclass(frozen=True)
class Difference:
    """How ``after`` compares with ``before``: ratio = median(after) / median(before) (> 1: slower)."""

    before_count: int
    after_count: int
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    smallest_p: float
    verdict: str  # faster, slower, no difference, cannot tell
    reason: str  # one line: the verdict with its evidence


DIFFERENCE_COLUMNS = ["before_count", "after_count", "ratio", "ci_low", "ci_high", "p_value", "smallest_p", "verdict", "reason"]


def _judge(
    n1: int, n2: int, ratio: float, low: float, high: float, p: float, alpha: float, confidence: float, band: tuple[float, float]
) -> tuple[str, str]:
    if n1 < 1 or n2 < 1:
        return CANNOT_TELL, "cannot tell: no repetitions on one side"
    if not can_reach_alpha(n1, n2, alpha):
        return CANNOT_TELL, too_few_text(n1, n2)
    ci = f"{confidence:.0%} CI {low:.2f}–{high:.2f}" if not (math.isnan(low) or math.isnan(high)) else "no CI"
    detail = f"p={p:.3g}, {ci}, {n1} vs {n2} repetitions"
    if p < alpha and (low > 1 or high < 1):
        word = SLOWER if ratio > 1 else FASTER
        factor = ratio if ratio > 1 else 1 / ratio
        return word, f"{factor:.2f}x {word} ({detail})"
    if p >= alpha and band[0] <= low and high <= band[1]:
        return NO_DIFFERENCE, f"no difference ({detail})"
    if p < alpha:
        return CANNOT_TELL, f"cannot tell: the test sees a difference but the interval includes 1 ({detail})"
    return CANNOT_TELL, f"cannot tell: too noisy ({detail}; no difference needs it within {band[0]:.3g}–{band[1]:.3g})"


def differences(
    before: Sequence[Sequence[float]],
    after: Sequence[Sequence[float]],
    *,
    alpha: float = ALPHA,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    band: tuple[float, float] = EQUIVALENCE,
) -> pd.DataFrame:
    """One row per pair of sample sets (:data:`DIFFERENCE_COLUMNS`): ratio after/before, its
    bootstrap interval, the Mann-Whitney p-value, the smallest p the sizes allow, the verdict
    ("no difference" within ``band``)."""
    low, high = ratio_of_medians_ci(after, before, confidence=confidence, resamples=resamples, seed=seed)
    rows = []
    for index, (a, b) in enumerate(zip(before, after)):
        n1, n2 = len(a), len(b)
        ratio = float(np.median(b) / np.median(a)) if n1 and n2 else math.nan
        p = mann_whitney_p(a, b) if n1 and n2 else math.nan
        verdict, reason = _judge(n1, n2, ratio, float(low[index]), float(high[index]), p, alpha, confidence, band)
        rows.append((n1, n2, ratio, low[index], high[index], p, smallest_p_value(n1, n2), verdict, reason))
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def difference(before: Sequence[float], after: Sequence[float], **options: Any) -> Difference:
    """:func:`differences` for one pair."""
    row = differences([before], [after], **options).iloc[0]
    return Difference(**{column: row[column] for column in DIFFERENCE_COLUMNS})
