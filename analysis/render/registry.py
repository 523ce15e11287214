"""One report, every rendering: pick a format, or write them all (plus the plots) to a directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from analysis.model.report import Report
from analysis.render.export_csv import to_csv, warnings_csv
from analysis.render.export_html import to_html
from analysis.render.export_json import to_json
from analysis.render.export_markdown import to_markdown
from analysis.render.export_samples import to_pyperf, to_samples_csv
from analysis.render.terminal import render_terminal

FORMATS = ("table", "markdown", "csv", "html", "json", "samples-csv", "pyperf")
#: File name of each format when written to a directory.
FILE_NAMES = {
    "table": "report.txt", "markdown": "report.md", "csv": "report.csv", "html": "report.html", "json": "report.json",
    "samples-csv": "samples.csv", "pyperf": "pyperf.json",
}
WARNINGS_FILE = "warnings.csv"
RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": lambda r: render_terminal(r) + "\n",
    "markdown": to_markdown,
    "csv": to_csv,
    "html": to_html,
    "json": to_json,
    "samples-csv": to_samples_csv,
    "pyperf": to_pyperf,
}


def render(report: Report, fmt: str = "table") -> str:
    """The report as text in one of :data:`FORMATS`."""
    if fmt not in RENDERERS:
        raise ValueError(f"format={fmt}: one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](report)


def write_all(report: Report, out_dir: str | Path, formats: tuple[str, ...] = FORMATS, plots: bool = True) -> list[Path]:
    """Write ``formats`` (:data:`FILE_NAMES`; with ``csv`` also ``warnings.csv``) and the PNG
    plots into ``out_dir``; the markdown and HTML show the plots. Returns the paths written."""
    from analysis.render.plots import write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = write_plots(report, out) if plots else []
    names = [p.name for p in images]
    written = []
    for fmt in formats:
        if fmt == "markdown":
            text = to_markdown(report, names)
        elif fmt == "html":
            text = to_html(report, names)
        else:
            text = render(report, fmt)
        path = out / FILE_NAMES[fmt]
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if fmt == "csv":
            path = out / WARNINGS_FILE
            path.write_text(warnings_csv(report), encoding="utf-8")
            written.append(path)
    return written + images
