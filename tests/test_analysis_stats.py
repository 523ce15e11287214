"""Known answers for the statistics the report, ``--compare`` and ``parsweep-reproduce`` share:
the power of the Mann-Whitney test, the repetitions a re-run needs, and verdicts that never say
more than the data allow."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from analysis.model.stats import (
    CANNOT_TELL,
    FASTER,
    NO_DIFFERENCE,
    SLOWER,
    can_reach_alpha,
    difference,
    differences,
    mann_whitney_p,
    ratio_of_medians_ci,
    repeats_for_power,
    smallest_p_value,
)


@pytest.mark.parametrize("n1, n2", [(1, 1), (2, 2), (3, 3), (3, 4), (4, 4), (5, 5), (2, 8), (3, 7)])
def test_smallest_p_value_is_what_the_exact_test_can_reach(n1: int, n2: int) -> None:
    """2 / C(n1+n2, n1), and scipy's exact test at its most extreme ordering agrees."""
    expected = min(1.0, 2 / math.comb(n1 + n2, n1))
    assert smallest_p_value(n1, n2) == pytest.approx(expected)
    lowest = scipy_stats.mannwhitneyu(np.arange(n1), np.arange(n1, n1 + n2), alternative="two-sided", method="exact").pvalue
    assert lowest == pytest.approx(expected)


def test_known_bounds() -> None:
    """FACTS.md: 3 against 3 cannot go below 0.10; 5 against 5 not below 0.008."""
    assert smallest_p_value(3, 3) == pytest.approx(0.1)
    assert smallest_p_value(5, 5) == pytest.approx(0.0079, abs=1e-4)
    assert not can_reach_alpha(3, 3) and not can_reach_alpha(3, 4) and can_reach_alpha(4, 4) and can_reach_alpha(3, 5)
    assert smallest_p_value(0, 5) == 1.0


@pytest.mark.parametrize("original, needed", [(1, 40), (2, 8), (3, 5), (4, 4), (5, 5), (7, 7), (30, 30), (60, 50)])
def test_repeats_for_power(original: int, needed: int) -> None:
    """The smallest count >= the original's that lets the test reach p < 0.05, at most 50."""
    assert repeats_for_power(original) == needed
    if needed < 50:
        assert can_reach_alpha(original, needed)
        assert needed == original or not can_reach_alpha(original, needed - 1)


def test_mann_whitney_is_scipys() -> None:
    rng = np.random.default_rng(5)
    for n1, n2, shift in [(5, 5, 0.0), (5, 5, 3.0), (3, 7, 1.0), (12, 15, 0.5)]:
        a, b = rng.normal(0, 1, n1), rng.normal(shift, 1, n2)
        assert mann_whitney_p(a, b) == scipy_stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
    assert mann_whitney_p([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == 1.0


BASE = [1.00, 1.02, 0.98, 1.01, 0.99]


def test_a_2x_change_reads_slower_and_never_within_noise() -> None:
    found = difference(BASE, [2 * v for v in BASE])
    assert found.verdict == SLOWER and found.ratio == pytest.approx(2.0)
    assert found.p_value < 0.05 and found.ci_low > 1.9
    assert found.reason.startswith("2.00x slower (p=")
    faster = difference(BASE, [v / 2 for v in BASE])
    assert faster.verdict == FASTER and faster.reason.startswith("2.00x faster")
    # with too few repetitions a 2x change cannot be claimed either way, and is never "no difference"
    for n in (1, 2, 3):
        few = difference(BASE[:n], [2 * v for v in BASE[:n]])
        assert few.verdict == CANNOT_TELL and few.reason.startswith(f"cannot tell: {n} vs {n} repetitions are too few")


def test_no_difference_needs_the_interval_inside_the_band() -> None:
    same = difference(BASE, list(BASE))
    assert same.verdict == NO_DIFFERENCE and same.ratio == pytest.approx(1.0)
    # a wide spread: the test finds nothing, but the interval of the ratio is far wider than 1 +- 5%
    noisy = difference([1.0, 0.5, 1.5, 0.7, 1.3], [1.0, 0.6, 1.6, 0.5, 1.4])
    assert noisy.p_value > 0.05 and noisy.verdict == CANNOT_TELL and noisy.reason.startswith("cannot tell: too noisy")


def test_no_difference_is_one_band_everywhere_and_within_noise_is_reproductions_own() -> None:
    """"No difference" means 1 +- 5% in the report's speedups and in --compare alike (one
    definition); a 10% spread that the test cannot see is "cannot tell" there, while
    parsweep-reproduce's "within noise" (its own word, its own band 0.8-1.25) accepts it."""
    from analysis.claims.reproduction import noise_verdict
    from analysis.model.metrics import EQUIVALENCE
    from analysis.model.stats import EQUIVALENCE as STATS_EQUIVALENCE
    from analysis.model.stats import WITHIN_NOISE

    assert EQUIVALENCE is STATS_EQUIVALENCE and pytest.approx((1 / 1.05, 1.05)) == EQUIVALENCE
    spread = [1.0, 0.9, 1.1, 0.95, 1.05, 0.92, 1.08, 0.97, 1.03, 1.0]
    shifted = [v * 1.02 for v in reversed(spread)]
    found = difference(spread, shifted)
    assert found.p_value > 0.05 and not (EQUIVALENCE[0] <= found.ci_low and found.ci_high <= EQUIVALENCE[1])
    assert found.verdict == CANNOT_TELL and "no difference needs it within 0.952–1.05" in found.reason
    assert WITHIN_NOISE[0] <= found.ci_low and found.ci_high <= WITHIN_NOISE[1]
    within, reason = noise_verdict(spread, shifted)
    assert within is True and reason.startswith("yes (")


def test_differences_are_vectorised_and_seeded() -> None:
    before = [BASE, BASE, BASE[:2]]
    after = [[2 * v for v in BASE], list(BASE), [2 * v for v in BASE[:2]]]
    frame = differences(before, after, seed=3)
    assert list(frame["verdict"]) == [SLOWER, NO_DIFFERENCE, CANNOT_TELL]
    assert frame.equals(differences(before, after, seed=3))


def test_intervals_need_two_values_a_side_and_ignore_order() -> None:
    low, high = ratio_of_medians_ci([[1.0], BASE, BASE], [BASE, [0.5], list(reversed(BASE))])
    assert math.isnan(low[0]) and math.isnan(high[1])
    again_low, again_high = ratio_of_medians_ci([BASE], [BASE])
    assert (again_low[0], again_high[0]) == (low[2], high[2])


def test_interval_covers_like_a_bootstrap_should() -> None:
    """An exhaustive check on a small case: the percentile ends sit where the exact bootstrap distribution puts them."""
    serial, own = [1.0, 1.1, 0.9, 1.05, 0.95], [0.5, 0.55, 0.45, 0.52, 0.48]

    def medians(values: list[float]) -> np.ndarray:
        return np.median(np.array(list(itertools.product(values, repeat=len(values)))), axis=1)

    ratios = np.sort(np.divide.outer(medians(serial), medians(own)).ravel())
    low, high = ratio_of_medians_ci([serial], [own])
    assert np.quantile(ratios, 0.015) <= low[0] <= np.quantile(ratios, 0.035)
    assert np.quantile(ratios, 0.965) <= high[0] <= np.quantile(ratios, 0.985)
