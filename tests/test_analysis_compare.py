"""``parsweep-report --compare A B``: known answers on two real stores (a 2x slowdown reads slower,
identical samples no difference, 2 against 2 repetitions cannot tell), one-sided rows listed,
every format, the ways to name a side and its store, errors in one line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_analysis_store import StoreBuilder, reps_around

from analysis.__main__ import main
from analysis.model.compare import compare, split_source

SAME = [1.00, 1.02, 0.98, 1.01, 0.99]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoreBuilder, str, StoreBuilder, str]:
    """A in one store, B in another (another machine, say): B is 2x slower on serial, identical on
    process_pool, measured only twice on threading; each has one row the other lacks."""
    a = StoreBuilder(tmp_path_factory.mktemp("a"))
    b = StoreBuilder(tmp_path_factory.mktemp("b"))
    sweep_a, sweep_b = a.sweep(), b.sweep()
    a.trial(sweep_a, "serial", 1, 1000, reps_around(1.0))
    b.trial(sweep_b, "serial", 1, 1000, reps_around(2.0), host="beta", python="3.13.5t")
    a.trial(sweep_a, "process_pool", 2, 1000, SAME)
    b.trial(sweep_b, "process_pool", 2, 1000, SAME, host="beta", python="3.13.5t")
    a.trial(sweep_a, "threading", 2, 1000, [1.0, 1.01])
    b.trial(sweep_b, "threading", 2, 1000, [2.0, 2.02], host="beta", python="3.13.5t")
    a.trial(sweep_a, "thread_pool", 2, 1000, reps_around(1.0))
    b.trial(sweep_b, "multiprocessing", 2, 1000, reps_around(0.6), host="beta", python="3.13.5t")
    a.finish_sweep(sweep_a)
    b.finish_sweep(sweep_b)
    return a, sweep_a, b, sweep_b


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_known_answers(stores: Any) -> None:
    a, sweep_a, b, sweep_b = stores
    comparison = compare(f"{sweep_a}@{a.uri}", f"{sweep_b}@{b.uri}")
    # one host and one interpreter a side: those are what differ, so rows match without them
    assert comparison.keys == ["workload", "n", "backend", "start_method", "chunks", "workers"]
    rows = comparison.rows.set_index("backend")
    serial = rows.loc["serial"]
    assert serial["ratio"] == pytest.approx(2.0) and serial["verdict"] == "slower"
    assert serial["ratio_ci_low"] > 1 and serial["p_value"] < 0.05 and serial["smallest_p"] == pytest.approx(2 / 252)
    assert serial["reason"].startswith("2.00x slower")
    assert (serial["host_a"], serial["python_a"], serial["host_b"], serial["python_b"]) == ("alpha", "3.11.7", "beta", "3.13.5t")
    same = rows.loc["process_pool"]
    assert same["ratio"] == pytest.approx(1.0) and same["verdict"] == "no difference" and same["p_value"] == pytest.approx(1.0)
    few = rows.loc["threading"]
    assert few["verdict"] == "cannot tell" and few["reason"].startswith("cannot tell: 2 vs 2 repetitions are too few")
    assert few["ratio"] == pytest.approx(2.0)  # measured, but not claimed: 2 vs 2 can never reach p < 0.05
    assert list(comparison.only_a["backend"]) == ["thread_pool"] and list(comparison.only_b["backend"]) == ["multiprocessing"]
    assert comparison.counts() == {"slower": 1, "no difference": 1, "cannot tell": 1, "compared": 3, "only_a": 1, "only_b": 1}


def test_every_format(stores: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, sweep_a, b, sweep_b = stores
    argv = ["--compare", sweep_a, sweep_b, "--tracking-uri", a.uri, "--tracking-uri-b", b.uri]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert out.startswith(f"Compare A = sweep {sweep_a} ({a.uri}) with B = sweep {sweep_b} ({b.uri})")
    assert "2.00x slower" in out and "no difference" in out and "cannot tell: 2 vs 2 repetitions are too few" in out
    assert "python A" in out and "3.13.5t" in out
    assert "only in A: sum_range n=1e3 thread_pool x2 on 3.11.7 (host alpha)" in out
    assert "only in B: sum_range n=1e3 multiprocessing x2 on 3.13.5t (host beta)" in out
    assert "3 rows compared: 1 slower, 1 no difference, 1 cannot tell" in out
    code, out, _ = run(capsys, *argv, "--format", "markdown")
    assert code == 0 and out.startswith("## Compare A = ") and "| serial | 1 |" in out
    code, out, _ = run(capsys, *argv, "--format", "csv")
    frame = pd.read_csv(io.StringIO(out))
    assert code == 0 and list(frame.columns[:3]) == ["side", "workload", "n"]
    assert sorted(frame["side"]) == ["A only", "B only", "both", "both", "both"]
    assert frame.set_index("backend").loc["serial", "verdict"] == "slower"
    code, out, _ = run(capsys, *argv, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["counts"]["compared"] == 3 and data["a"]["source"] == sweep_a
    assert {r["backend"]: r["verdict"] for r in data["rows"]} == {"serial": "slower", "process_pool": "no difference", "threading": "cannot tell"}
    assert data["only_b"][0]["backend"] == "multiprocessing"
    code, _, err = run(capsys, *argv, "--out", str(tmp_path / "cmp"))
    assert code == 0 and sorted(p.name for p in (tmp_path / "cmp").iterdir()) == ["compare.csv", "compare.json", "compare.md", "compare.txt"]


def test_experiments_and_several_interpreters_a_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """experiment:NAME takes every trial of an experiment; with several interpreters on both sides,
    rows are matched interpreter by interpreter."""
    builder = StoreBuilder(tmp_path)
    other = StoreBuilder(tmp_path, experiment="after")
    builder.trial(None, "serial", 1, 1000, reps_around(1.0))
    builder.trial(None, "serial", 1, 1000, reps_around(1.3), python="3.13.5t")
    other.trial(None, "serial", 1, 1000, reps_around(1.0))
    other.trial(None, "serial", 1, 1000, reps_around(0.65), python="3.13.5t")
    code, out, _ = run(capsys, "--compare", "experiment:parsweep", "experiment:after", "--tracking-uri", builder.uri, "--format", "json")
    data = json.loads(out)
    assert code == 0 and "python" in data["matched_on"]
    verdicts = {r["python_a"]: (r["python_b"], r["verdict"]) for r in data["rows"]}
    assert verdicts == {"3.11.7": ("3.11.7", "no difference"), "3.13.5t": ("3.13.5t", "faster")}


def test_split_source() -> None:
    assert split_source("abc123@sqlite:////data/mlflow.db") == ("abc123", "sqlite:////data/mlflow.db")
    assert split_source("experiment:parsweep@http://127.0.0.1:5000") == ("experiment:parsweep", "http://127.0.0.1:5000")
    assert split_source("experiment:me@work") == ("experiment:me@work", None)  # not a store: part of the name
    assert split_source("abc123") == ("abc123", None)


def test_errors_are_one_line(stores: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, sweep_a, b, _ = stores
    cases = [
        (["--compare", sweep_a, "0123abcd", "--tracking-uri", a.uri], "no run 0123abcd"),
        (["--compare", sweep_a, f"{sweep_a}@sqlite:///{tmp_path / 'none.db'}", "--tracking-uri", a.uri], "no MLflow store at"),
        (["--compare", "experiment:nope", sweep_a, "--tracking-uri", a.uri], "experiment 'nope' not found"),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, *argv)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1 and out == "" and len(lines) == 1, err
        assert lines[0].startswith("parsweep-report: error: ") and message in lines[0]
    assert not (tmp_path / "none.db").exists()
    done = subprocess.run([sys.executable, "-m", "analysis", "--compare", sweep_a, "0123abcd", "--tracking-uri", a.uri],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
