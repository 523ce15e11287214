"""Statistics of a trial's repetition wall times: summary figures and the median's 95% CI.

The confidence interval of the median is distribution-free (order statistics, no bootstrap,
no randomness): with ``k`` sorted values ``x(1) <= ... <= x(k)``, the interval
``[x(j), x(k+1-j)]`` contains the true median with probability
``P(j <= B <= k-j)`` where ``B ~ Binomial(k, 1/2)``; ``j`` is the largest rank whose
coverage is still at least 95%. Timings are skewed (the machine only ever adds delay), so
an interval that assumes nothing about their shape is the honest one. It needs 6 values to
reach 95% (coverage with ``[min, max]`` is ``1 - 2^(1-k)``): below that the interval is
``[min, max]`` and ``ci_level`` says how much confidence it really carries.

Quartiles (for the IQR) interpolate linearly between order statistics (NumPy's default,
``statistics.quantiles(method="inclusive")``).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


@functools.lru_cache(maxsize=1024)
def median_ci_ranks(count: int, confidence: float = CONFIDENCE) -> tuple[int, int, float]:
    """1-based ranks ``(j, k+1-j)`` of the median's CI among ``count`` sorted values, and its coverage.

    ``j`` is the largest rank whose interval still covers the median with probability
    ``>= confidence``; when even ``[min, max]`` falls short (fewer than 6 values at 95%),
    ``j = 1`` and the coverage returned is the smaller, true one.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    total = 2**count

    def coverage(j: int) -> float:
        inside = sum(math.comb(count, i) for i in range(j, count - j + 1))
        return inside / total

    j = 1
    while j + 1 <= (count + 1) // 2 and coverage(j + 1) >= confidence:
        j += 1
    return j, count + 1 - j, coverage(j)


@dataclass(frozen=True)
class Summary:
    """Summary figures of one sample (seconds for wall times)."""

    count: int
    median: float
    mean: float
    std: float  # sample standard deviation (n - 1); 0.0 with one value
    min: float
    max: float
    q1: float
    q3: float
    ci_low: float
    ci_high: float
    ci_level: float  # the CI's true coverage: >= 0.95 from 6 values on

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def ci_half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @property
    def rel_ci_half_width(self) -> float:
        """CI half-width relative to the median (what ``repeats=auto`` drives below ``target_rel_ci``)."""
        return self.ci_half_width / self.median if self.median > 0 else math.inf

    @property
    def ci_reaches_confidence(self) -> bool:
        return self.ci_level >= CONFIDENCE


def summarize(values: Sequence[float]) -> Summary:
    """Median, mean, std, min/max, quartiles and the median's 95% CI of ``values`` (at least one)."""
    if not values:
        raise ValueError("no values to summarize")
    ordered = sorted(values)
    count = len(ordered)
    if count > 1:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        std = statistics.stdev(ordered)
    else:
        q1 = q3 = ordered[0]
        std = 0.0
    low_rank, high_rank, level = median_ci_ranks(count)
    return Summary(
        count=count,
        median=statistics.median(ordered),
        mean=statistics.fmean(ordered),
        std=std,
        min=ordered[0],
        max=ordered[-1],
        q1=q1,
        q3=q3,
        ci_low=ordered[low_rank - 1],
        ci_high=ordered[high_rank - 1],
        ci_level=level,
    )
