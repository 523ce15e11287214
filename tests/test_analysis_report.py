"""The report CLI: every format, --out with plots, the selection flags, errors as one line; publish_sweep."""

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
from analysis.publish import publish_sweep

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoreBuilder, str, str]:
    builder = StoreBuilder(tmp_path_factory.mktemp("cli"))
    old = builder.sweep("sweep · old")
    builder.trial(old, "serial", 1, 1000, reps_around(3.0))
    builder.trial(old, "threading", 2, 1000, reps_around(3.0))
    builder.finish_sweep(old)
    sweep = builder.sweep("sweep · new")
    for n, serial in ((1000, 1.0), (10000, 10.0)):
        builder.trial(sweep, "serial", 1, n, reps_around(serial))
        builder.trial(sweep, "threading", 1, n, reps_around(serial * 1.02))
        builder.trial(sweep, "threading", 2, n, reps_around(serial * 1.05))
        builder.trial(sweep, "process_pool", 1, n, reps_around(serial * 1.1))
        builder.trial(sweep, "process_pool", 2, n, reps_around(serial * 0.55))
    builder.trial(sweep, "process_pool", 4, 10000, None, status="FAILED", error="timeout")
    builder.finish_sweep(sweep, "FAILED")
    return builder, old, sweep


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_is_the_latest_sweep_as_a_table(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, _, sweep = store
    code, out, _ = run(capsys, "--tracking-uri", builder.uri)
    assert code == 0
    assert f"sweep run {sweep}" in out
    assert "host alpha · Test CPU 3000 · 4 usable CPUs · Python 3.11.7 · workload sum_range" in out
    assert "process_pool" in out and "1.82x" in out  # 1 / 0.55
    assert "Karp-Flatt" in out and "Amdahl fit" in out and "Crossover" in out
    assert "1 FAILED trial left out" in out
    # the verdict comes after the tables
    assert out.index("Verdict") > out.index("Crossover")
    assert "n=1e4: process_pool x2 is fastest" in out and "1.82x faster than serial" in out


def test_tracking_uri_from_the_environment_then_the_current_directory(
    store: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    builder, _, sweep = store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", builder.uri)
    assert run(capsys, "--format", "csv")[0] == 0
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(Path(builder.uri[len("sqlite:///") :]).parent)
    code, out, _ = run(capsys, "--format", "csv")
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 10


def test_csv(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, _, _ = store
    code, out, _ = run(capsys, "--tracking-uri", builder.uri, "--format", "csv")
    frame = pd.read_csv(io.StringIO(out))
    assert code == 0
    for column in ("host", "workload", "n", "backend", "workers", "wall_time_s", "speedup", "efficiency", "karp_flatt"):
        assert column in frame.columns
    assert len(frame) == 10
    row = frame[(frame["backend"] == "process_pool") & (frame["workers"] == 2) & (frame["n"] == 10000)].iloc[0]
    assert row["speedup"] == pytest.approx(1 / 0.55, rel=1e-5)
    assert row["efficiency"] == pytest.approx(1 / 0.55 / 2, rel=1e-5)
    assert row["karp_flatt"] == pytest.approx((0.55 - 0.5) / 0.5, rel=1e-4)
    assert frame[frame["workers"] == 1]["karp_flatt"].isna().all()  # blank cells


def test_the_speed_probes_spread_is_a_column_shown_where_runs_have_probes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``speed_drift`` (terminal: ``cpu drift``) is std / mean of each trial's speed probes, the
    median over a row's trials; the terminal shows it, and explains it in the legend, only when
    a row has probes (runs logged before the probes have none: no column, no legend piece)."""
    import numpy as np

    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    drifting = [0.0012, 0.0015, 0.0011, 0.0016, 0.0012]  # the CPU slowed by a third in two phases
    builder.trial(sweep, "serial", 1, 10**6, reps_around(1.0), probes=drifting)
    builder.trial(sweep, "threading", 2, 10**6, reps_around(1.0), probes=[0.0012] * 5)
    builder.trial(sweep, "process_pool", 2, 10**6, reps_around(0.5))  # logged without probes
    builder.finish_sweep(sweep)

    code, out, _ = run(capsys, "--tracking-uri", builder.uri, "--format", "csv")
    frame = pd.read_csv(io.StringIO(out)).set_index("backend")
    assert code == 0
    assert frame.loc["serial", "speed_drift"] == pytest.approx(np.std(drifting, ddof=1) / np.mean(drifting), rel=1e-5)  # CSV: 6 digits
    assert frame.loc["threading", "speed_drift"] == 0
    assert np.isnan(frame.loc["process_pool", "speed_drift"])

    code, out, _ = run(capsys, "--tracking-uri", builder.uri)
    assert code == 0
    header = next(line for line in out.splitlines() if "backend" in line and "workers" in line)
    assert "cpu drift" in header and "cpu drift = how much the CPU's own speed moved" in out
    serial_line = next(line for line in out.splitlines() if line.split()[:2] == ["1e6", "serial"])
    assert f"{np.std(drifting, ddof=1) / np.mean(drifting):.1%}" in serial_line


def test_without_probes_the_terminal_has_no_cpu_drift(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, _, _ = store
    code, out, _ = run(capsys, "--tracking-uri", builder.uri)
    assert code == 0 and "cpu drift" not in out


def test_no_ci_reads_no_samples(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, _, _ = store
    code, out, _ = run(capsys, "--tracking-uri", builder.uri, "--format", "csv", "--no-ci")
    frame = pd.read_csv(io.StringIO(out))
    assert code == 0 and frame["speedup"].notna().all()
    assert frame["speedup_ci_low"].isna().all() and frame["speedup_ci_high"].isna().all()


def test_markdown_html_json(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, _, sweep = store
    code, out, _ = run(capsys, "--tracking-uri", builder.uri, "--format", "markdown")
    assert code == 0 and out.startswith("## Speedup vs serial") and "|---:|" in out
    code, out, _ = run(capsys, "--tracking-uri", builder.uri, "--format", "html")
    assert code == 0 and out.startswith("<!DOCTYPE html>") and out.count("<table>") == 3
    code, out, _ = run(capsys, "--tracking-uri", builder.uri, "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["selection"]["sweep_run_id"] == sweep
    assert len(data["rows"]) == 10 and data["counts"]["failed"] == 1
    assert data["rows"][0]["karp_flatt"] is None
    assert {"amdahl", "crossover", "notes", "hosts"} <= data.keys()


def test_sweep_and_all_selections(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, old, _ = store
    code, out, _ = run(capsys, "--tracking-uri", builder.uri, "--sweep", old, "--format", "csv")
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 2
    code, out, _ = run(capsys, "--tracking-uri", builder.uri, "--all", "--format", "csv")
    frame = pd.read_csv(io.StringIO(out))
    assert code == 0 and len(frame) == 10
    pooled = frame[(frame["n"] == 1000) & (frame["backend"] == "serial")].iloc[0]
    assert pooled["trials"] == 2 and pooled["wall_time_s"] == pytest.approx(2.0)  # median of 1.0 and 3.0


def test_out_writes_every_format_and_the_plots(store: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    builder, _, _ = store
    code, _, err = run(capsys, "--tracking-uri", builder.uri, "--out", str(tmp_path / "out"))
    assert code == 0 and "wrote 11 files" in err
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == {
        "report.txt", "report.md", "report.csv", "report.html", "report.json", "warnings.csv", "samples.csv", "pyperf.json",
        "speedup_vs_workers.png", "efficiency_heatmap.png", "wall_time_vs_n.png",
    }
    for png in (tmp_path / "out").glob("*.png"):
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert "![speedup_vs_workers.png](speedup_vs_workers.png)" in (tmp_path / "out" / "report.md").read_text()
    samples = pd.read_csv(tmp_path / "out" / "samples.csv")
    assert len(samples) == 10 * 5  # ten trials of five repetitions
    assert json.loads((tmp_path / "out" / "pyperf.json").read_text())["version"] == "1.0"


def test_errors_are_one_line_without_traceback(store: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    builder, _, _ = store
    # a real process: one line on stderr, non-zero exit, no traceback, no store created
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.splitlines() == [f"parsweep-report: error: no MLflow store at {tmp_path / 'none.db'} "
                                        "(run a sweep there first: parsweep -m, or pass --tracking-uri)"]
    assert not (tmp_path / "none.db").exists()
    cases = [
        (["--tracking-uri", builder.uri, "--sweep", "0123abcd"], "no run 0123abcd"),
        (["--tracking-uri", builder.uri, "--experiment", "other"], "experiment 'other' not found"),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, *argv)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code != 0 and out == ""
        assert len(lines) == 1 and lines[0].startswith("parsweep-report: error: ") and message in lines[0], err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "xml"], "argument --format: invalid choice: 'xml' (choose from 'table', 'markdown', 'csv', 'html', 'json', 'samples-csv', 'pyperf')"),
        (["--compare", "a", "b", "--format", "html"], "--format html: with --compare, one of table, markdown, csv, json"),
        (["--compare", "a", "b", "--all"], "--compare takes its own two selections (A and B): drop --sweep / --all"),
        (["--tracking-uri-b", "sqlite:///x.db"], "--tracking-uri-b applies only with --compare A B"),
        (["--compare", "a"], "argument --compare: expected 2 arguments"),
        (["--seed", "x"], "argument --seed: invalid int value: 'x'"),
    ],
)
def test_bad_flags_are_one_line_naming_the_flag(argv: list[str], message: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "analysis", *argv], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"parsweep-report: error: {message}"]
    assert not (tmp_path / "mlflow.db").exists()


def test_publish_sweep_attaches_and_never_raises(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    builder, old, _ = store
    text = publish_sweep(builder.uri, old)
    assert text.startswith("Speedup vs serial") and "threading" in text
    artifacts = {a.path for a in builder.client.list_artifacts(old, "report")}
    assert {"report/report.md", "report/report.csv", "report/report.html", "report/report.json", "report/warnings.csv",
            "report/samples.csv", "report/pyperf.json", "report/speedup_vs_workers.png"} <= artifacts
    description = builder.client.get_run(old).data.tags["mlflow.note.content"]
    assert description.startswith("**") and "Speedup vs serial" in description and "| threading |" in description
    # the verdict at the top: what the MLflow UI shows first, and what survives a cut
    assert description.index("**Verdict**") < description.index("| threading |")
    capsys.readouterr()
    assert publish_sweep(builder.uri, "0123abcd") == ""
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("  warning: could not build the sweep's report")


def test_a_plot_with_nothing_to_compare_is_not_drawn(store: Any, tmp_path: Path) -> None:
    """The same report narrowed: serial rows at two sizes keep the wall-time plot alone (a baseline's
    speedup is 1 by definition), and so do the other rows without a baseline to give them speedups;
    one row keeps none; the markdown names only the pictures written."""
    import dataclasses

    from analysis.render.plots import write_plots
    from analysis.render.registry import write_all
    from analysis.report import load_report

    builder, _, sweep = store
    report = load_report(builder.uri, sweep=sweep)
    serial = dataclasses.replace(report, table=report.table[report.table["backend"] == "serial"])
    assert sorted(serial.table["n"]) == [1000, 10000]
    assert [path.name for path in write_plots(serial, tmp_path / "serial")] == ["wall_time_vs_n.png"]
    one = dataclasses.replace(report, table=serial.table.head(1))
    written = write_all(one, tmp_path / "one", formats=("markdown",))
    assert [path.name for path in written] == ["report.md"]
    assert ".png" not in (tmp_path / "one" / "report.md").read_text()
    # a sweep without a serial trial: its rows have no speedup, so no speedup or efficiency plot
    contenders = report.table[report.table["backend"] != "serial"]
    unpaired = dataclasses.replace(report, table=contenders.assign(speedup=float("nan"), efficiency=float("nan")))
    assert [path.name for path in write_plots(unpaired, tmp_path / "no-baseline")] == ["wall_time_vs_n.png"]
    both = [path.name for path in write_plots(report, tmp_path / "all")]
    assert both == ["speedup_vs_workers.png", "efficiency_heatmap.png", "wall_time_vs_n.png"]
