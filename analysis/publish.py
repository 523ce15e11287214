"""What a sweep leaves behind when it ends: the speedup table in the terminal, and on the
sweep's parent run the report (md, csv, html, json, the warnings, the per-repetition CSV and
pyperf JSON) and plots as artifacts under ``report/`` plus the markdown (verdict first) as the
run's description, so the MLflow UI shows the answer on the sweep's own page.

This runs after every sweep, so it must never break one: any failure becomes one warning
line on stderr and the sweep goes on to its normal end.
"""

from __future__ import annotations

import sys
import tempfile

from analysis.export_markdown import to_markdown
from analysis.load import load_samples, load_sweep
from analysis.metrics import finished
from analysis.render import write_all
from analysis.report import Report, build_report
from analysis.terminal import render_terminal
from runner.tracking.names import DESCRIPTION_TAG
from runner.tracking.store import first_line

ARTIFACT_DIR = "report"
DESCRIPTION_LIMIT = 8000  # MLflow's limit on a tag value
ARTIFACT_FORMATS = ("markdown", "csv", "html", "json", "samples-csv", "pyperf")


def _warn(what: str, exc: BaseException) -> None:
    print(f"  warning: {what} ({type(exc).__name__}: {first_line(exc)})", file=sys.stderr, flush=True)


def description_markdown(report: Report, limit: int = DESCRIPTION_LIMIT) -> str:
    """The markdown report, cut at a line boundary to fit ``limit`` characters when it must."""
    text = to_markdown(report)
    if len(text) <= limit:
        return text
    tail = f"\n\n_… cut to fit the run description: the full report is in the `{ARTIFACT_DIR}/report.md` artifact._\n"
    kept, size = [], 0
    for line in text.splitlines():
        if size + len(line) + 1 > limit - len(tail):
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) + tail


def attach_report(tracking_uri: str, run_id: str, report: Report) -> list[str]:
    """Log the report's files (:data:`ARTIFACT_FORMATS`, the warnings CSV) and PNG plots under
    ``report/`` on ``run_id`` and set its description to the markdown; returns the artifact paths logged."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    with tempfile.TemporaryDirectory(prefix="parsweep-report-") as tmp:
        written = write_all(report, tmp, formats=ARTIFACT_FORMATS)
        client.log_artifacts(run_id, tmp, artifact_path=ARTIFACT_DIR)
    client.set_tag(run_id, DESCRIPTION_TAG, description_markdown(report))
    return [f"{ARTIFACT_DIR}/{path.name}" for path in written]


def sweep_report(tracking_uri: str, sweep_run_id: str) -> Report:
    """The report of one sweep, confidence intervals included."""
    trials = load_sweep(tracking_uri, sweep_run_id)
    done = finished(trials)
    samples = load_samples(tracking_uri, done) if not done.empty else None
    return build_report(trials, samples)


def publish_sweep(tracking_uri: str, sweep_run_id: str) -> str:
    """Build the sweep's report, attach it to the sweep's parent run, return the terminal table.

    Never raises: a failure prints one warning line (and returns what could be built).
    """
    try:
        report = sweep_report(tracking_uri, sweep_run_id)
        text = render_terminal(report)
    except Exception as exc:
        _warn("could not build the sweep's report; try: parsweep-report --sweep " + sweep_run_id, exc)
        return ""
    try:
        attach_report(tracking_uri, sweep_run_id, report)
    except Exception as exc:
        _warn("could not attach the report to the sweep's run", exc)
    return text
