"""Known-answer tests: timings chosen here, every figure of the report recomputed here independently."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.load import load_samples, load_sweep
from analysis.metrics import finished
from analysis.report import CSV_COLUMNS, build_report
from test_analysis_store import StoreBuilder, reps_around

# (host, n, backend, workers) -> median wall time (s). Alpha's multiprocessing at n=1e4 follows
# Amdahl's law exactly with f = 0.25; beta has no serial trial at n=1e4.
WALLS: dict[tuple[str, int, str, int], float] = {
    ("alpha", 1000, "serial", 1): 1.0,
    ("alpha", 1000, "threading", 1): 1.05,
    ("alpha", 1000, "threading", 2): 1.10,
    ("alpha", 1000, "multiprocessing", 1): 1.2,
    ("alpha", 1000, "multiprocessing", 2): 1.3,
    ("alpha", 1000, "multiprocessing", 4): 1.1,
    ("alpha", 10000, "serial", 1): 10.0,
    ("alpha", 10000, "threading", 1): 10.5,
    ("alpha", 10000, "threading", 2): 11.0,
    ("alpha", 10000, "multiprocessing", 1): 11.0,
    ("alpha", 10000, "multiprocessing", 2): 10.0 * (0.25 + 0.75 / 2),
    ("alpha", 10000, "multiprocessing", 4): 10.0 * (0.25 + 0.75 / 4),
    ("alpha", 100000, "serial", 1): 100.0,
    ("alpha", 100000, "threading", 1): 105.0,
    ("alpha", 100000, "threading", 2): 110.0,
    ("alpha", 100000, "multiprocessing", 1): 110.0,
    ("alpha", 100000, "multiprocessing", 2): 55.0,
    ("alpha", 100000, "multiprocessing", 4): 40.0,
    ("beta", 1000, "serial", 1): 2.0,
    ("beta", 1000, "multiprocessing", 2): 1.0,
    ("beta", 10000, "multiprocessing", 2): 5.0,
}
CPU = {"alpha": "Alpha CPU 1", "beta": "Beta CPU 2"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoreBuilder, str]:
    builder = StoreBuilder(tmp_path_factory.mktemp("known"))
    sweep = builder.sweep()
    for (host, n, backend, workers), wall in WALLS.items():
        builder.trial(sweep, backend, workers, n, reps_around(wall), host=host, cpu_model=CPU[host])
    # left out: a crashed trial, and a wrong sum (timed, but FAILED)
    builder.trial(sweep, "multiprocessing", 8, 1000, None, status="FAILED", error="worker crashed")
    builder.trial(sweep, "threading", 4, 1000, reps_around(0.01), status="FAILED", error="wrong sum")
    builder.finish_sweep(sweep, "FAILED")
    return builder, sweep


@pytest.fixture(scope="module")
def report(store: Any) -> Any:
    builder, sweep = store
    trials = load_sweep(builder.uri, sweep)
    samples = load_samples(builder.uri, finished(trials)["run_id"])
    return build_report(trials, samples)


def expected_row(host: str, n: int, backend: str, workers: int) -> dict[str, Any]:
    wall = WALLS[(host, n, backend, workers)]
    serial = WALLS.get((host, n, "serial", 1))
    one = WALLS.get((host, n, backend, 1))
    speedup = serial / wall if serial else math.nan
    p = workers
    return {
        "wall_time_s": wall,
        "speedup": speedup,
        "self_speedup": one / wall if one else math.nan,
        "efficiency": speedup / p,
        "karp_flatt": (1 / speedup - 1 / p) / (1 - 1 / p) if p > 1 else math.nan,
    }


def amdahl_expected(host: str, n: int, backend: str) -> tuple[float, int]:
    """Serial fraction by least squares on 1/S = f + (1 - f)/p (numpy's solver), and point count."""
    points = [(w, WALLS[(host, n, "serial", 1)] / t) for (h, m, b, w), t in WALLS.items() if (h, m, b) == (host, n, backend) and w > 1]
    p = np.array([w for w, _ in points], dtype=float)
    s = np.array([v for _, v in points])
    solution, *_ = np.linalg.lstsq((1 - 1 / p)[:, None], 1 / s - 1 / p, rcond=None)
    return float(solution[0]), len(points)


def same(actual: Any, expected: float) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return actual is None or pd.isna(actual)
    return actual == pytest.approx(expected, rel=1e-9)


def test_every_row_and_column_matches_the_known_answer(report: Any) -> None:
    table = report.table
    assert len(table) == len(WALLS)
    for row in table.itertuples(index=False):
        key = (row.host, row.n, row.backend, row.workers)
        want = expected_row(*key)
        for column, value in want.items():
            assert same(getattr(row, column), value), f"{key} {column}: {getattr(row, column)} != {value}"
        assert row.trials == 1
        assert row.host_cpu_model == CPU[row.host]
        wall = WALLS[key]
        assert row.wall_time_std_s == pytest.approx(np.std(reps_around(wall), ddof=1))
        if row.backend != "serial" and not math.isnan(want["speedup"]):
            fraction, _ = amdahl_expected(row.host, row.n, row.backend)
            assert row.amdahl_serial_fraction == pytest.approx(fraction)
            assert row.amdahl_ceiling == pytest.approx(1 / fraction) if fraction > 0 else pd.isna(row.amdahl_ceiling)


def test_order_is_host_workload_n_then_serial_first(report: Any) -> None:
    table = report.table
    keys = list(zip(table["host"], table["n"]))
    assert keys == sorted(keys)
    firsts = table.groupby(["host", "n"], sort=False)["backend"].first()
    assert set(firsts[firsts.index.get_level_values(0) == "alpha"]) == {"serial"}


def test_hosts_are_never_mixed(report: Any) -> None:
    table = report.table.set_index(["host", "n", "backend", "workers"])
    # beta's multiprocessing is 2x beta's serial, though alpha's serial at n=1e3 is 1.0 s
    assert table.loc[("beta", 1000, "multiprocessing", 2), "speedup"] == pytest.approx(2.0)
    assert table.loc[("alpha", 1000, "multiprocessing", 2), "speedup"] == pytest.approx(1 / 1.3)
    assert set(report.hosts["host"]) == {"alpha", "beta"}
    assert report.hosts.set_index("host").loc["beta", "host_cpu_model"] == "Beta CPU 2"
    assert any("2 hosts" in note for note in report.notes)


def test_missing_baseline_is_blank_with_a_note(report: Any) -> None:
    row = report.table.set_index(["host", "n", "backend", "workers"]).loc[("beta", 10000, "multiprocessing", 2)]
    for column in ("speedup", "efficiency", "karp_flatt", "speedup_ci_low", "speedup_ci_high"):
        assert pd.isna(row[column]), column
    assert row["wall_time_s"] == pytest.approx(5.0)
    assert any("no serial baseline for host beta, workload sum_range, n=1e4" in note for note in report.notes)


def test_failed_trials_are_left_out_and_counted(report: Any) -> None:
    assert report.counts == {"total": len(WALLS) + 2, "finished": len(WALLS), "failed": 2, "unfinished": 0, "incomplete": 0}
    assert "2 FAILED trials left out" in report.notes
    table = report.table
    assert table[(table["workers"] == 8) | ((table["backend"] == "threading") & (table["workers"] == 4))].empty


def test_amdahl_fit(report: Any) -> None:
    fits = report.amdahl.set_index(["host", "n", "backend"])
    exact = fits.loc[("alpha", 10000, "multiprocessing")]
    assert exact["serial_fraction"] == pytest.approx(0.25)
    assert exact["ceiling"] == pytest.approx(4.0)
    assert exact["rmse"] == pytest.approx(0.0, abs=1e-12)
    assert exact["points"] == 2 and exact["max_workers"] == 4
    for (host, n, backend), fit in fits.iterrows():
        if (host, n) == ("beta", 10000):
            assert pd.isna(fit["serial_fraction"]) and fit["points"] == 0
            continue
        fraction, points = amdahl_expected(host, n, backend)
        assert fit["serial_fraction"] == pytest.approx(fraction), (host, n, backend)
        assert fit["points"] == points
        p = np.array([w for (h, m, b, w) in WALLS if (h, m, b) == (host, n, backend) and w > 1], dtype=float)
        s = np.array([WALLS[(host, n, "serial", 1)] / WALLS[(host, n, backend, int(w))] for w in p])
        predicted = 1 / (fraction + (1 - fraction) / p)
        assert fit["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - s) ** 2)))
    # one point: the fit is that point's Karp-Flatt value
    table = report.table.set_index(["host", "n", "backend", "workers"])
    assert fits.loc[("alpha", 1000, "threading"), "serial_fraction"] == pytest.approx(table.loc[("alpha", 1000, "threading", 2), "karp_flatt"])
    assert "serial" not in set(report.amdahl["backend"])


def test_karp_flatt_by_hand(report: Any) -> None:
    table = report.table.set_index(["host", "n", "backend", "workers"])
    # S = 100 / 40 = 2.5 on 4 workers: (0.4 - 0.25) / 0.75 = 0.2
    assert table.loc[("alpha", 100000, "multiprocessing", 4), "karp_flatt"] == pytest.approx(0.2)
    assert table.loc[("alpha", 10000, "multiprocessing", 4), "karp_flatt"] == pytest.approx(0.25)
    assert report.table[report.table["workers"] == 1]["karp_flatt"].isna().all()


def test_crossover(report: Any) -> None:
    cross = report.crossover.set_index(["host", "backend"])
    mp = cross.loc[("alpha", "multiprocessing")]
    # n=1e3: best is 1/1.1 < 1; n=1e4: 4 workers, 1 / (0.25 + 0.75/4)
    assert mp["crossover_n"] == 10000 and mp["workers"] == 4
    assert mp["speedup"] == pytest.approx(1 / (0.25 + 0.75 / 4))
    assert (mp["n_min"], mp["n_max"], mp["n_tested"]) == (1000, 100000, 3)
    threading = cross.loc[("alpha", "threading")]
    assert pd.isna(threading["crossover_n"]) and pd.isna(threading["workers"])
    assert any(note.startswith("threading never beats serial on host alpha") for note in report.notes)
    beta = cross.loc[("beta", "multiprocessing")]
    assert beta["crossover_n"] == 1000 and beta["n_tested"] == 1  # n=1e4 has no baseline


def brute_force_interval(serial: list[float], own: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """Every resample of both sides (all equally likely), the ratio of medians, its quantiles."""
    def medians(values: list[float]) -> list[float]:
        return [float(np.median(pick)) for pick in itertools.product(values, repeat=len(values))]

    ratios = sorted(a / b for a in medians(serial) for b in medians(own))
    tail = (1 - confidence) / 2
    def quantile(q: float) -> float:
        return ratios[max(0, math.ceil(q * len(ratios) - 1e-9) - 1)]

    return quantile(tail), quantile(1 - tail)


def test_confidence_intervals_are_the_bootstrap_of_the_ratio_of_medians(report: Any) -> None:
    for row in report.table.itertuples(index=False):
        serial = WALLS.get((row.host, row.n, "serial", 1))
        if row.backend == "serial" or serial is None:
            assert pd.isna(row.speedup_ci_low) and pd.isna(row.speedup_ci_high)
            continue
        low, high = brute_force_interval(reps_around(serial), reps_around(WALLS[(row.host, row.n, row.backend, row.workers)]))
        assert row.speedup_ci_low == pytest.approx(low) and row.speedup_ci_high == pytest.approx(high)
        assert row.speedup_ci_low <= row.speedup <= row.speedup_ci_high


def test_sampled_intervals_are_seeded(tmp_path: Path) -> None:
    """Pooled samples (more than 7 a side) are resampled at random: same seed, same intervals."""
    builder = StoreBuilder(tmp_path)
    rng = np.random.default_rng(3)
    for _ in range(3):  # three sweeps of the same combinations, pooled by --all: 9 samples a side
        sweep = builder.sweep()
        builder.trial(sweep, "serial", 1, 1000, list(1.0 + rng.normal(0, 0.02, 3)))
        builder.trial(sweep, "process_pool", 2, 1000, list(0.55 + rng.normal(0, 0.02, 3)))
    from analysis.load import load_experiment

    trials = load_experiment(builder.uri)
    samples = load_samples(builder.uri, trials["run_id"])
    first = build_report(trials, samples, seed=7).table
    again = build_report(trials, samples, seed=7).table
    row = first[first["backend"] == "process_pool"].iloc[0]
    assert row["trials"] == 3
    assert row["speedup_ci_low"] < row["speedup"] < row["speedup_ci_high"]
    pd.testing.assert_frame_equal(first, again)
    # close to a large independent resampling of the same pooled samples
    pool = {b: samples.merge(trials[trials["backend"] == b][["run_id"]])["wall_time_s"].to_numpy() for b in ("serial", "process_pool")}
    check = np.random.default_rng(99)
    ratios = [
        np.median(check.choice(pool["serial"], 9)) / np.median(check.choice(pool["process_pool"], 9)) for _ in range(20000)
    ]
    assert row["speedup_ci_low"] == pytest.approx(np.percentile(ratios, 2.5), abs=0.01)
    assert row["speedup_ci_high"] == pytest.approx(np.percentile(ratios, 97.5), abs=0.01)
    # pooled: the median of the three trials' medians
    walls = trials[trials["backend"] == "process_pool"]["wall_time_s"]
    assert row["wall_time_s"] == pytest.approx(float(np.median(walls)))


def test_csv_columns_follow_the_spec(report: Any) -> None:
    frame = report.csv_frame()
    assert list(frame.columns[:9]) == ["host", "workload", "n", "backend", "workers", "wall_time_s", "speedup", "efficiency", "karp_flatt"]
    assert list(frame.columns) == CSV_COLUMNS


def test_nothing_finished_is_an_empty_report_not_a_crash(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "threading", 2, 1000, None, status="FAILED", error="boom")
    report = build_report(load_sweep(builder.uri, sweep), None)
    assert report.table.empty and report.amdahl.empty and report.crossover.empty
    assert report.counts["failed"] == 1
    from analysis.render import FORMATS, render

    for fmt in FORMATS:
        assert render(report, fmt)


def test_trials_that_split_the_range_differently_are_separate_rows(tmp_path: Path) -> None:
    """``chunks=16`` is another configuration than one chunk per worker: never pooled with it."""
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, reps_around(1.0))
    builder.trial(sweep, "process_pool", 1, 1000, reps_around(1.1))
    builder.trial(sweep, "process_pool", 2, 1000, reps_around(0.8))
    builder.trial(sweep, "process_pool", 1, 1000, reps_around(1.2), chunks=16)
    builder.trial(sweep, "process_pool", 2, 1000, reps_around(0.6), chunks=16)
    builder.finish_sweep(sweep, "FINISHED")
    report = build_report(load_sweep(builder.uri, sweep))
    rows = report.table.set_index(["backend", "chunks", "workers"])
    assert len(report.table) == 5
    assert rows.loc[("process_pool", "", 2), "wall_time_s"] == pytest.approx(0.8)
    assert rows.loc[("process_pool", "16", 2), "wall_time_s"] == pytest.approx(0.6)
    assert rows.loc[("process_pool", "16", 2), "speedup"] == pytest.approx(1.0 / 0.6)
    # self speedup stays within a configuration: chunks=16 at 2 workers against chunks=16 at 1
    assert rows.loc[("process_pool", "16", 2), "self_speedup"] == pytest.approx(1.2 / 0.6)
    assert rows.loc[("process_pool", "", 2), "self_speedup"] == pytest.approx(1.1 / 0.8)
    assert "chunks" in CSV_COLUMNS
    from analysis.render import render

    table = render(report, "markdown")
    assert "process_pool · chunks=16" in table and table.count("process_pool · chunks=16") >= 2


def test_repeats_auto_is_said_not_lost(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, reps_around(1.0))
    builder.trial(sweep, "threading", 2, 1000, reps_around(1.1), repeats="auto")
    builder.finish_sweep(sweep, "FINISHED")
    trials = load_sweep(builder.uri, sweep).set_index("backend")
    assert trials.loc["serial", "repeats"] == 3 and not trials.loc["serial", "repeats_auto"]
    assert pd.isna(trials.loc["threading", "repeats"]) and trials.loc["threading", "repeats_auto"]
    assert trials.loc["threading", "repeats_done"] == 3
