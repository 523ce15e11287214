"""The report as one self-contained HTML page."""

from __future__ import annotations

import html

from analysis.report import Report
from analysis.views import Section, legend, sections, summary_lines

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
.legend { color: #666; font-size: 0.85em; max-width: 60em; }
img { max-width: 100%; margin: 1em 0; }
"""


def html_table(section: Section) -> str:
    """One section as an HTML table with a caption."""
    def cls(column: object) -> str:
        return ' class="num"' if column in section.right else ""

    head = "".join(f"<th{cls(c)}>{html.escape(str(c))}</th>" for c in section.cells.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td{cls(c)}>{html.escape(str(v))}</td>" for c, v in zip(section.cells.columns, row)) + "</tr>"
        for row in section.cells.itertuples(index=False, name=None)
    )
    return f"<table>\n<caption>{html.escape(section.heading)}</caption>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def to_html(report: Report, plots: list[str] | None = None) -> str:
    """A standalone page: the tables, notes and legend, then ``plots`` (relative image paths)."""
    parts = [f"<h1>{html.escape(report.title)}</h1>"]
    if report.table.empty:
        parts.append("<p>No finished trials to tabulate.</p>")
    parts += [html_table(section) for section in sections(report)]
    parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(report)) + "</ul>")
    if not report.table.empty:
        parts.append(f'<p class="legend">{html.escape(legend(report))}</p>')
    parts += [f'<img src="{html.escape(p)}" alt="{html.escape(p)}">' for p in plots or []]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(report.title)}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
