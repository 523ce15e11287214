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
    quantile: float | None = None  # the t quantile the interval was read with (None: not known)

    def asymptotic_half_width(self, confidence: float = CONFIDENCE) -> float:
        """:attr:`rel_half_width` with the normal quantile in place of Student's t: what the
        interval narrows toward as rounds add pairs and couples, besides 1 / sqrt(pairs). From a
        few couples t is large (2.57 with 6), and a width read with it overstates the rounds
        still needed (:func:`more_to_target`) by up to (t / z) squared."""
        if self.quantile is None or not math.isfinite(self.rel_half_width):
            return self.rel_half_width
        z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
        return math.expm1(math.log1p(self.rel_half_width) * min(1.0, z / self.quantile))

    @property
    def rel_half_width(self) -> float:
        """The interval's half-width relative to the ratio, on the log scale (0.03: +-3%)."""
        return math.sqrt(self.high / self.low) - 1 if self.low > 0 else math.inf


def more_to_target(rel_half_width: float, count: int, target: float) -> int | None:
    """About how many more pairs (or repetitions) would bring an interval of ``rel_half_width``
    from ``count`` of them to ``target``, its width taken as ~ 1 / sqrt(count) (Student's t
    narrowing too as the count grows, this leans high); None when it is there already, or when
    the width or ``count`` says too little."""
    if not math.isfinite(rel_half_width) or rel_half_width <= target or count < 2 or target <= 0:
        return None
    return max(1, math.ceil(count * ((rel_half_width / target) ** 2 - 1)))


# --- The offsets pooled over a group's rows ---------------------------------------------------
#
# With a few couples per row (a quick sweep's rows get 5-10), the cluster-robust interval pays
# twice for knowing each row's couple-to-couple spread from that row alone: Student's t with
# k - 1 degrees of freedom, and a variance estimated from k sums. But the offset a process keeps
# is the machine's, not the row's: the rows of one interleaved group run on the same CPUs in the
# same minutes. So the group's rows pool it. Each row's log-ratios are read as a one-way random
# effects model, ``log = mu + a_couple + e``, offsets ``a`` with variance ``tau2`` and per-pair
# noise ``e`` with variance ``sigma2``; ``tau2`` is estimated once from every row's couples
# (ANOVA moments per row, averaged with their k - 1 degrees of freedom as weights; a negative
# average is 0), ``sigma2`` from the row's own pairs within their couples. The mean's variance is
# ``(sum of n_i**2 * tau2) / N**2 + sigma2 / N``, with Satterthwaite's degrees of freedom.
# Simulated on rows like the quick sweep's (14 rows of 6 couples x 5 pairs, 13% noise per pair,
# offsets 0-3%; benchmarks/pooled_offsets.py), that interval is 10-15% narrower than the row's own
# at 95-96% coverage (tests/test_trust_processes.py holds it). A row whose couples spread more than the pool explains (an F
# test at 10%: its own offsets, a backend whose workers keep one of their own) keeps its own
# cluster-robust interval; so does a row with no pool to join (alone in its group), and every
# interval stays at least as wide as the per-pair one.


@dataclass(frozen=True)
class CoupleSpread:
    """One row's pairs, split by their couple of processes: the sums of squares the pooled
    offset variance and the row's own noise are read from."""

    count: int  # pairs
    couples: int
    within_ss: float  # sum over pairs of (log - its couple's mean) ** 2
    between_ss: float  # sum over couples of pairs * (couple's mean - row mean) ** 2
    sizes_sq: int  # sum over couples of pairs ** 2

    @property
    def n0(self) -> float:
        """The couples' effective size (the mean size, for couples of equal size)."""
        return (self.count - self.sizes_sq / self.count) / (self.couples - 1)

    @property
    def noise_variance(self) -> float:
        return self.within_ss / (self.count - self.couples)

    @property
    def offset_variance(self) -> float:
        """The moment estimate of ``tau2`` from this row alone (unbiased, may be negative)."""
        return (self.between_ss / (self.couples - 1) - self.noise_variance) / self.n0


@dataclass(frozen=True)
class OffsetPool:
    """The per-process offset's variance (on the log scale) pooled over a group's rows."""

    variance: float
    df: int  # sum over the rows of couples - 1
    rows: int


def couple_spread(logs: Sequence[float], clusters: Sequence[Hashable]) -> CoupleSpread | None:
    """The sums of squares of ``logs`` by cluster; None with fewer than two clusters or no pair
    left to tell the noise within them (every couple a single pair)."""
    if len(clusters) != len(logs):
        raise ValueError(f"one cluster label per value, got {len(clusters)} for {len(logs)} values")
    groups: dict[Hashable, list[float]] = {}
    for value, label in zip(logs, clusters):
        groups.setdefault(label, []).append(value)
    count, k = len(logs), len(groups)
    if k < 2 or count <= k:
        return None
    mean = statistics.fmean(logs)
    means = {label: statistics.fmean(values) for label, values in groups.items()}
    within = sum((value - means[label]) ** 2 for label, values in groups.items() for value in values)
    between = sum(len(values) * (means[label] - mean) ** 2 for label, values in groups.items())
    return CoupleSpread(count, k, within, between, sum(len(values) ** 2 for values in groups.values()))


def pool_offsets(spreads: Sequence[CoupleSpread | None]) -> OffsetPool | None:
    """The offset variance pooled over the rows of a group; None with fewer than two rows to pool."""
    rows = [spread for spread in spreads if spread is not None]
    df = sum(spread.couples - 1 for spread in rows)
    if len(rows) < 2:
        return None
    variance = sum((spread.couples - 1) * spread.offset_variance for spread in rows) / df
    return OffsetPool(max(variance, 0.0), df, len(rows))


def f_quantile(p: float, dfn: int, dfd: int) -> float:
    """The ``p`` quantile of the F distribution (``0.5 < p < 1``), from Paulson's cube-root normal
    approximation: computed here for the same reason as :func:`t_quantile` (this module runs on
    the trial side, standard library only); within 2% of scipy's from 2 numerator degrees of
    freedom on, which is all the test of a row against its group's pool needs."""
    z = statistics.NormalDist().inv_cdf(p)
    a, b = 1 - 2 / (9 * dfd), 1 - 2 / (9 * dfn)
    c, d = 2 / (9 * dfn), 2 / (9 * dfd)
    lead = a * a - z * z * d
    root = (a * b + math.sqrt(max(a * a * b * b - lead * (b * b - z * z * c), 0.0))) / lead
    return float(root**3)


def log_mean_interval(
    logs: Sequence[float],
    clusters: Sequence[Hashable] | None = None,
    confidence: float = CONFIDENCE,
    pool: OffsetPool | None = None,
) -> tuple[float, float, int]:
    """The mean of ``logs`` (two or more), its interval's half-width, and the number of clusters.

    ``clusters`` labels each value with the couple of processes it came from; with two or more
    distinct labels the half-width is the larger of the per-value t interval's and the
    cluster-robust one's (see the comment above), else the per-value one's. With ``pool`` (the
    offsets pooled over the row's group, :func:`pool_offsets`) the cluster-robust half-width is
    the random-effects one with the pooled offset variance, unless this row's couples spread
    more than the pool explains (see the comment above).
    """
    mean, half, k, _ = _log_mean_interval(logs, clusters, confidence, pool)
    return mean, half, k


def _log_mean_interval(
    logs: Sequence[float], clusters: Sequence[Hashable] | None, confidence: float, pool: OffsetPool | None
) -> tuple[float, float, int, float]:
    """:func:`log_mean_interval`, and the t quantile of the half-width it returns."""
    count = len(logs)
    mean = statistics.fmean(logs)
    per_value = t_quantile(0.5 + confidence / 2, count - 1)
    half = per_value * statistics.stdev(logs) / math.sqrt(count)
    if clusters is None:
        return mean, half, 1, per_value
    if len(clusters) != count:
        raise ValueError(f"one cluster label per value, got {len(clusters)} for {count} values")
    sums: dict[Hashable, float] = {}
    for value, label in zip(logs, clusters):
        sums[label] = sums.get(label, 0.0) + value - mean
    k = len(sums)
    if k < 2:
        return mean, half, 1, per_value
    pooled = _pooled_half_width(couple_spread(logs, clusters), pool, confidence)
    if pooled is not None:
        robust, quantile = pooled
    else:
        quantile = t_quantile(0.5 + confidence / 2, k - 1)
        robust = quantile * math.sqrt(k / (k - 1) * sum(total * total for total in sums.values()) / count**2)
    return (mean, robust, k, quantile) if robust > half else (mean, half, k, per_value)


def _pooled_half_width(spread: CoupleSpread | None, pool: OffsetPool | None, confidence: float) -> tuple[float, float] | None:
    """The random-effects half-width of a row's mean with the pooled offset variance, and its t
    quantile; None when there is no pool, or the row's couples spread more than it explains."""
    if spread is None or pool is None:
        return None
    noise = spread.noise_variance
    expected = noise + spread.n0 * pool.variance  # what the row's between-couple mean square estimates
    if expected <= 0:
        return None
    if spread.between_ss / (spread.couples - 1) / expected > f_quantile(0.90, spread.couples - 1, pool.df):
        return None  # an offset of its own: the row's own interval
    offsets = spread.sizes_sq * pool.variance / spread.count**2
    pairs = noise / spread.count
    variance = offsets + pairs
    df = variance**2 / (offsets**2 / pool.df + pairs**2 / (spread.count - spread.couples))
    quantile = t_quantile(0.5 + confidence / 2, max(1, int(df)))
    return quantile * math.sqrt(variance), quantile


def paired_ratio(
    numerators: Sequence[float],
    denominators: Sequence[float],
    confidence: float = CONFIDENCE,
    clusters: Sequence[Hashable] | None = None,
    pool: OffsetPool | None = None,
) -> PairedRatio | None:
    """The paired ratio of two aligned samples (pair ``i`` = ``numerators[i]``, ``denominators[i]``),
    ``clusters[i]`` the couple of processes pair ``i`` was measured in, ``pool`` the offsets pooled
    over its group (see :func:`log_mean_interval`).

    ``None`` with fewer than two pairs (one pair says nothing of the spread) or a value <= 0.
    For a speedup, the numerators are the baseline's walls and the denominators the contender's.
    """
    if len(numerators) != len(denominators):
        raise ValueError(f"pairs need aligned samples, got {len(numerators)} and {len(denominators)} values")
    if len(numerators) < 2 or min(numerators, default=0) <= 0 or min(denominators, default=0) <= 0:
        return None
    logs = [math.log(a / b) for a, b in zip(numerators, denominators)]
    mean, half, k, quantile = _log_mean_interval(logs, clusters, confidence, pool)
    return PairedRatio(ratio=math.exp(mean), low=math.exp(mean - half), high=math.exp(mean + half), pairs=len(logs), clusters=k,
                       quantile=quantile)


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
