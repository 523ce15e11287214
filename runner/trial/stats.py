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
from collections.abc import Hashable, Sequence
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
    total: int = 2**count

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


# --- Paired ratios: a speedup read from repetitions measured close together in time ----------
#
# The machine's speed drifts (a VM's virtual CPU: +-20% between seconds). Two trials measured in
# the same interleaved round see the same phase of that drift, so the ratio of their two walls
# cancels most of it, where two independent pools of repetitions do not. A paired ratio is the
# geometric mean of the per-round ratios ``numerator_i / denominator_i`` (the mean of their
# logs, back-transformed), and its interval is Student's t interval of that mean of logs:
# deterministic, distribution-light (log ratios of timings are close to symmetric), and cheap
# enough for the launcher to evaluate after every round (``repeats=auto``). The t quantile is
# computed here (no scipy in the trial side): exact for 1 and 2 degrees of freedom, the
# Cornish-Fisher expansion from the normal quantile above (within 0.12% of scipy at 3, 1e-4 from 5 on).
#
# Pairing cannot cancel what stays the same for a process's whole life: two processes forked
# from one parent, running the same loop on the same CPU, differ by a few percent for as long as
# they live (physical page placement; benchmarks/process_offset.py measured 0.94-1.06 between
# such couples, each known within +-1%). So a trial's repetitions are spread over several
# processes (``repeats_per_process``), and the pairs of one couple of processes (the baseline's
# and the contender's) form a *cluster*: its pairs share one offset. With two or more clusters
# the interval is the cluster-robust one (the variance of the mean of logs from the clusters'
# sums of deviations, ``k / (k - 1)`` corrected, Student's t with ``k - 1`` degrees of freedom),
# and never narrower than the per-pair interval; with one cluster (one process per side: runs
# from before, or ``repeats_per_process=null``) only the per-pair interval can be had, and it
# cannot see the offset.


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``0.5 < p < 1``)."""
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = statistics.NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@dataclass(frozen=True)
class PairedRatio:
    """``numerator / denominator`` estimated from pairs measured together, with its interval."""

    ratio: float  # geometric mean of the per-pair ratios
    low: float
    high: float
    pairs: int
    clusters: int = 1  # couples of processes the pairs came from (see above)

    @property
    def rel_half_width(self) -> float:
        """The interval's half-width relative to the ratio, on the log scale (0.03: +-3%)."""
        return math.sqrt(self.high / self.low) - 1 if self.low > 0 else math.inf


def log_mean_interval(
    logs: Sequence[float], clusters: Sequence[Hashable] | None = None, confidence: float = CONFIDENCE
) -> tuple[float, float, int]:
    """The mean of ``logs`` (two or more), its interval's half-width, and the number of clusters.

    ``clusters`` labels each value with the couple of processes it came from; with two or more
    distinct labels the half-width is the larger of the per-value t interval's and the
    cluster-robust one's (see the comment above), else the per-value one's.
    """
    count = len(logs)
    mean = statistics.fmean(logs)
    half = t_quantile(0.5 + confidence / 2, count - 1) * statistics.stdev(logs) / math.sqrt(count)
    if clusters is None:
        return mean, half, 1
    if len(clusters) != count:
        raise ValueError(f"one cluster label per value, got {len(clusters)} for {count} values")
    sums: dict[Hashable, float] = {}
    for value, label in zip(logs, clusters):
        sums[label] = sums.get(label, 0.0) + value - mean
    k = len(sums)
    if k < 2:
        return mean, half, 1
    variance = k / (k - 1) * sum(total * total for total in sums.values()) / count**2
    return mean, max(half, t_quantile(0.5 + confidence / 2, k - 1) * math.sqrt(variance)), k


def paired_ratio(
    numerators: Sequence[float],
    denominators: Sequence[float],
    confidence: float = CONFIDENCE,
    clusters: Sequence[Hashable] | None = None,
) -> PairedRatio | None:
    """The paired ratio of two aligned samples (pair ``i`` = ``numerators[i]``, ``denominators[i]``),
    ``clusters[i]`` the couple of processes pair ``i`` was measured in (see :func:`log_mean_interval`).

    ``None`` with fewer than two pairs (one pair says nothing of the spread) or a value <= 0.
    For a speedup, the numerators are the baseline's walls and the denominators the contender's.
    """
    if len(numerators) != len(denominators):
        raise ValueError(f"pairs need aligned samples, got {len(numerators)} and {len(denominators)} values")
    if len(numerators) < 2 or min(numerators, default=0) <= 0 or min(denominators, default=0) <= 0:
        return None
    logs = [math.log(a / b) for a, b in zip(numerators, denominators)]
    mean, half, k = log_mean_interval(logs, clusters, confidence)
    return PairedRatio(ratio=math.exp(mean), low=math.exp(mean - half), high=math.exp(mean + half), pairs=len(logs), clusters=k)


def pair_by_round(
    numerator: Sequence[tuple[int, float]], denominator: Sequence[tuple[int, float]]
) -> tuple[list[float], list[float]]:
    """Align two trials' ``(round, wall)`` repetitions on the rounds both were measured in.

    A round holds at most one recorded repetition of a trial; a repetition measured again in a
    round of its own (interference retries) has no partner there and is left out of the pairs.
    """
    other = dict(denominator)
    pairs = [(value, other[index]) for index, value in numerator if index in other]
    return [a for a, _ in pairs], [b for _, b in pairs]
