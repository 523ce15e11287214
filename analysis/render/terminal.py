"""The report in the terminal: one table per host and workload, the fits, the verdict, the
warnings with their trials, then the notes and the legend.

On an interactive terminal the tables are drawn with rich; as text (what a sweep prints at
its end, pipes, files) they are laid out here directly, the same way: rich takes about a
millisecond per row, too slow for a report of thousands of trials.
"""

from __future__ import annotations

from typing import Any

from analysis.model.report import Report
from analysis.render.exporter import Exporter
from analysis.render.views import VERDICT_HEADING, WARNINGS_HEADING, Section, legend, sections, summary_lines


def rich_table(section: Section) -> Any:
    """A section as a rich table: supported verdicts coloured, untrusted rows dimmed."""
    from rich import box
    from rich.table import Table

    table = Table(title=section.heading, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, title_style="bold")
    for column in section.cells.columns:
        table.add_column(str(column), justify="right" if column in section.right else "left", no_wrap=True)
    columns = list(section.cells.columns)
    for index, row in enumerate(section.cells.itertuples(index=False, name=None)):
        tones = [section.tones[column][index] if column in section.tones else "" for column in columns]
        cells = [_styled(str(cell), tone) for cell, tone in zip(row, tones)]
        table.add_row(*cells, style="dim" if section.untrusted and section.untrusted[index] else None)
    return table


def _styled(cell: str, tone: str) -> Any:
    """Only what an interval supports is coloured: green measurably faster, red measurably slower."""
    if not tone:
        return cell
    from rich.text import Text

    return Text(cell, style="green" if tone == "faster" else "red")


RICH_MAX_ROWS = 500
GAP = "   "


def plain_table(section: Section) -> str:
    """A section as aligned text: heading, header, a rule, rows (numbers right-aligned)."""
    columns = [str(c) for c in section.cells.columns]
    rows = [[str(v) for v in row] for row in section.cells.itertuples(index=False, name=None)]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return " " + GAP.join(
            cell.rjust(width) if column in section.right else cell.ljust(width)
            for cell, width, column in zip(cells, widths, section.cells.columns)
        ).rstrip()

    rule = " " + "─" * (sum(widths) + len(GAP) * (len(widths) - 1))
    return "\n".join([section.heading, "", line(columns), rule, *(line(r) for r in rows)])


def print_report(report: Report, console: Any = None) -> None:
    """Print the report on ``console`` (a ``rich.console.Console``; default: stdout)."""
    from rich.console import Console

    console = console or Console()
    if len(report.table) > RICH_MAX_ROWS:
        console.out(render_terminal(report), highlight=False)
        return
    console.print(report.title, style="bold", highlight=False)
    if report.table.empty:
        console.print("No finished trials to tabulate.", highlight=False)
    for section in sections(report):
        console.print(rich_table(section))
    for heading, lines in _blocks(report):
        console.print(heading, style="bold", highlight=False)
        for line in lines:
            console.print(line, highlight=False, soft_wrap=True)
    for line in summary_lines(report):
        console.print(line, highlight=False, soft_wrap=True)
    if not report.table.empty:
        console.print(legend(report), style="dim", highlight=False)


def _blocks(report: Report) -> list[tuple[str, list[str]]]:
    """The verdict and the warnings with their trials, as (heading, lines)."""
    blocks = []
    if report.verdict:
        blocks.append((VERDICT_HEADING, report.verdict))
    if len(report.warnings):
        from runner.trial.quality import group_warnings

        pairs = [(str(row.run_name or row.run_id), str(row.warning)) for row in report.warnings.itertuples(index=False)]
        grouped = group_warnings(pairs)
        heading = f"{WARNINGS_HEADING} ({len(pairs)}; each kind once, with the trials that had it)"
        blocks.append((heading, [f"  {line}" for line in grouped]))
    return blocks


def render_terminal(report: Report) -> str:
    """The terminal rendering as plain text (no colours)."""
    lines = [report.title]
    if report.table.empty:
        lines.append("No finished trials to tabulate.")
    for section in sections(report):
        lines += ["", plain_table(section)]
    for heading, block in _blocks(report):
        lines += ["", heading, *block]
    lines.append("")
    lines += summary_lines(report)
    if not report.table.empty:
        lines.append(legend(report))
    return "\n".join(lines)


EXPORTERS = [Exporter("table", "report.txt", lambda report: render_terminal(report) + "\n")]
