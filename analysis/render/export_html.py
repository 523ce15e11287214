"""The report as one self-contained HTML page."""

from __future__ import annotations

import html

from analysis.model.report import Report
from analysis.render.exporter import Exporter
from analysis.render.views import VERDICT_HEADING, WARNINGS_HEADING, Section, legend, sections, summary_lines, warning_lines

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
.legend { color: #666; font-size: 0.85em; max-width: 60em; }
td.faster { color: #1a7f37; font-weight: bold; }
td.slower { color: #cf222e; font-weight: bold; }
tr.untrusted td { color: #888; font-style: italic; }
img { max-width: 100%; margin: 1em 0; }
"""


def html_table(section: Section) -> str:
    """One section as an HTML table with a caption; measurably faster/slower cells and
    untrusted rows get classes (``faster``, ``slower``, ``untrusted``)."""
    columns = list(section.cells.columns)

    def cls(column: object, index: int | None = None) -> str:
        names = ["num"] if column in section.right else []
        tone = section.tones[column][index] if index is not None and column in section.tones else ""
        if tone:
            names.append(tone)
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f"<th{cls(c)}>{html.escape(str(c))}</th>" for c in columns)
    rows = []
    for index, row in enumerate(section.cells.itertuples(index=False, name=None)):
        mark = ' class="untrusted"' if section.untrusted and section.untrusted[index] else ""
        cells = "".join(f"<td{cls(c, index)}>{html.escape(str(v))}</td>" for c, v in zip(columns, row))
        rows.append(f"<tr{mark}>{cells}</tr>")
    body = "\n".join(rows)
    return f"<table>\n<caption>{html.escape(section.heading)}</caption>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _list(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"


def to_html(report: Report, plots: list[str] | None = None) -> str:
    """A standalone page: the tables, the verdict, the warnings with their trials, notes and
    legend, then ``plots`` (relative image paths)."""
    parts = [f"<h1>{html.escape(report.title)}</h1>"]
    if report.table.empty:
        parts.append("<p>No finished trials to tabulate.</p>")
    parts += [html_table(section) for section in sections(report)]
    if report.verdict:
        items = []
        for line in report.verdict:
            text = html.escape(line.strip())
            items.append(f"<li>{text}</li>" if line.startswith("  ") else f"<li><strong>{text}</strong></li>")
        parts.append(f"<h2>{VERDICT_HEADING}</h2>\n<ul class=\"verdict\">{''.join(items)}</ul>")
    warnings = warning_lines(report)
    if warnings:
        parts.append(f"<h2>{WARNINGS_HEADING} ({len(warnings)}, each with its trial)</h2>\n{_list(warnings)}")
    parts.append(_list(summary_lines(report)))
    if not report.table.empty:
        parts.append(f'<p class="legend">{html.escape(legend(report))}</p>')
    parts += [f'<img src="{html.escape(p)}" alt="{html.escape(p)}">' for p in plots or []]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(report.title)}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


EXPORTERS = [Exporter("html", "report.html", to_html, render_with_plots=to_html)]
