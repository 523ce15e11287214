"""Taking the numbers elsewhere: the per-repetition CSV, and pyperf's JSON read by the real pyperf
(``python -m pyperf stats / hist / compare_to``)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyperf
import pytest
from test_analysis_store import StoreBuilder

from analysis.__main__ import main

REPS = {
    ("serial", 1): [1.00, 1.01, 0.99, 1.02, 0.98],
    ("process_pool", 2): [0.52, 0.50, 0.51, 0.53, 0.49],
    ("threading", 2): [1.01, 1.03, 0.99, 1.02, 1.00],
}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoreBuilder, str, str]:
    """Two sweeps of the same configurations: the second on a free-threaded build (threads faster)."""
    builder = StoreBuilder(tmp_path_factory.mktemp("export"))
    first = builder.sweep("sweep · gil")
    for (backend, workers), reps in REPS.items():
        builder.trial(first, backend, workers, 1_000_000, reps, trust="spread" if backend == "threading" else "ok")
    builder.finish_sweep(first)
    second = builder.sweep("sweep · free-threaded")
    for (backend, workers), reps in REPS.items():
        factor = 0.55 if backend == "threading" else 1.3 if backend == "serial" else 1.0
        builder.trial(second, backend, workers, 1_000_000, [v * factor for v in reps], python="3.13.5t")
    builder.finish_sweep(second)
    return builder, first, second


def export(capsys: pytest.CaptureFixture[str], builder: StoreBuilder, sweep: str, fmt: str) -> str:
    assert main(["--tracking-uri", builder.uri, "--sweep", sweep, "--format", fmt]) == 0
    return capsys.readouterr().out


def test_samples_csv_is_one_row_per_repetition(sweeps: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, first, _ = sweeps
    frame = pd.read_csv(io.StringIO(export(capsys, builder, first, "samples-csv")), keep_default_na=False)
    assert list(frame.columns) == ["run_id", "host", "python", "workload", "n", "backend", "start_method", "chunks",
                                   "workers", "rep", "wall_time_s", "trust"]
    assert len(frame) == 15 and frame["run_id"].nunique() == 3
    for (backend, workers), reps in REPS.items():
        mine = frame[(frame["backend"] == backend) & (frame["workers"] == workers)]
        assert mine["rep"].tolist() == [0, 1, 2, 3, 4]
        assert mine["wall_time_s"].tolist() == pytest.approx(reps)
    assert set(frame["python"]) == {"3.11.7"} and set(frame["host"]) == {"alpha"}
    assert set(frame[frame["backend"] == "threading"]["trust"]) == {"spread"}


def test_pyperf_reads_the_export(sweeps: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    builder, first, second = sweeps
    a, b = tmp_path / "gil.json", tmp_path / "free.json"
    a.write_text(export(capsys, builder, first, "pyperf"))
    b.write_text(export(capsys, builder, second, "pyperf"))
    suite = pyperf.BenchmarkSuite.load(str(a))
    names = sorted(suite.get_benchmark_names())
    # one interpreter and host per file: the names leave them out, so compare_to matches across files
    assert names == ["sum_range n=1e6 process_pool x2", "sum_range n=1e6 serial", "sum_range n=1e6 threading x2"]
    bench = suite.get_benchmark("sum_range n=1e6 process_pool x2")
    assert bench.get_values() == pytest.approx(REPS[("process_pool", 2)])
    assert bench.get_unit() == "second" and bench.get_nrun() == 1
    metadata = bench.get_metadata()
    assert metadata["hostname"] == "alpha" and metadata["python_version"] == "3.11.7"
    assert metadata["parsweep_backend"] == "process_pool" and metadata["parsweep_workers"] == 2 and metadata["cpu_count"] == 4
    assert bench.get_runs()[0].get_metadata()["parsweep_run_id"]

    def pyperf_cli(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "pyperf", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done

    stats = pyperf_cli("stats", str(a)).stdout
    assert "sum_range n=1e6 serial" in stats and "Median +- MAD" in stats
    assert "Number of values (5):" in stats or "Total number of values: 5" in stats
    hist = pyperf_cli("hist", str(a)).stdout
    assert "sum_range n=1e6 threading x2" in hist
    compared = pyperf_cli("compare_to", str(a), str(b)).stdout
    assert "sum_range n=1e6 threading x2" in compared and "faster" in compared
    assert "sum_range n=1e6 serial" in compared and "slower" in compared


def test_pyperf_names_say_what_differs_within_a_file(sweeps: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, _, _ = sweeps
    assert main(["--tracking-uri", builder.uri, "--all", "--format", "pyperf"]) == 0
    suite = pyperf.BenchmarkSuite.loads(capsys.readouterr().out)
    assert "sum_range n=1e6 serial python=3.13.5t" in suite.get_benchmark_names()
    assert len(suite.get_benchmark_names()) == 6
