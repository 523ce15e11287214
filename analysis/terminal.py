"""The report in the terminal: one table per host and workload, then the fits and notes.

On an interactive terminal the tables are drawn with rich; as text (what a sweep prints at
its end, pipes, files) they are laid out here directly, the same way: rich takes about a
millisecond per row, too slow for a report of thousands of trials.
"""

from __future__ import annotations

from typing import Any

from analysis.report import Report
from analysis.views import Section, legend, sections, summary_lines


def _rich_table(section: Section) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(title=section.heading, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, title_style="bold")
    for column in section.cells.columns:
        table.add_column(str(column), justify="right" if column in section.right else "left", no_wrap=True)
    columns = list(section.cells.columns)
    for row in section.cells.itertuples(index=False, name=None):
        table.add_row(*(_styled(column, str(cell)) for column, cell in zip(columns, row)))
    return table


def _styled(column: object, cell: str) -> Any:
    """Speedups above 1 in green, below 1 in red: faster or slower than serial at a glance."""
    if column not in ("speedup", "speedup there") or not cell.endswith("x"):
        return cell
    from rich.text import Text

    value = float(cell[:-1])
    return Text(cell, style="green" if value > 1.005 else "red" if value < 0.995 else "")


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
        console.print(_rich_table(section))
    for line in summary_lines(report):
        console.print(line, highlight=False, soft_wrap=True)
    if not report.table.empty:
        console.print(legend(report), style="dim", highlight=False)


def render_terminal(report: Report) -> str:
    """The terminal rendering as plain text (no colours)."""
    lines = [report.title]
    if report.table.empty:
        lines.append("No finished trials to tabulate.")
    for section in sections(report):
        lines += ["", plain_table(section)]
    lines += summary_lines(report)
    if not report.table.empty:
        lines.append(legend(report))
    return "\n".join(lines)
