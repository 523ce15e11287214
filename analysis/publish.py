"""What a sweep leaves behind when it ends: the speedup table in the terminal, and on the
sweep's parent run the report (md, csv, html, json, the warnings, the per-repetition CSV and
pyperf JSON, the interactive HTML) and plots as artifacts under ``report/``, the plots also as
keyed images, the markdown (verdict first) as the run's description, so the MLflow UI shows the
answer on the sweep's own page; and each row's figures on its trial runs (:mod:`analysis.notebook`).

This runs after every sweep, so it must never break one: any failure becomes one warning
line on stderr and the sweep goes on to its normal end.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from analysis.data.load import load_samples, load_sweep
from analysis.model.metrics import finished
from analysis.model.report import Report
from analysis.notebook import publish_figures
from analysis.render.export_markdown import to_markdown
from analysis.render.registry import write_all
from analysis.render.terminal import render_terminal
from analysis.report import build_report
from runner.tracking.names import DESCRIPTION_TAG
from runner.tracking.store import first_line

ARTIFACT_DIR = "report"
DESCRIPTION_LIMIT = 8000  # MLflow's limit on a tag value
ARTIFACT_FORMATS = ("markdown", "csv", "html", "json", "samples-csv", "pyperf")


def _warn(what: str, exc: BaseException) -> None:
    print(f"  warning: {what} ({type(exc).__name__}: {first_line(exc)})", file=sys.stderr, flush=True)


def verdict_lead(report: Report) -> str:
    """The verdict's first finding as one line (``**sum_range** · n=1e7: process_pool x2 is fastest, ...``)."""
    lines = [line for line in report.verdict if line.strip()]
    if not lines:
        return ""
    head = lines[0].strip().rstrip(":")
    finding = lines[1].strip() if len(lines) > 1 and lines[1].startswith(" ") else ""
    return f"**{head}** · {finding}" if finding else f"**{head}**"


def description_markdown(report: Report, limit: int = DESCRIPTION_LIMIT) -> str:
    """The markdown report as the run's description, cut at a line boundary to fit ``limit``
    characters when it must. MLflow's run page shows a description folded to its first few lines
    (the rest under "Show more"), so it opens on the verdict's first finding, not on the title
    (the page's own heading is the sweep's name)."""
    text = to_markdown(report)
    if text.startswith("## "):
        title, _, text = text.partition("\n\n")
        lead = verdict_lead(report)
        text = (f"{lead}\n\n" if lead else "") + text + f"\n_{title[3:]}_\n"
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


def attach_report(tracking_uri: str, run_id: str, report: Report, plots: bool = True) -> list[str]:
    """Log the report's files (:data:`ARTIFACT_FORMATS`, the warnings CSV) and PNG plots (unless
    ``plots`` is false) under ``report/`` on ``run_id`` and set its description to the markdown;
    returns the artifact paths logged."""
    from analysis.render.interactive import INTERACTIVE_FILE, to_interactive_html
    from runner.tracking.store import open_client

    client = open_client(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="parsweep-report-") as tmp:
        written = write_all(report, tmp, formats=ARTIFACT_FORMATS, plots=plots)
        interactive = Path(tmp) / INTERACTIVE_FILE
        interactive.write_text(to_interactive_html(report), encoding="utf-8")
        written.append(interactive)
        client.log_artifacts(run_id, tmp, artifact_path=ARTIFACT_DIR)
        for image in (path for path in written if path.suffix == ".png"):
            log_image(client, run_id, image)
    client.set_tag(run_id, DESCRIPTION_TAG, description_markdown(report))
    return [f"{ARTIFACT_DIR}/{path.name}" for path in written]


def log_image(client: Any, run_id: str, path: Path) -> None:
    """A plot as a keyed image (its file name without .png), which the run page's image view shows."""
    from PIL import Image

    with Image.open(path) as image:
        client.log_image(run_id, image.convert("RGB"), key=path.stem, step=0)


def sweep_report(tracking_uri: str, sweep_run_id: str) -> Report:
    """The report of one sweep, confidence intervals included."""
    trials = load_sweep(tracking_uri, sweep_run_id)
    done = finished(trials)
    samples = load_samples(tracking_uri, done) if not done.empty else None
    return build_report(trials, samples)


def publish_sweep(tracking_uri: str, sweep_run_id: str, plots: bool = True) -> str:
    """Build the sweep's report, attach it to the sweep's parent run (with its PNG plots unless
    ``plots`` is false), return the terminal table.

    Never raises: a failure prints one warning line (and returns what could be built).
    """
    try:
        report = sweep_report(tracking_uri, sweep_run_id)
        text = render_terminal(report)
    except Exception as exc:
        _warn("could not build the sweep's report; try: parsweep-report --sweep " + sweep_run_id, exc)
        return ""
    try:
        attach_report(tracking_uri, sweep_run_id, report, plots=plots)
    except Exception as exc:
        _warn("could not attach the report to the sweep's run", exc)
    try:
        publish_figures(tracking_uri, sweep_run_id, report)
    except Exception as exc:
        _warn("could not write the speedups onto the trial runs; try: parsweep-report --sweep " + sweep_run_id, exc)
    return text
