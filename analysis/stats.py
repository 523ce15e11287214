"""Bootstrap confidence intervals for speedups (a ratio of two medians), reproducible.

A speedup is ``median(serial samples) / median(trial samples)``; its interval is the
percentile bootstrap: resample each side with replacement (independently, each its own
size), take the ratio of the two resampled medians, and keep the central ``confidence``
share of that distribution. With few repetitions per side (up to 7, parsweep's usual case)
the distribution is enumerated exactly, which is both faster and free of sampling noise;
with more (several trials pooled) it is sampled, ``resamples`` times, from a generator
seeded by ``seed``: the same data always gives the same intervals.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 0
_CHUNK_VALUES = 4_000_000
EXACT_RANKS_UP_TO = 7  # 7**7 index sequences to enumerate, once  # rows x resamples x size per vectorised step (about 32 MB)


@functools.lru_cache(maxsize=None)
def median_rank_distribution(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bootstrap distribution of a resampled median, in ranks: ``(low, high, cdf)``.

    Resampling ``size`` sorted values with replacement, the median of the resample is
    ``(x[low] + x[high]) / 2`` with probability given by ``cdf``'s steps; it depends on
    ``size`` only, so it is computed once (by enumerating the ``size ** size`` equally likely
    index sequences) and medians are then drawn from it directly.
    """
    ranks = np.indices((size,) * size).reshape(size, -1).T
    ranks.sort(axis=1)
    low = ranks[:, (size - 1) // 2]
    high = ranks[:, size // 2]
    pairs, counts = np.unique(low * size + high, return_counts=True)
    return pairs // size, pairs % size, np.cumsum(counts) / counts.sum()


def bootstrap_medians(samples: Sequence[np.ndarray], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``resamples`` resamples of each sample set: an array (len(samples), resamples).

    A set with no samples gives a row of NaN; sets of equal size are resampled together.
    For sizes up to :data:`EXACT_RANKS_UP_TO` the medians are drawn from
    :func:`median_rank_distribution` (the same distribution as resampling, faster).
    """
    out = np.full((len(samples), resamples), np.nan)
    by_size: dict[int, list[int]] = {}
    for index, values in enumerate(samples):
        by_size.setdefault(len(values), []).append(index)
    for size in sorted(by_size):
        rows = by_size[size]
        if size == 0:
            continue
        data = np.sort(np.asarray([np.asarray(samples[i], dtype=float) for i in rows]), axis=1)
        if size == 1:
            out[rows] = data[:, :1]
            continue
        exact = size <= EXACT_RANKS_UP_TO
        if exact:
            low, high, cdf = median_rank_distribution(size)
        step = max(1, _CHUNK_VALUES // (resamples * (1 if exact else size)))
        for start in range(0, len(rows), step):
            block = data[start : start + step]
            line = np.arange(len(block))[:, None]
            if exact:
                drawn = np.searchsorted(cdf, rng.random((len(block), resamples)), side="right").clip(max=len(cdf) - 1)
                medians = (block[line, low[drawn]] + block[line, high[drawn]]) / 2
            else:
                picks = rng.integers(0, size, size=(len(block), resamples, size))
                medians = np.median(block[line[:, :, None], picks], axis=2)
            out[rows[start : start + step]] = medians
    return out


def _median_distribution(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact bootstrap distribution of the median of each row of ``data`` (rows sorted, one size):
    ``(values, probabilities)``, each (rows, support)."""
    low, high, cdf = median_rank_distribution(data.shape[1])
    probabilities = np.diff(cdf, prepend=0.0)
    return (data[:, low] + data[:, high]) / 2, np.broadcast_to(probabilities, (len(data), len(probabilities)))


def _exact_ratio_quantiles(num: np.ndarray, den: np.ndarray, quantiles: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of median(num*) / median(den*) over every pair of resampled medians, exactly."""
    num_values, num_p = _median_distribution(num)
    den_values, den_p = _median_distribution(den)
    ratios = (num_values[:, :, None] / den_values[:, None, :]).reshape(len(num), -1)
    weights = (num_p[:, :, None] * den_p[:, None, :]).reshape(len(num), -1)
    order = np.argsort(ratios, axis=1, kind="stable")
    ratios = np.take_along_axis(ratios, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
    out = []
    for q in quantiles:
        # the smallest ratio whose cumulative probability reaches q (a little slack for rounding)
        index = (cumulative < q - 1e-12).sum(axis=1).clip(max=ratios.shape[1] - 1)
        out.append(ratios[np.arange(len(ratios)), index])
    return out[0], out[1]


def ratio_of_medians_ci(
    numerators: Sequence[np.ndarray],
    denominators: Sequence[np.ndarray],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap interval of ``median(num) / median(den)`` for each pair of sample sets.

    Returns ``(low, high)`` arrays; NaN where either side has no samples. When both sides
    hold at most :data:`EXACT_RANKS_UP_TO` samples (parsweep's usual 3 to 7 repetitions) the
    bootstrap distribution is enumerated exactly (every pair of resampled medians with its
    probability: the limit of infinitely many resamples, no sampling error); otherwise
    ``resamples`` resamples are drawn per side with a generator seeded by ``seed``.
    """
    tail = (1 - confidence) / 2
    count = len(numerators)
    low = np.full(count, np.nan)
    high = np.full(count, np.nan)
    groups: dict[tuple[int, int], list[int]] = {}
    for index, (num, den) in enumerate(zip(numerators, denominators)):
        if len(num) and len(den):
            groups.setdefault((len(num), len(den)), []).append(index)
    rng = np.random.default_rng(seed)
    for (num_size, den_size), rows in sorted(groups.items()):
        num = np.sort(np.asarray([np.asarray(numerators[i], dtype=float) for i in rows]), axis=1)
        den = np.sort(np.asarray([np.asarray(denominators[i], dtype=float) for i in rows]), axis=1)
        if max(num_size, den_size) <= EXACT_RANKS_UP_TO:
            step = max(1, _CHUNK_VALUES // (len(median_rank_distribution(num_size)[0]) * len(median_rank_distribution(den_size)[0])))
            for start in range(0, len(rows), step):
                part = slice(start, start + step)
                lo, hi = _exact_ratio_quantiles(num[part], den[part], (tail, 1 - tail))
                low[rows[part]], high[rows[part]] = lo, hi
            continue
        step = max(1, _CHUNK_VALUES // (resamples * max(num_size, den_size)))
        for start in range(0, len(rows), step):
            part = slice(start, start + step)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = bootstrap_medians(num[part], resamples, rng) / bootstrap_medians(den[part], resamples, rng)
            low[rows[part]], high[rows[part]] = np.percentile(ratios, [tail * 100, (1 - tail) * 100], axis=1)
    return low, high
