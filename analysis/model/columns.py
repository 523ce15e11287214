"""The report table's columns, each declared once: what it holds, and how people see it.

:data:`COLUMNS` is the one list. Every reader takes what it needs from it:

* the model (:func:`analysis.model.metrics.speedup_table`, ``report.table``): every column but the
  Amdahl fit's, in declaration order (:func:`table_columns`); the fit's columns are joined after
  the fit (:func:`analysis.model.metrics.with_amdahl`), a ``compute``'d column is computed last;
* the exports (CSV, JSON: :meth:`analysis.model.report.Report.csv_frame`): :data:`EXPORT_FIRST`,
  then every other exported column in declaration order (:func:`export_columns`);
* the renderings for people (terminal, markdown, HTML, through :mod:`analysis.render.views`): one
  cell per column that has a :class:`Cell`, in declaration order, its alignment, and its piece
  of the legend.

Adding a column is one entry here: its place in the list is its place in the table, the CSV and
the people's table (a ``compute`` derives it from the columns before it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from analysis.model.formatting import (
    BLANK,
    UNTRUSTED_MARK,
    backend_labels,
    format_fraction,
    format_interval,
    format_n,
    format_percent,
    format_ratio,
    format_seconds,
    format_speedup,
    is_blank,
)
from analysis.model.stats import FASTER

#: A cell's texts: from the rows of one section (one host and workload) and which of them are
#: trusted, one text per row (a list, or a Series on the rows' index).
Format = Callable[[pd.DataFrame, list[bool]], Any]
#: Whether a section shows the cell: from its rows and whether the report pools several sweeps.
When = Callable[[pd.DataFrame, bool], bool]


def always(rows: pd.DataFrame, pooled: bool) -> bool:
    return True


@dataclass(frozen=True)
class Cell:
    """How people see a column (terminal, markdown, HTML)."""

    label: str  # its heading; ``{confidence:.0%}`` is filled in with the report's confidence
    format: Format
    right: bool = True  # numbers are right-aligned
    #: ``label = what it means``: its piece of the legend (``{confidence:.0%}`` filled in), or none.
    legend: str = ""
    #: Explained first in the legend, before the marks (the speedup and its interval: what the report is about).
    headline: bool = False
    #: Coloured by the row's ``conclusion`` (faster / slower): the only cells a rendering may colour.
    toned: bool = False
    when: When = always


@dataclass(frozen=True)
class Column:
    """One column of the report table."""

    name: str  # in ``report.table``, the CSV and the JSON
    meaning: str  # what it holds, in a line
    #: ``table``: computed with the table (:func:`analysis.model.metrics.speedup_table`) or by ``compute``;
    #: ``fact``: the first pooled trial's (the same for all: identity); ``fit``: joined from the Amdahl fit.
    origin: Literal["table", "fact", "fit"] = "table"
    exported: bool = True  # in the CSV and the JSON
    cell: Cell | None = None  # shown to people, or not
    #: A column derived from the table's other columns (the rows of the finished table -> its values);
    #: ``None``: the table computes it.
    compute: Callable[[pd.DataFrame], Any] | None = None


def _marked(texts: pd.Series, trusted: list[bool]) -> list[str]:
    return [text if ok or text == BLANK else f"{text} {UNTRUSTED_MARK}" for text, ok in zip(texts, trusted)]


def _varies(column: str) -> When:
    return lambda rows, pooled: bool(rows[column].nunique() > 1)


def _above_one(column: str) -> When:
    return lambda rows, pooled: bool((rows[column] > 1).any())


#: From these on the verdict calls a row start-up bound or unevenly loaded (analysis.claims.verdict);
#: the terminal shows the figure's column whenever a row reaches one, so a cited figure is on screen.
STARTUP_SHARE = 0.25  # the time to get the workers ready, as a share of the wall time
IMBALANCE = 1.25  # the busiest worker's busy time / the mean's


def startup_share(rows: pd.DataFrame) -> pd.Series:
    """Each row's start-up time as a share of its wall time (NaN where either is missing)."""
    return pd.to_numeric(rows["startup_s"], errors="coerce") / pd.to_numeric(rows["wall_time_s"], errors="coerce")


def start_up_cited(rows: pd.DataFrame) -> pd.Series:
    """The rows the verdict's start-up rule may cite: start-up at :data:`STARTUP_SHARE` of the wall
    time or more, on a row not measurably faster than serial (a faster row is not start-up bound)."""
    return (startup_share(rows) >= STARTUP_SHARE) & (rows["conclusion"] != FASTER)


def _texts(values: pd.Series, text: Callable[[float], str]) -> list[str]:
    return [BLANK if is_blank(value) else text(float(value)) for value in values]


def _pairs_text(method: Any, pairs: Any, processes: Any) -> str:
    """The ``CI from`` cell: ``N pairs`` (``, K processes`` when they came from several couples of
    processes), ``unpaired``, or blank."""
    if method != "paired":
        return str(method or BLANK)
    return f"{int(pairs)} pairs" + (f", {int(processes)} processes" if processes and int(processes) > 1 else "")


def _mapped(column: str, text: Callable[[Any], str]) -> Format:
    return lambda rows, trusted: rows[column].map(text)


def _count(column: str) -> Format:
    return lambda rows, trusted: rows[column].astype(str)


COLUMNS: tuple[Column, ...] = (
    # identity (metrics.ROW_KEYS): host and workload head each section, start_method and chunks join the backend's label
    Column("host", "where it ran: the trial's host.name (for ray/dask trials, the cluster's name)"),
    Column("python", "the trials' interpreter: version, t for a free-threaded build, +GIL when its GIL was forced on",
           cell=Cell("python", lambda rows, trusted: rows["python"], right=False, when=_varies("python"))),
    Column("workload", "what ran (a custom workload is custom:module:function)"),
    Column("n", "the problem size", cell=Cell("n", _mapped("n", format_n))),
    Column("backend", "how the chunks ran in parallel",
           cell=Cell("backend", lambda rows, trusted: backend_labels(rows), right=False)),
    Column("start_method", "the multiprocessing start method (none where it does not apply)"),
    Column("chunks", 'the chunk count; "" for the default, one chunk per worker'),
    Column("workers", "parallel workers (serial counts 1)", cell=Cell("workers", _count("workers"))),
    # how much was measured
    Column("trials", "trials pooled into the row", cell=Cell("trials", _count("trials"), when=_above_one("trials"))),
    Column("sweeps", "distinct sweeps among them",
           cell=Cell("sweeps", _count("sweeps"), when=lambda rows, pooled: pooled and bool((rows["sweeps"] > 1).any()))),
    Column("repetitions", "their recorded repetitions together"),
    # the figures
    Column("wall_time_s", "the median of the trials' median wall times",
           cell=Cell("wall (median)", lambda rows, trusted: _marked(rows["wall_time_s"].map(format_seconds), trusted))),
    Column("wall_time_std_s", "the median of the trials' standard deviations"),
    Column("spread", "std / mean of the repetitions",
           cell=Cell("± std", lambda rows, trusted: _texts(rows["spread"], lambda spread: f"{spread:.1%}"),
                     legend="± std = the repetitions' standard deviation / their mean (the spread warning's measure)")),
    Column("speed_drift", "std / mean of the trial's speed probes (a fixed ~1 ms loop timed on its CPU right before and after "
           "each recorded repetition): how much the CPU's speed, as the trial's process saw it, moved while it ran; the median "
           "over the pooled trials, blank for runs logged without probes",
           cell=Cell("cpu drift", lambda rows, trusted: _texts(rows["speed_drift"], lambda drift: f"{drift:.1%}"),
                     when=lambda rows, pooled: bool(rows["speed_drift"].notna().any()),
                     legend="cpu drift = how much the CPU's own speed moved during the trial: its speed probes' std / mean "
                            "(a ± std close to it moved with the machine, not with the backend)")),
    Column("speedup", "serial's wall time / this one's (same host, interpreter, workload and n)",
           cell=Cell("speedup", lambda rows, trusted: [format_speedup(v, c, ok) for v, c, ok in zip(rows["speedup"], rows["conclusion"], trusted)],
                     legend="speedup = serial wall time / this one (same host, interpreter, workload, n): the geometric mean of the "
                            "per-round ratios where paired, else the ratio of medians",
                     headline=True, toned=True)),
    Column("speedup_ci_low", "the speedup's interval, low end",
           cell=Cell("{confidence:.0%} CI",
                     lambda rows, trusted: [format_interval(lo, hi) for lo, hi in zip(rows["speedup_ci_low"], rows["speedup_ci_high"])],
                     legend="CI = {confidence:.0%} interval of the speedup: paired (from the per-round ratios of repetitions measured "
                            "together, which cancels the machine's drift) where the trials ran in interleaved rounds, else a bootstrap of "
                            "the ratio of medians (CI from: N pairs, or unpaired)",
                     headline=True)),
    Column("speedup_ci_high", "the speedup's interval, high end"),
    # which interval each row has: every output says it
    Column("ci_method", "paired, unpaired, or blank without an interval",
           cell=Cell("CI from", lambda rows, trusted: [_pairs_text(m, p, k) for m, p, k in zip(rows["ci_method"], rows["pairs"], rows["processes"])])),
    Column("pairs", "rounds that gave a paired ratio"),
    Column("processes", "couples of processes (baseline's, this row's) the pairs came from: with 2 or more the interval is "
                        "the cluster-robust one over them, which sees what stays the same for a process's life (repeats_per_process)"),
    Column("conclusion", "faster, slower, no difference, cannot tell, or blank"),
    Column("self_speedup", "the same backend's wall time at 1 worker / this one",
           cell=Cell("self", _mapped("self_speedup", format_ratio), legend="self = vs the same backend at 1 worker")),
    Column("amdahl_serial_fraction", "the Amdahl fit's serial fraction f", origin="fit"),
    Column("amdahl_ceiling", "the Amdahl fit's ceiling 1/f", origin="fit"),
    Column("amdahl_reason", "why the Amdahl fit is blank, when it is", origin="fit"),
    Column("efficiency", "speedup / workers",
           cell=Cell("efficiency", _mapped("efficiency", format_percent), legend="efficiency = speedup / workers")),
    Column("karp_flatt", "(1/speedup - 1/workers) / (1 - 1/workers): the measured serial fraction",
           cell=Cell("Karp-Flatt", _mapped("karp_flatt", format_fraction),
                     legend="Karp-Flatt = (1/speedup - 1/workers) / (1 - 1/workers), the measured serial fraction")),
    # the CPU use the verdict's GIL and parallelism lines cite
    Column("cpu_utilization", "CPU time / wall time of the repetitions",
           cell=Cell("cores", lambda rows, trusted: _texts(rows["cpu_utilization"], lambda cores: f"{cores:.1f}"),
                     legend="cores = CPU time / wall time of the repetitions (1.0: one core busy)")),
    # the start-up share and the imbalance the verdict's start-up and imbalance lines cite; shown only
    # when some row may be cited, so they have no line in the legend (which lists what every table shows)
    Column("startup_s", "the median time to get the workers ready",
           cell=Cell("start-up", lambda rows, trusted: _texts(startup_share(rows), lambda share: f"{share:.0%}"),
                     when=lambda rows, pooled: bool(start_up_cited(rows).any()))),
    Column("dispatch_s", "the median time until the last worker began its first chunk"),
    Column("load_imbalance", "the median of the workers' busiest / mean busy time",
           cell=Cell("imbalance", lambda rows, trusted: _texts(rows["load_imbalance"], lambda value: f"{value:.2f}x"),
                     when=lambda rows, pooled: bool((pd.to_numeric(rows["load_imbalance"], errors="coerce") >= IMBALANCE).any()))),
    Column("trust", "ok, or why the row's figures may be off", cell=Cell("trust", lambda rows, trusted: rows["trust"], right=False)),
    Column("warnings", "the pooled trials' warnings, counted",
           cell=Cell("warnings", lambda rows, trusted: [str(count) if count else BLANK for count in rows["warnings"]],
                     when=lambda rows, pooled: bool((rows["warnings"] > 0).any()))),
    Column("python_version", "the interpreter's version", origin="fact"),
    Column("python_implementation", "CPython, PyPy, ...", origin="fact"),
    Column("python_free_threaded", "a free-threaded build", origin="fact"),
    Column("python_gil_enabled", "the GIL was on", origin="fact"),
    Column("host_cpu_model", "the host's CPU", origin="fact"),
    Column("host_cpu_usable", "the CPUs the trial could use", origin="fact"),
    # the CSV joins them with spaces, the JSON lists them: each exporter adds them its own way
    Column("run_ids", "the pooled trials' run ids", exported=False),
    # for the verdict's advice on a wide interval: which limit to raise (each run's parsweep.repeats_stop tag)
    Column("repeats_stop", "what ended the pooled trials' repetitions: the repeats=auto rules that stopped them, or repeats (a fixed count)",
           exported=False),
)

#: The exports' first columns: the spec's, in the spec's order (SPEC.md, "Report contract": binding),
#: then the conclusion that qualifies the speedup.
EXPORT_FIRST = (
    "host", "workload", "n", "backend", "workers", "wall_time_s", "speedup", "efficiency", "karp_flatt",
    "python", "trust", "warnings", "conclusion",
)


def table_columns() -> list[str]:
    """The columns of :func:`analysis.model.metrics.speedup_table`, in order (the fit's are joined after)."""
    return [column.name for column in COLUMNS if column.origin != "fit"]


def fact_columns() -> list[str]:
    """Facts of the pooled trials a row keeps (the first trial's: they are the same by identity)."""
    return [column.name for column in COLUMNS if column.origin == "fact"]


def computed() -> list[tuple[str, Callable[[pd.DataFrame], Any]]]:
    """(name, how) of the columns derived from the others (``compute``), in order."""
    return [(column.name, column.compute) for column in COLUMNS if column.compute is not None]


def export_columns() -> list[str]:
    """The CSV's and the JSON's columns, in order: :data:`EXPORT_FIRST`, then the other exported ones."""
    rest = [column.name for column in COLUMNS if column.exported and column.name not in EXPORT_FIRST]
    return [*EXPORT_FIRST, *rest]


def shown() -> list[tuple[str, Cell]]:
    """(column name, its cell) of every column people see, in order."""
    return [(column.name, column.cell) for column in COLUMNS if column.cell is not None]


def legends(headline: bool, rows: pd.DataFrame | None = None, pooled: bool = False) -> Sequence[str]:
    """The legend pieces of the headline cells (``True``) or of the others, in order; with
    ``rows``, only of the cells those rows show (a column the table leaves out is not explained)."""
    return [cell.legend for _, cell in shown()
            if cell.legend and cell.headline == headline and (rows is None or rows.empty or cell.when(rows, pooled))]
