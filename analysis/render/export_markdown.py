"""The report as GitHub-flavoured markdown (also the sweep's description in the MLflow UI).

The verdict comes first, under the title: the MLflow UI shows a run's description from its
top (and a long one is cut at its end), so the answer is what survives.
"""

from __future__ import annotations

from analysis.model.report import Report
from analysis.render.exporter import Exporter
from analysis.render.views import VERDICT_HEADING, WARNINGS_HEADING, Section, legend, sections, summary_lines, warning_lines


def _escape(cell: object) -> str:
    return str(cell).replace("|", "\\|").replace("\n", " ")


def markdown_table(section: Section) -> str:
    """One section as a markdown table (numbers right-aligned)."""
    columns = list(section.cells.columns)
    head = "| " + " | ".join(_escape(c) for c in columns) + " |"
    rule = "|" + "|".join("---:" if c in section.right else ":---" for c in columns) + "|"
    body = ["| " + " | ".join(_escape(v) for v in row) + " |" for row in section.cells.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])


def verdict_markdown(report: Report) -> str:
    """The verdict as a list: a workload's heading line, its findings nested below it."""
    lines = []
    for line in report.verdict:
        text = _escape(line.strip())
        lines.append(f"  - {text}" if line.startswith("  ") else f"- **{text}**")
    return f"**{VERDICT_HEADING}**\n\n" + "\n".join(lines)


def to_markdown(report: Report, plots: list[str] | None = None) -> str:
    """The whole report: title, verdict, one table per host and workload, fits, crossovers,
    interpreters, warnings with their trials, notes, legend.

    ``plots``: image paths (relative to where the markdown will live) to show at the end.
    """
    parts = [f"## {report.title}"]
    if report.verdict:
        parts.append(verdict_markdown(report))
    if report.table.empty:
        parts.append("No finished trials to tabulate.")
    for section in sections(report):
        parts.append(f"**{_escape(section.heading)}**\n\n{markdown_table(section)}")
    warnings = warning_lines(report)
    if warnings:
        parts.append(f"**{WARNINGS_HEADING}** ({len(warnings)}, each with its trial)\n\n" + "\n".join(f"- {_escape(w)}" for w in warnings))
    parts.append("\n".join(f"- {_escape(line)}" for line in summary_lines(report)))
    if not report.table.empty:
        parts.append(f"_{legend(report)}_")
    for plot in plots or []:
        parts.append(f"![{plot}]({plot})")
    return "\n\n".join(parts) + "\n"


EXPORTERS = [Exporter("markdown", "report.md", to_markdown, render_with_plots=to_markdown)]
