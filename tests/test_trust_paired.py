"""Known answers for paired speedups: synthetic samples on a machine whose speed drifts.

The drift model is this VM's: the CPU's speed moves by +-20% in phases lasting seconds, and both
trials of an interleaved round see the same phase. A paired estimate must be unbiased (A/A: 1.00;
an exact 2x: 2.00) and much narrower than the unpaired one; the analysis must use it wherever the
runs carry their rounds, and say which method each row used. No timing of this machine is read.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from test_analysis_store import StoreBuilder

from analysis.data.load import load_samples, load_sweep
from analysis.model.stats import ratio_of_medians_ci
from analysis.report import build_report
from runner.trial.stats import f_quantile, pair_by_round, paired_ratio, t_quantile


def drift(rounds: int, seed: int, amplitude: float = 0.2) -> np.ndarray:
    """The machine's slowness per round: slow and fast phases lasting several rounds, +-``amplitude``."""
    rng = np.random.default_rng(seed)
    phases = np.repeat(rng.uniform(1 - amplitude, 1 + amplitude, rounds // 4 + 1), 4)[:rounds]
    return phases * (1 + rng.normal(0, 0.02, rounds))


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 30, 200])
def test_t_quantile_matches_scipy(df: int) -> None:
    assert t_quantile(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=2e-3)


@pytest.mark.parametrize("dfn", [1, 2, 3, 5, 9, 20, 40])
@pytest.mark.parametrize("dfd", [5, 10, 30, 70, 200])
def test_f_quantile_matches_scipy(dfn: int, dfd: int) -> None:
    """Paulson's approximation (the pooled offsets' test of a row): within 2% from 2 numerator
    degrees of freedom on, 2.5% at 1."""
    for p in (0.9, 0.95):
        assert f_quantile(p, dfn, dfd) == pytest.approx(stats.f.ppf(p, dfn, dfd), rel=0.02 if dfn >= 2 else 0.025)


def test_a_slow_phase_that_hits_both_sides_cancels() -> None:
    """A/A under drift: the paired interval holds 1.00 and is a few percent wide; unpaired is not."""
    slowness = drift(20, seed=1)
    rng = np.random.default_rng(2)
    base = 0.3 * slowness * (1 + rng.normal(0, 0.01, 20))
    same = 0.3 * slowness * (1 + rng.normal(0, 0.01, 20))
    found = paired_ratio(list(base), list(same))
    assert found is not None and found.pairs == 20
    assert found.low < 1 < found.high and found.rel_half_width < 0.01
    low, high = ratio_of_medians_ci([base], [same])
    assert math.sqrt(high[0] / low[0]) - 1 > 5 * found.rel_half_width  # the drift stays in unpaired samples


def test_an_exact_ratio_is_found_under_drift() -> None:
    """sleep at 2 workers is exactly 2x: the paired estimate finds 2.00 whatever the phases do."""
    slowness = drift(12, seed=3, amplitude=0.25)
    serial = list(0.2 * slowness)
    two = list(0.1 * slowness)
    found = paired_ratio(serial, two)
    assert found is not None and found.ratio == pytest.approx(2.0, rel=1e-9) and found.low == pytest.approx(found.high)


def test_paired_is_unbiased_over_many_a_a_experiments() -> None:
    """Coverage: over 400 A/A experiments of 10 drifting rounds, the 95% interval holds 1 about 95% of
    the time and the estimates centre on 1."""
    rng = np.random.default_rng(7)
    hits, logs = 0, []
    for seed in range(400):
        slowness = drift(10, seed=seed + 100)
        a = slowness * (1 + rng.normal(0, 0.03, 10))
        b = slowness * (1 + rng.normal(0, 0.03, 10))
        found = paired_ratio(list(a), list(b))
        assert found is not None
        hits += found.low <= 1 <= found.high
        logs.append(math.log(found.ratio))
    assert 0.92 <= hits / 400 <= 0.98
    assert abs(float(np.mean(logs))) < 0.005


def test_pairs_are_taken_by_round_and_retries_have_no_partner() -> None:
    base = [(0, 1.0), (1, 1.2), (2, 0.9)]
    other = [(0, 0.5), (2, 0.45), (7, 0.8)]  # round 1 measured again in retry round 7: no partner there
    assert pair_by_round(base, other) == ([1.0, 0.9], [0.5, 0.45])
    assert paired_ratio([1.0], [0.5]) is None  # one pair says nothing of the spread


def _sweep(builder: StoreBuilder, *, rounds: bool) -> str:
    sweep = builder.sweep()
    slowness = drift(12, seed=11, amplitude=0.25)
    rng = np.random.default_rng(12)
    group = "g" if rounds else None
    builder.trial(sweep, "serial", 1, 10**7, list(0.3 * slowness * (1 + rng.normal(0, 0.01, 12))), usable=2, trust="spread", group=group)
    builder.trial(sweep, "threading", 1, 10**7, list(0.3 * slowness * (1 + rng.normal(0, 0.01, 12))), usable=2, trust="spread",
                  group=group, metrics={"cpu_utilization": 1.0})
    builder.trial(sweep, "process_pool", 2, 10**7, list(0.15 * slowness * (1 + rng.normal(0, 0.01, 12))), usable=2, trust="spread",
                  group=group)
    return sweep


def test_the_report_pairs_rows_measured_in_rounds(tmp_path: Path) -> None:
    """Same samples, with and without their rounds: paired rows are narrow, unbiased and trusted,
    and say so (ci_method, the trust cell); unpaired ones stay wide and untrusted."""
    builder = StoreBuilder(tmp_path)
    paired_sweep, plain_sweep = _sweep(builder, rounds=True), _sweep(builder, rounds=False)
    tables = {}
    for name, sweep in (("paired", paired_sweep), ("plain", plain_sweep)):
        trials = load_sweep(builder.uri, sweep)
        tables[name] = build_report(trials, load_samples(builder.uri, trials)).table.set_index("backend")
    paired, plain = tables["paired"], tables["plain"]
    assert paired.loc["threading", "ci_method"] == "paired" and paired.loc["threading", "pairs"] == 12
    assert plain.loc["threading", "ci_method"] == "unpaired" and plain.loc["threading", "pairs"] == 0
    assert paired.loc["threading", "speedup_ci_low"] < 1 < paired.loc["threading", "speedup_ci_high"]
    assert paired.loc["threading", "speedup_ci_high"] / paired.loc["threading", "speedup_ci_low"] < 1.04
    assert paired.loc["threading", "conclusion"] == "no difference"
    assert paired.loc["process_pool", "speedup"] == pytest.approx(2.0, rel=0.02)
    for backend in ("serial", "threading", "process_pool"):
        assert paired.loc[backend, "trust"] == "ok: spread cancels in pairs"
        assert "spread" in plain.loc[backend, "trust"] and not plain.loc[backend, "trust"].startswith("ok")
    assert plain.loc["threading", "speedup_ci_high"] / plain.loc["threading", "speedup_ci_low"] > 1.1


def test_a_row_is_paired_only_when_every_trial_has_its_partner(tmp_path: Path) -> None:
    """--all over two sweeps, one measured in rounds and one not: that row is not a paired figure."""
    builder = StoreBuilder(tmp_path)
    _sweep(builder, rounds=True)
    _sweep(builder, rounds=False)
    from analysis.data.load import load_experiment

    trials = load_experiment(builder.uri)
    table = build_report(trials, load_samples(builder.uri, trials)).table.set_index("backend")
    assert (table.loc[["threading", "process_pool"], "ci_method"] == "unpaired").all()
