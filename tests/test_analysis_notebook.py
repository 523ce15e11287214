"""The MLflow store as the lab notebook (``analysis.notebook``), on a real sweep and a real sqlite store.

- every trial run carries its report row's ``speedup``, ``speedup_ci_low``, ``speedup_ci_high`` and
  ``efficiency``, equal to the report's figures, and the row's trust as a tag;
- the sweep's run carries the swept keys as params, its headline metrics and its best configuration;
  its description begins with the verdict; its plots are keyed images; its interactive HTML page
  needs no network;
- the experiment is tagged for MLflow's classic runs table with ``speedup`` as its primary metric;
- ``parsweep-report`` rebuilding the sweep's report twice changes nothing in the store (every
  metric's history keeps one entry at step 0);
- ``parsweep-report --compare A B --log`` logs the comparison as a run tagged with both sides.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.report import load_report
from conftest import TINY, all_runs, clean_env, client_for, run_parsweep, runs_with_role, sqlite_uri
from runner.tracking.names import EXPERIMENT_TAGS, SPEEDUP_TRUST_TAG, TRIAL_METRICS

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    launch_dir = tmp_path_factory.mktemp("notebook")
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "backend=serial,threading", "workers=1,2", *TINY, "plots=true"], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    return uri, launch_dir


def report_cli(uri: str, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analysis", "--tracking-uri", uri, "--format", "csv", *argv],
                          capture_output=True, text=True, cwd=cwd, env=clean_env())


def snapshot(uri: str) -> dict[str, Any]:
    """Everything a report could write: each run's metrics with their full history, params, tags."""
    client = client_for(uri)
    state: dict[str, Any] = {}
    for run in all_runs(uri):
        histories = {key: [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run.info.run_id, key)]
                     for key in run.data.metrics}
        state[run.info.run_id] = (histories, dict(run.data.params), dict(run.data.tags))
    experiment = client.get_experiment_by_name("parsweep")
    state["experiment"] = dict(experiment.tags)
    return state


def test_every_trial_carries_its_rows_figures(swept: tuple[str, Path]) -> None:
    uri, _ = swept
    runs = all_runs(uri)
    (sweep,) = runs_with_role(runs, "sweep")
    trials = runs_with_role(runs, "trial")
    report = load_report(uri, sweep=sweep.info.run_id)
    client = client_for(uri)
    checked = 0
    for row in report.table.itertuples(index=False):
        for run_id in row.run_ids:
            (run,) = [t for t in trials if t.info.run_id == run_id]
            for name in TRIAL_METRICS:
                expected = getattr(row, name)
                if isinstance(expected, float) and math.isnan(expected):
                    assert name not in run.data.metrics, (name, run.info.run_name)
                else:
                    assert run.data.metrics[name] == pytest.approx(float(expected), rel=1e-12), (name, run.info.run_name)
                    history = client.get_metric_history(run_id, name)
                    assert [m.step for m in history] == [0]
            assert run.data.tags[SPEEDUP_TRUST_TAG] == row.trust
            checked += 1
    assert checked == len(trials) == 3
    # the chart view plots speedup: every trial has it (serial's is 1 by definition)
    assert all("speedup" in t.data.metrics for t in trials)


def test_the_report_keeps_what_the_runs_held_so_writing_back_reads_nothing_again(swept: tuple[str, Path]) -> None:
    """The sweep's load notes each trial run's written-back figures as read (analysis.data.load.HeldFigures);
    the report carries that one snapshot (pandas deep-copies a frame's attrs: it is shared, not copied)."""
    import copy

    from analysis.data.load import HELD, HeldFigures, load_sweep

    uri, _ = swept
    runs = all_runs(uri)
    (sweep,) = runs_with_role(runs, "sweep")
    trials = {t.info.run_id: t for t in runs_with_role(runs, "trial")}
    frame = load_sweep(uri, sweep.info.run_id)
    held = frame.attrs[HELD]
    assert isinstance(held, HeldFigures) and set(held.runs) == set(trials)
    for run_id, (metrics, tags, end) in held.runs.items():
        assert dict(metrics) == {k: v for k, v in trials[run_id].data.metrics.items() if k in TRIAL_METRICS}
        assert tags[SPEEDUP_TRUST_TAG] == trials[run_id].data.tags[SPEEDUP_TRUST_TAG]
        assert end == trials[run_id].info.end_time
    assert copy.deepcopy(frame).attrs[HELD] is held and frame[frame["backend"] == "serial"].attrs[HELD] is held
    assert load_report(uri, sweep=sweep.info.run_id).selection[HELD].runs == held.runs
    # what a publish writes is known to the snapshot: the same report published twice writes once
    from analysis.notebook import publish_figures

    one = next(iter(trials))
    trust = trials[one].data.tags[SPEEDUP_TRUST_TAG]
    client_for(uri).set_tag(one, SPEEDUP_TRUST_TAG, "tampered")
    report = load_report(uri, sweep=sweep.info.run_id)
    assert report.selection[HELD].runs[one][1][SPEEDUP_TRUST_TAG] == "tampered"
    assert publish_figures(uri, sweep.info.run_id, report) == 1
    assert publish_figures(uri, sweep.info.run_id, report) == 0
    assert client_for(uri).get_run(one).data.tags[SPEEDUP_TRUST_TAG] == trust


def test_the_sweep_summarises_and_the_experiment_opens_on_the_runs_table(swept: tuple[str, Path]) -> None:
    uri, _ = swept
    client = client_for(uri)
    (sweep,) = runs_with_role(all_runs(uri), "sweep")
    assert sweep.data.params == {"backend": "serial,threading", "workers": "1,2"}
    metrics = sweep.data.metrics
    assert metrics["trials"] == 3 and metrics["trials_finished"] == 3 and metrics["trials_failed"] == 0
    assert 0 <= metrics["trusted_share"] <= 1 and metrics["duration_s"] > 0
    assert metrics["best_speedup"] > 0 and metrics["best_workers"] in (1, 2)
    assert sweep.data.tags["parsweep.best"].startswith("threading · ")
    description = sweep.data.tags["mlflow.note.content"]
    # the verdict's first finding comes first: MLflow shows a description folded to its first lines
    report = load_report(uri, sweep=sweep.info.run_id)
    assert description.splitlines()[0] == f"**{report.verdict[0].strip().rstrip(':')}** · {report.verdict[1].strip()}"
    assert description.splitlines()[2] == "**Verdict**", description[:300]
    experiment = client.get_experiment(sweep.info.experiment_id)
    assert {k: experiment.tags.get(k) for k in EXPERIMENT_TAGS} == EXPERIMENT_TAGS
    # the plots as keyed images, the interactive page as a file that needs no network
    artifacts = {a.path for a in client.list_artifacts(sweep.info.run_id, "report")}
    assert "report/interactive.html" in artifacts and "report/speedup_vs_workers.png" in artifacts
    images = {a.path for a in client.list_artifacts(sweep.info.run_id, "images")}
    assert any("speedup_vs_workers" in path for path in images), images
    page = Path(client.download_artifacts(sweep.info.run_id, "report/interactive.html")).read_text()
    assert "<svg" in page and "speedup" in page and "trust:" in page
    assert "http://" not in page and "https://" not in page and "<script src" not in page


def test_a_rebuilt_report_changes_nothing(swept: tuple[str, Path]) -> None:
    uri, cwd = swept
    before = snapshot(uri)
    for _ in range(2):
        done = report_cli(uri, cwd)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        assert snapshot(uri) == before


def test_read_only_and_a_logged_comparison(swept: tuple[str, Path]) -> None:
    uri, cwd = swept
    (sweep,) = runs_with_role(all_runs(uri), "sweep")
    sweep_id = sweep.info.run_id
    assert report_cli(uri, cwd, "--read-only").returncode == 0
    bad = report_cli(uri, cwd, "--log")
    assert bad.returncode == 2 and bad.stderr.startswith("parsweep-report: error: --log applies only with --compare")
    done = report_cli(uri, cwd, "--compare", sweep_id, sweep_id, "--log")
    assert done.returncode == 0, done.stderr
    assert "logged the comparison as run" in done.stderr
    (compared,) = runs_with_role(all_runs(uri), "compare")
    assert compared.data.tags["parsweep.compare"] == f"{sweep_id} {sweep_id}"
    assert compared.data.tags["parsweep.compare_a"] == sweep_id == compared.data.tags["parsweep.compare_b"]
    assert compared.info.status == "FINISHED" and compared.data.metrics["rows_compared"] == 3
    assert "compare" in compared.data.tags["mlflow.note.content"].lower()


def test_figures_follow_the_frame_and_skip_blanks() -> None:
    """What a row holds is what its runs get: blank figures are not logged, ``ci_method`` becomes a
    tag when the report has the column, and the best speedup is a trusted one when there is one."""
    import pandas as pd

    from analysis.model.report import Report
    from analysis.notebook import sweep_figures, trial_figures

    table = pd.DataFrame({
        "backend": ["serial", "threading", "process_pool"], "workers": [1, 2, 4], "n": [10**6] * 3,
        "start_method": ["none", "none", "fork"], "python": ["3.11.7"] * 3, "workload": ["sum_range"] * 3,
        "speedup": [1.0, 1.2, 3.1], "speedup_ci_low": [float("nan"), 1.1, 2.9], "speedup_ci_high": [float("nan"), 1.3, 3.3],
        "efficiency": [1.0, 0.6, 0.775], "trust": ["ok", "ok", "oversubscribed"],
        "ci_method": ["", "paired", "unpaired"], "run_ids": [["s"], ["t1", "t2"], ["p"]],
    })
    empty = pd.DataFrame()
    report = Report(table=table, amdahl=empty, crossover=empty, hosts=empty, counts={"total": 4, "finished": 4, "failed": 0})
    figures = trial_figures(report)
    assert figures["s"] == ({"speedup": 1.0, "efficiency": 1.0}, {SPEEDUP_TRUST_TAG: "ok"})
    assert figures["t1"] == figures["t2"]
    assert figures["t2"][0] == {"speedup": 1.2, "speedup_ci_low": 1.1, "speedup_ci_high": 1.3, "efficiency": 0.6}
    assert figures["p"][1] == {SPEEDUP_TRUST_TAG: "oversubscribed", "parsweep.ci_method": "unpaired"}
    metrics, tags = sweep_figures(report, duration_s=12.5)
    assert metrics["best_speedup"] == 1.2 and metrics["best_workers"] == 2  # 3.1x is not trusted
    assert metrics["trusted_share"] == pytest.approx(2 / 3) and metrics["duration_s"] == 12.5
    assert tags["parsweep.best"] == "threading · 2 workers · n=1e6 · python 3.11.7 · workload sum_range"
