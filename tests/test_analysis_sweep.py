"""End to end: a real small sweep prints the table and leaves the report on its parent run."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from analysis.__main__ import main
from conftest import QUIET_WAIT, parsweep_command

pytestmark = [pytest.mark.slow]


def test_a_real_sweep_ends_with_the_report_on_its_parent_run(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        [*parsweep_command(), "-m", "backend=serial,threading,multiprocessing", "workers=1,2", "n=2e4,4e4", "repeats=3", "warmup=0",
         QUIET_WAIT],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Speedup vs serial" in done.stdout and "Karp-Flatt" in done.stdout
    assert "could not" not in done.stderr  # publish_sweep did not warn (the runner may, about timings)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("parsweep")
    parent = client.search_runs([experiment.experiment_id], "tags.`parsweep.role` = 'sweep'")[0]
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert artifacts == {
        "report/report.md", "report/report.csv", "report/report.html", "report/report.json", "report/warnings.csv",
        "report/samples.csv", "report/pyperf.json",
        "report/speedup_vs_workers.png", "report/efficiency_heatmap.png", "report/wall_time_vs_n.png",
        "report/interactive.html",
    }
    description = parent.data.tags["mlflow.note.content"]
    assert description.startswith("**") and "| multiprocessing |" in description
    # the title closes the description, unless a busy machine's warnings made it long enough to be cut
    assert "Speedup vs serial" in description or "cut to fit the run description" in description
    assert description.index("**Verdict**") < description.index("| multiprocessing |")

    # the CLI on the same store reads the same sweep: 2 serial + 2 x 2 x 2 others
    assert main(["--tracking-uri", uri, "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(frame) == 10
    assert (frame.loc[frame["backend"] == "serial", "speedup"] == 1.0).all()
    assert frame["speedup"].notna().all() and frame["speedup_ci_low"].notna().sum() == 8
    assert frame["host_cpu_model"].notna().all()
    # the runner's tags reach the report: its interpreter label and each trial's trust
    assert frame["python"].notna().all() and frame["trust"].notna().all()
