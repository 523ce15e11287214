"""Known-answer tests of the verdict: synthetic stores whose right verdict is known, and lines that
must not appear because the intervals do not support them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from test_analysis_store import StoreBuilder, reps_around

from analysis.__main__ import main
from analysis.load import load_samples, load_sweep
from analysis.report import Report, build_report

NOT_MEASURABLY = "no configuration is measurably faster than serial here"


def verdict_of(builder: StoreBuilder, sweep: str, intervals: bool = True) -> Report:
    trials = load_sweep(builder.uri, sweep)
    return build_report(trials, load_samples(builder.uri, trials), intervals=intervals)


def text(report: Report) -> str:
    return "\n".join(report.verdict)


def test_threads_gil_bound_while_processes_scale(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    for n, serial in ((1_000_000, 0.1), (10_000_000, 1.0)):
        builder.trial(sweep, "serial", 1, n, reps_around(serial), metrics={"cpu_utilization": 1.0})
        for workers in (2, 4):
            builder.trial(sweep, "threading", workers, n, reps_around(serial * 1.01), metrics={"cpu_utilization": 1.0})
            builder.trial(sweep, "process_pool", workers, n, reps_around(serial / (0.95 * workers)),
                          metrics={"cpu_utilization": 0.95 * workers})
    report = verdict_of(builder, sweep)
    assert report.verdict[0] == "sum_range:"
    lines = text(report)
    assert "n=1e7: process_pool x4 is fastest" in lines and "3.80x faster than serial (95% CI" in lines
    assert "threads are GIL-bound on 3.11.7: with up to 4 threads CPU use stays at 1.0 core" in lines
    assert NOT_MEASURABLY not in lines
    assert "threading" not in " ".join(line for line in report.verdict if "is fastest" in line)


def test_free_threaded_threads_scale_and_pay_a_single_thread_cost(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    n = 10_000_000
    builder.trial(sweep, "serial", 1, n, reps_around(1.0), metrics={"cpu_utilization": 1.0})
    builder.trial(sweep, "threading", 2, n, reps_around(1.01), metrics={"cpu_utilization": 1.0})
    builder.trial(sweep, "serial", 1, n, reps_around(1.33), python="3.13.5t", metrics={"cpu_utilization": 1.0})
    builder.trial(sweep, "threading", 2, n, reps_around(0.70), python="3.13.5t", metrics={"cpu_utilization": 1.9})
    report = verdict_of(builder, sweep)
    lines = text(report)
    assert "n=1e7: threading x2 on 3.13.5t is fastest, 700.00 ms: 1.90x faster than serial" in lines
    assert "threads run in parallel on 3.13.5t (free-threaded): threading x2 is 1.90x faster than serial, using 1.9 cores" in lines
    assert "threads are GIL-bound on 3.11.7" in lines
    assert "serial on 3.13.5t is 1.33x slower than on 3.11.7" in lines and "the single-thread cost of free-threading" in lines


def test_subinterpreters_scale_where_threads_are_gil_bound(tmp_path: Path) -> None:
    """On one GIL build (3.14), threads stay at one core while subinterpreters (one GIL each) scale:
    the verdict says why, and never calls the interpreters backend GIL-bound threads."""
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    n = 10_000_000
    builder.trial(sweep, "serial", 1, n, reps_around(1.0), python="3.14.10", metrics={"cpu_utilization": 1.0})
    builder.trial(sweep, "threading", 2, n, reps_around(1.01), python="3.14.10", metrics={"cpu_utilization": 1.0})
    builder.trial(sweep, "interpreters", 2, n, reps_around(0.52), python="3.14.10", metrics={"cpu_utilization": 1.92})
    lines = text(verdict_of(builder, sweep))
    assert "n=1e7: interpreters x2 is fastest, 520.00 ms: 1.92x faster than serial" in lines
    assert ("subinterpreters run Python in parallel on 3.14.10, each with its own GIL, in one process: "
            "interpreters x2 is 1.92x faster than serial, using 1.9 cores") in lines
    assert "threads are GIL-bound on 3.14.10: with up to 2 threads CPU use stays at 1.0 core (threading x2" in lines


def test_an_all_noise_sweep_claims_nothing(tmp_path: Path) -> None:
    """Every configuration within noise of serial, spread everywhere: no winner, no crossover, no claim."""
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    rng = np.random.default_rng(11)
    for backend, workers in (("serial", 1), ("threading", 2), ("process_pool", 2), ("thread_pool", 2)):
        builder.trial(sweep, backend, workers, 1_000_000, list(1.0 + rng.normal(0, 0.15, 5)), trust="spread")
    report = verdict_of(builder, sweep)
    lines = text(report)
    assert f"n=1e6: {NOT_MEASURABLY}" in lines
    assert "is fastest" not in lines and "faster than serial (" not in lines
    assert "noise-limited: 4 of 4 rows are not trusted (noisy baseline, spread)" in lines
    assert report.crossover["crossover_n"].isna().all()
    assert set(report.table["conclusion"]) <= {"", "no difference"}


def test_without_intervals_nothing_is_claimed(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, reps_around(1.0))
    builder.trial(sweep, "process_pool", 2, 1000, reps_around(0.5))
    report = verdict_of(builder, sweep, intervals=False)
    lines = text(report)
    assert "process_pool x2 measured 2.00x against serial, but without confidence intervals no configuration is claimed faster" in lines
    assert "is fastest" not in lines


def test_start_up_bound_oversubscribed_and_imbalanced(tmp_path: Path) -> None:
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    n = 100_000
    builder.trial(sweep, "serial", 1, n, reps_around(0.010), usable=2)
    # multiprocessing creates its workers inside every repetition: 12 ms of a 30 ms repetition
    builder.trial(sweep, "multiprocessing", 2, n, reps_around(0.030), usable=2, metrics={"startup_s": 0.012})
    builder.trial(sweep, "process_pool", 4, n, reps_around(0.0065), usable=2, trust="oversubscribed",
                  metrics={"load_imbalance": 1.6})
    report = verdict_of(builder, sweep)
    lines = text(report)
    assert "start-up bound at n=1e5: starting its workers takes 40% of multiprocessing (fork) x2's wall time (12.00 ms of 30.00 ms)" in lines
    assert "oversubscribed: 1 row ran more workers than the 2 usable CPUs (workers=4)" in lines
    assert "load imbalance: in process_pool x4 at n=1e5 the busiest worker worked 1.60x the mean" in lines
    assert "process_pool x4 is fastest" in lines and "(not trusted: oversubscribed)" in lines


def test_the_verdict_is_printed_after_the_table_and_first_in_markdown(tmp_path: Path, capsys: Any) -> None:
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    builder.trial(sweep, "serial", 1, 1000, reps_around(1.0))
    builder.trial(sweep, "process_pool", 2, 1000, reps_around(0.5))
    builder.finish_sweep(sweep)
    assert main(["--tracking-uri", builder.uri]) == 0
    table = capsys.readouterr().out
    assert table.index("Verdict") > table.index("process_pool")
    assert main(["--tracking-uri", builder.uri, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.index("**Verdict**") < markdown.index("| n |")
    assert "  - n=1e3: process_pool x2 is fastest" in markdown
    assert main(["--tracking-uri", builder.uri, "--format", "html"]) == 0
    html = capsys.readouterr().out
    assert html.index("<h2>Verdict</h2>") > html.index("</table>")
    import json

    assert main(["--tracking-uri", builder.uri, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"][0] == "sum_range:" and "process_pool x2 is fastest" in data["verdict"][1]
