"""One report, every rendering: pick a format, or write them all (plus the plots) to a directory.

Each exporter module declares its formats (``EXPORTERS``, :class:`analysis.render.exporter.Exporter`);
:data:`EXPORTER_MODULES` is the one place that lists the modules, in the order ``--format`` shows them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from analysis.model.report import Report
from analysis.render.export_csv import WARNINGS_FILE
from analysis.render.exporter import Exporter

#: The exporter modules (each with its ``EXPORTERS``): add a new format's module here.
EXPORTER_MODULES = [
    "analysis.render.terminal",
    "analysis.render.export_markdown",
    "analysis.render.export_csv",
    "analysis.render.export_html",
    "analysis.render.export_json",
    "analysis.render.export_samples",
]


def _collect(modules: list[str]) -> dict[str, Exporter]:
    found: dict[str, Exporter] = {}
    for module in modules:
        for exporter in importlib.import_module(module).EXPORTERS:
            found[exporter.name] = exporter
    return found


EXPORTERS = _collect(EXPORTER_MODULES)
#: The format names, in order: a view of :data:`EXPORTERS`, so a format :func:`register` adds is in it.
FORMATS = EXPORTERS.keys()
#: File name of each format when written to a directory.
FILE_NAMES = {name: exporter.file_name for name, exporter in EXPORTERS.items()}
RENDERERS: dict[str, Callable[[Report], str]] = {name: exporter.render for name, exporter in EXPORTERS.items()}
__all__ = ["EXPORTERS", "EXPORTER_MODULES", "FILE_NAMES", "FORMATS", "RENDERERS", "WARNINGS_FILE", "register", "render", "write_all"]


def register(exporter: Exporter) -> None:
    """Add a format at run time (a notebook's own exporter); the modules of
    :data:`EXPORTER_MODULES` are registered at import."""
    EXPORTERS[exporter.name] = exporter
    FILE_NAMES[exporter.name] = exporter.file_name
    RENDERERS[exporter.name] = exporter.render


def render(report: Report, fmt: str = "table") -> str:
    """The report as text in one of :data:`FORMATS`."""
    if fmt not in RENDERERS:
        raise ValueError(f"format={fmt}: one of {', '.join(EXPORTERS)}")
    return RENDERERS[fmt](report)


def write_all(report: Report, out_dir: str | Path, formats: tuple[str, ...] | None = None, plots: bool = True) -> list[Path]:
    """Write ``formats`` (default: every one; their :data:`FILE_NAMES` and companions, e.g.
    ``warnings.csv`` beside the CSV) and the PNG plots into ``out_dir``; the formats that show
    plots (markdown, HTML) show them. Returns the paths written."""
    from analysis.render.plots import write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = write_plots(report, out) if plots else []
    names = [p.name for p in images]
    written = []
    for fmt in EXPORTERS if formats is None else formats:
        exporter = EXPORTERS[fmt]
        text = exporter.render_with_plots(report, names) if exporter.render_with_plots else exporter.render(report)
        path = out / exporter.file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
        for file_name, companion in exporter.companions:
            path = out / file_name
            path.write_text(companion(report), encoding="utf-8")
            written.append(path)
    return written + images
