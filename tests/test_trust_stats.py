"""The trial statistics (median, mean, std, IQR, the median's 95% CI) against values
computed here by other means, and the figures a TrialResult logs from them."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from runner.trial.results import TrialResult
from runner.trial.stats import median_ci_ranks, summarize

pytestmark = pytest.mark.timeout(60)


def brute_force_ci_ranks(count: int, confidence: float = 0.95) -> tuple[int, int, float]:
    """The widest-j symmetric order-statistic interval with coverage >= confidence, found by
    trying every j and computing P(j <= Binomial(count, 1/2) <= count - j) directly."""
    best = (1, count, sum(math.comb(count, i) for i in range(1, count)) / 2**count)
    for j in range(1, count // 2 + 1):
        coverage = sum(math.comb(count, i) for i in range(j, count - j + 1)) / 2**count
        if coverage >= confidence:
            best = (j, count + 1 - j, coverage)
    return best


@pytest.mark.parametrize("count", [6, 7, 10, 20, 31, 50, 100])
def test_median_ci_ranks_match_the_binomial(count: int) -> None:
    assert median_ci_ranks(count) == pytest.approx(brute_force_ci_ranks(count))
    assert median_ci_ranks(count)[2] >= 0.95


def test_median_ci_ranks_match_the_published_table() -> None:
    # The usual table of distribution-free 95% CIs for the median (e.g. Conover).
    assert median_ci_ranks(6)[:2] == (1, 6)
    assert median_ci_ranks(10)[:2] == (2, 9)
    assert median_ci_ranks(20)[:2] == (6, 15)
    assert median_ci_ranks(50)[:2] == (18, 33)


@pytest.mark.parametrize("count", [1, 2, 5])
def test_too_few_values_give_min_max_and_say_how_confident_that_is(count: int) -> None:
    low, high, level = median_ci_ranks(count)
    assert (low, high) == (1, count)
    assert level == pytest.approx(1 - 2 / 2**count if count > 1 else 0.0)
    assert level < 0.95


def test_summary_matches_values_computed_another_way() -> None:
    rng = random.Random(4)
    values = [0.5 + rng.expovariate(20) for _ in range(25)]
    s = summarize(values)
    ordered = sorted(values)
    mean = sum(values) / len(values)
    assert s.count == 25
    assert s.median == ordered[12]
    assert s.mean == pytest.approx(mean)
    assert s.std == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in values) / 24))
    assert s.std == pytest.approx(np.std(values, ddof=1))
    q1, q3 = np.percentile(values, [25, 75])  # linear interpolation, NumPy's default
    assert s.q1 == pytest.approx(q1) and s.q3 == pytest.approx(q3)
    assert s.iqr == pytest.approx(q3 - q1)
    j, k, level = brute_force_ci_ranks(25)
    assert (s.ci_low, s.ci_high) == (ordered[j - 1], ordered[k - 1])
    assert s.ci_level == pytest.approx(level)
    assert s.ci_low <= s.median <= s.ci_high
    assert s.rel_ci_half_width == pytest.approx((ordered[k - 1] - ordered[j - 1]) / 2 / ordered[12])


def test_one_value() -> None:
    s = summarize([0.25])
    assert (s.median, s.mean, s.std, s.iqr, s.ci_low, s.ci_high) == (0.25, 0.25, 0.0, 0.0, 0.25, 0.25)


def test_trial_metrics_carry_every_figure_by_name() -> None:
    walls = [1.0, 1.2, 0.9, 1.1, 1.05, 0.95, 1.3]
    result = TrialResult(
        wall_times_s=walls,
        cpu_times_s=[2.0 * w for w in walls],
        dispatch_s=[0.01] * 7,
        busy_s=[[0.9, 0.6]] * 6 + [[1.0, 0.5]],
        correct=True,
        startup_s=0.02,
    )
    m = result.metrics()
    ordered = sorted(walls)
    # The spec's names keep their meaning ...
    assert m["wall_time_s"] == ordered[3]
    assert m["wall_time_min_s"] == 0.9
    assert m["wall_time_std_s"] == pytest.approx(np.std(walls, ddof=1))
    assert m["cpu_time_s"] == pytest.approx(2.0 * ordered[3])
    assert m["cpu_utilization"] == pytest.approx(2.0)
    assert m["correct"] == 1.0 and m["startup_s"] == 0.02 and m["repeats_done"] == 7.0
    # ... and the new ones sit beside them.
    assert m["wall_time_max_s"] == 1.3
    assert m["wall_time_mean_s"] == pytest.approx(sum(walls) / 7)
    q1, q3 = np.percentile(walls, [25, 75])
    assert m["wall_time_iqr_s"] == pytest.approx(q3 - q1)
    assert (m["wall_time_ci_low_s"], m["wall_time_ci_high_s"]) == (ordered[0], ordered[6])  # 7 values: ranks 1 and 7
    assert m["wall_time_ci_level"] == pytest.approx(1 - 2 / 2**7)
    # Busy time per worker rank (median over repetitions) and the imbalance max / mean.
    assert result.series()["worker_busy_s"] == [0.9, 0.6]
    assert m["worker_busy_max_s"] == 0.9
    assert m["worker_busy_mean_s"] == pytest.approx(0.75)
    assert m["load_imbalance"] == pytest.approx(0.9 / 0.75)
    assert result.series()["rep_wall_time_s"] == walls
