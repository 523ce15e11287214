"""Trust travels with every number: each trial's reasons (its tag, or derived for old runs), each
row's (its trials', a noisy baseline, too few repetitions), in every format, with the warnings of
the trials a row pools listed with their trial; untrusted points drawn hollow."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_analysis_store import StoreBuilder, reps_around

from analysis.data.load import load_samples, load_sweep
from analysis.model.metrics import finished
from analysis.model.trust import join_reasons, parse_reasons, trial_trust
from analysis.render.registry import render
from analysis.report import build_report

INTERFERED = "other processes used CPU during 2 of the 5 kept repetitions; stop them and run again"
SHORT_WARNING = "repetitions take 800.0 us (median), under 1 ms: too short to time well"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One sweep: a serial baseline measured with interference, an untrusted contender, clean ones."""
    builder = StoreBuilder(tmp_path_factory.mktemp("trust"))
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, reps_around(1.0), trust="interference", warnings=[INTERFERED])
    builder.trial(sweep, "process_pool", 2, 1000, reps_around(0.5))
    builder.trial(sweep, "threading", 8, 1000, reps_around(1.0), trust="spread; oversubscribed",
                  warnings=["unstable timings: std is 12% of the mean", "workers=8 is more than the 4 usable CPU cores"])
    builder.trial(sweep, "serial", 1, 10_000, reps_around(10.0))
    builder.trial(sweep, "process_pool", 2, 10_000, reps_around(5.0))
    builder.finish_sweep(sweep)
    trials = load_sweep(builder.uri, sweep)
    return build_report(trials, load_samples(builder.uri, finished(trials)))


def test_reasons_text() -> None:
    assert parse_reasons("ok") == [] and parse_reasons(None) == []
    assert parse_reasons("spread; oversubscribed") == ["spread", "oversubscribed"]
    # the runner's order, then the report's own reasons, then anything newer, each once
    assert join_reasons(["few repetitions", "oversubscribed", "spread", "spread", "noisy baseline"]) == \
        "spread; oversubscribed; noisy baseline; few repetitions"
    assert join_reasons(["a new reason", "interference"]) == "interference; a new reason"
    assert join_reasons([]) == "ok"


def test_row_trust_is_its_trials_plus_its_baseline(report: Any) -> None:
    rows = report.table.set_index(["n", "backend"])
    assert rows.loc[(1000, "serial"), "trust"] == "interference"
    # a speedup divided by a baseline measured under interference is itself noisy
    assert rows.loc[(1000, "process_pool"), "trust"] == "noisy baseline"
    assert rows.loc[(1000, "threading"), "trust"] == "spread; oversubscribed; noisy baseline"
    assert rows.loc[(10_000, "process_pool"), "trust"] == "ok"
    assert rows.loc[(1000, "serial"), "warnings"] == 1 and rows.loc[(1000, "threading"), "warnings"] == 2
    assert rows.loc[(10_000, "process_pool"), "warnings"] == 0
    assert report.untrusted == 3


def test_few_repetitions_when_the_interval_cannot_reach_95_percent(tmp_path: Path) -> None:
    """3 against 3 repetitions cannot reach p < 0.05 (the smallest is 0.10): flagged. 4 against 4 can."""
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, [1.0, 0.99, 1.02])
    builder.trial(sweep, "process_pool", 2, 1000, [0.5, 0.49, 0.51])
    builder.trial(sweep, "serial", 1, 2000, [2.0, 1.98, 2.02, 2.01])
    builder.trial(sweep, "process_pool", 2, 2000, [1.0, 0.99, 1.01, 1.02])
    trials = load_sweep(builder.uri, sweep)
    rows = build_report(trials, load_samples(builder.uri, trials)).table.set_index(["n", "backend"])
    assert rows.loc[(1000, "process_pool"), "trust"] == "few repetitions"
    assert rows.loc[(1000, "serial"), "trust"] == "ok"  # serial has no interval of its own
    assert rows.loc[(2000, "process_pool"), "trust"] == "ok"


def test_old_runs_get_what_can_be_derived(tmp_path: Path) -> None:
    """Runs without a parsweep.trust tag: spread from their samples (or std/mean), short repetitions,
    oversubscription and interference from what they logged; a tag, when there, is taken as is."""
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    ids = {
        "clean": builder.trial(sweep, "serial", 1, 1000, reps_around(1.0), old=True),
        "outlier": builder.trial(sweep, "threading", 2, 1000, [1.0, 1.01, 0.99, 1.0, 1.6], old=True),
        "short": builder.trial(sweep, "threading", 1, 1000, reps_around(0.0008), old=True),
        "over": builder.trial(sweep, "process_pool", 8, 1000, reps_around(0.3), old=True),
        "serial-over": builder.trial(sweep, "serial", 8, 1000, reps_around(1.0), old=True),  # serial ignores workers
        "busy": builder.trial(sweep, "process_pool", 2, 1000, reps_around(0.5), old=True, metrics={"other_cpu_cores": 0.6}),
        "calm": builder.trial(sweep, "process_pool", 3, 1000, reps_around(0.5), old=True, metrics={"other_cpu_cores": 0.2}),
        "tagged": builder.trial(sweep, "thread_pool", 2, 1000, [1.0, 1.01, 0.99, 1.0, 1.6], trust="throttled"),
    }
    trials = load_sweep(builder.uri, sweep)
    samples = load_samples(builder.uri, trials)
    trust = dict(zip(trials["run_id"], trial_trust(trials, samples)))
    assert {name: trust[run] for name, run in ids.items()} == {
        "clean": "ok", "outlier": "spread", "short": "short repetitions", "over": "oversubscribed", "serial-over": "ok",
        "busy": "interference", "calm": "ok", "tagged": "throttled",
    }
    # without samples, spread comes from the logged std and mean
    without = dict(zip(trials["run_id"], trial_trust(trials)))
    assert without[ids["outlier"]] == "spread" and without[ids["clean"]] == "ok"


def test_every_format_carries_trust_and_warnings(report: Any) -> None:
    table = render(report, "table")
    assert "trust" in table and "spread; oversubscribed; noisy baseline" in table
    assert "2.00x ?" in table  # the untrusted process_pool row's speedup, marked
    assert "? = the row is not trusted" in table and "3 of 5 rows are not trusted" in table
    markdown = render(report, "markdown")
    assert "| noisy baseline |" in markdown and "2.00x ?" in markdown
    csv = pd.read_csv(io.StringIO(render(report, "csv"))).set_index(["n", "backend"])
    assert csv.loc[(1000, "threading"), "trust"] == "spread; oversubscribed; noisy baseline"
    assert csv.loc[(1000, "threading"), "warnings"] == 2 and csv.loc[(10_000, "serial"), "trust"] == "ok"
    html = render(report, "html")
    assert '<tr class="untrusted">' in html and "noisy baseline" in html
    data = json.loads(render(report, "json"))
    rows = {(r["n"], r["backend"]): r for r in data["rows"]}
    assert rows[(1000, "process_pool")]["trust"] == "noisy baseline" and rows[(1000, "threading")]["warnings"] == 2


def test_the_warnings_section_names_each_trial(report: Any) -> None:
    warnings = report.warnings
    assert len(warnings) == 3
    serial = warnings[warnings["warning"] == INTERFERED].iloc[0]
    assert serial["run_name"] == "serial · 1 workers · n=1000" and len(serial["run_id"]) == 32
    line = f"serial · 1 workers · n=1000 (run {serial['run_id']}): {INTERFERED}"
    for fmt in ("markdown", "html"):
        assert line in render(report, fmt), fmt
    # the terminal says each kind once, with the trials that had it (issue 22)
    table = render(report, "table")
    what, _, advice = INTERFERED.rpartition("; ")
    assert "Warnings (3; each kind once, with the trials that had it)" in table
    assert f"{what} (1 trial): {advice}" in table and "serial · 1 workers · n=1000" in table
    listed = json.loads(render(report, "json"))["warnings"]
    assert {w["run_id"] for w in listed} == set(warnings["run_id"]) and INTERFERED in {w["warning"] for w in listed}
    from analysis.render.export_csv import warnings_csv

    written = pd.read_csv(io.StringIO(warnings_csv(report)))
    assert list(written.columns[:2]) == ["run_id", "run_name"] and len(written) == 3
    csv = pd.read_csv(io.StringIO(render(report, "csv")))
    assert serial["run_id"] in " ".join(csv["run_ids"])  # the table's rows join with warnings.csv by run id


def test_the_terminal_dims_untrusted_rows_and_colours_only_supported_speedups(report: Any) -> None:
    from rich.console import Console

    from analysis.render.terminal import print_report

    console = Console(record=True, width=250, force_terminal=True, color_system="standard")
    print_report(report, console)
    styled = console.export_text(styles=True, clear=False)
    plain = console.export_text()
    assert "\x1b[2m" in styled  # dim: the untrusted rows
    assert "\x1b[32m" in styled  # green: a speedup whose interval is above 1
    assert "Verdict" in plain and "Warnings (3; each kind once, with the trials that had it)" in plain


def test_plots_draw_untrusted_points_hollow(report: Any) -> None:
    from analysis.render.plots import UNTRUSTED_LEGEND, plot_speedup, plot_wall_time

    for draw in (plot_speedup, plot_wall_time):
        figure = draw(report, "alpha", "sum_range")
        legends = [text.get_text() for ax in figure.axes if ax.get_legend() for text in ax.get_legend().get_texts()]
        assert UNTRUSTED_LEGEND in legends, draw.__name__
        hollow = [line for ax in figure.axes for line in ax.get_lines()
                  if line.get_marker() == "o" and line.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))]
        assert hollow, draw.__name__


def test_a_panel_of_many_worker_counts_names_eight_of_them_first_and_last_included(tmp_path: Path) -> None:
    """41 worker counts (issue 21's per-trial sweep): the wall-time legend names 8 lines spread from
    the first to the last, the lines graded in colour by worker count, every line still drawn."""
    from matplotlib.colors import to_rgba

    from analysis.render.plots import LEGEND_MAX, plot_wall_time

    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, reps_around(1.0))
    for workers in range(1, 42):
        builder.trial(sweep, "threading", workers, 1000, reps_around(1.0 + workers / 100))
    builder.finish_sweep(sweep)
    trials = load_sweep(builder.uri, sweep)
    report = build_report(trials, load_samples(builder.uri, finished(trials)))
    figure = plot_wall_time(report, str(report.table["host"].iloc[0]), "sum_range")
    (panel,) = [ax for ax in figure.axes if ax.get_title() == "threading"]
    named = [text.get_text() for text in panel.get_legend().get_texts()]
    assert len(named) == LEGEND_MAX == 8
    assert named[0] == "1 worker" and named[-1] == "41 workers"
    lines = [line for line in panel.get_lines() if line.get_marker() == "o" and line.get_linestyle() != "None"]
    assert len(lines) == 41
    assert len({to_rgba(line.get_color()) for line in lines}) == 41  # graded: no colour repeats, unlike the default cycle of 10


def _wide_sweep(directory: Path, stops: dict[str, str | None], fixed: tuple[str, ...] = ()) -> Any:
    """A paired group whose speedups are all known less precisely than +-5% (12 rounds at 20% noise
    a side), every row flagged spread, each contender's repeats=auto stopped by ``stops[backend]``
    (None: no rule logged), the ``fixed`` backends at repeats=5."""
    import random

    rng = random.Random(7)
    noisy = [1.0 * rng.lognormvariate(0, 0.2) for _ in range(12)]
    builder = StoreBuilder(directory)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, noisy, repeats="auto", group="g", repeats_stop="contenders_stopped", trust="spread")
    for backend, stop in stops.items():
        reps = [wall * 0.9 * rng.lognormvariate(0, 0.2) for wall in noisy]
        builder.trial(sweep, backend, 2, 1000, reps, repeats="5" if backend in fixed else "auto", group="g",
                      repeats_stop=stop, trust="spread")
    builder.finish_sweep(sweep)
    trials = load_sweep(builder.uri, sweep)
    return build_report(trials, load_samples(builder.uri, finished(trials)))


def test_the_verdict_names_the_limit_that_left_a_speedup_wide(tmp_path: Path) -> None:
    """A speedup known less precisely than +-5%: the verdict's advice names what ended its
    repetitions (each run's parsweep.repeats_stop), not one limit for all: raise max_repeats where
    max_repeats stopped it, sweep_budget_s where the budget did; a fixed count gets repeats=auto;
    runs that logged no rule get what auto does. Rows untrusted for spread that were paired and
    measured with repeats=auto get the same, not "use repeats=auto"."""
    stops = {"threading": "max_repeats", "multiprocessing": "sweep_budget_s", "process_pool": None, "thread_pool": None}
    report = _wide_sweep(tmp_path / "mixed", stops, fixed=("process_pool",))
    assert dict(zip(report.table["backend"], report.table["repeats_stop"])) == {
        "serial": "contenders_stopped", "threading": "max_repeats", "multiprocessing": "sweep_budget_s",
        "process_pool": "repeats", "thread_pool": "",
    }
    (line,) = [line for line in report.verdict if "known less precisely" in line]
    assert line.strip().startswith("4 of 4 speedups are known less precisely than +- 5%: up to "), line
    assert line.rstrip().endswith(
        "(max_repeats stopped 1 of them, sweep_budget_s 1: raise those limits; 1 ran a fixed repeats count: repeats=auto runs "
        "rounds where they are needed; 1 logged no stop rule: repeats=auto runs rounds where they are needed, within sweep_budget_s)."
    ), line
    assert "  5 of 5 rows not trusted for spread: keep schedule=interleaved (pairs cancel the machine's drift) and use repeats=auto." \
        in report.verdict  # one of them ran a fixed count: the advice holds

    report = _wide_sweep(tmp_path / "auto", {"threading": "max_repeats", "multiprocessing": "max_repeats"})
    assert ("  3 of 3 rows not trusted for spread: paired with serial and measured with repeats=auto, their speedups stopped short "
            "of +- 5% (max_repeats stopped them: raise it).") in report.verdict, report.verdict
    report = _wide_sweep(tmp_path / "one", {"threading": "max_repeats"})
    assert ("  2 of 2 rows not trusted for spread: paired with serial and measured with repeats=auto, its speedup stopped short "
            "of +- 5% (max_repeats stopped it: raise it).") in report.verdict, report.verdict
    (line,) = [line for line in report.verdict if "known less precisely" in line]
    assert line.strip().startswith("1 of 1 speedups is known less precisely than +- 5%: about "), line  # one row: no "up to"

    # the commonest limit first, whatever the rows' order
    report = _wide_sweep(tmp_path / "ranked", {"threading": "sweep_budget_s", "multiprocessing": "max_repeats", "thread_pool": "max_repeats"})
    (line,) = [line for line in report.verdict if "known less precisely" in line]
    assert line.rstrip().endswith("(max_repeats stopped 2 of them, sweep_budget_s 1: raise those limits)."), line


def test_a_rescued_baseline_lends_no_noise_to_a_wider_paired_row(tmp_path: Path) -> None:
    """The serial row reads "ok: spread cancels in pairs" (a row divided by it is known within
    +-5%): a paired row still wider is not also a "noisy baseline" next to it; its own spread
    remains its reason. Without the rescue (no row precise), every row keeps "noisy baseline"."""
    import random

    rng = random.Random(3)
    drift = [rng.lognormvariate(0, 0.2) for _ in range(60)]  # the machine's: both sides of every pair
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, drift, repeats="auto", group="g", trust="spread")
    builder.trial(sweep, "threading", 1, 1000, [d * rng.lognormvariate(0, 0.01) for d in drift], repeats="auto", group="g",
                  trust="spread", repeats_stop="target_speedup_ci")
    builder.trial(sweep, "process_pool", 2, 1000, [d * 0.7 * rng.lognormvariate(0, 0.3) for d in drift], repeats="auto",
                  group="g", trust="spread", repeats_stop="max_repeats")
    builder.finish_sweep(sweep)
    trials = load_sweep(builder.uri, sweep)
    report = build_report(trials, load_samples(builder.uri, finished(trials)))
    trust = dict(zip(report.table["backend"], report.table["trust"]))
    assert trust == {"serial": "ok: spread cancels in pairs", "threading": "ok: spread cancels in pairs", "process_pool": "spread"}

    lone = _wide_sweep(tmp_path / "wide", {"threading": "max_repeats"})  # nothing precise: nothing rescued
    assert dict(zip(lone.table["backend"], lone.table["trust"])) == {"serial": "spread", "threading": "spread; noisy baseline"}


def test_a_precise_row_with_a_busy_baseline_is_not_told_it_stopped_short(tmp_path: Path) -> None:
    """A paired speedup known within +-5% whose baseline had interference is untrusted for a noisy
    baseline (pairs never cancel a busy neighbour); the fix must not say its speedup stopped short
    of +-5%, which the table beside it contradicts."""
    import random

    rng = random.Random(5)
    drift = [rng.lognormvariate(0, 0.2) for _ in range(40)]
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, drift, repeats="auto", group="g", trust="interference", repeats_stop="max_repeats")
    builder.trial(sweep, "threading", 1, 1000, [d * rng.lognormvariate(0, 0.01) for d in drift], repeats="auto", group="g",
                  trust="spread", repeats_stop="max_repeats")
    builder.finish_sweep(sweep)
    trials = load_sweep(builder.uri, sweep)
    report = build_report(trials, load_samples(builder.uri, finished(trials)))
    row = report.table[report.table["backend"] == "threading"].iloc[0]
    assert row["ci_method"] == "paired" and row["speedup_ci_high"] / row["speedup_ci_low"] < 1.05**2
    assert row["trust"] == "noisy baseline"
    (line,) = [line for line in report.verdict if "not trusted for noisy baseline" in line]
    assert "stopped short" not in line and line.strip().startswith("1 of 2 rows not trusted for noisy baseline: keep schedule=interleaved"), line
