"""PNG plots of a report (matplotlib, Agg backend: no display needed).

Per (host, workload): speedup vs workers (one panel per n, ideal line, CI bars), an
efficiency heatmap (backend x workers, one panel per n), and median wall time vs n on
log-log axes (one panel per backend, a line per worker count). Each carries the host's CPU
model in its caption. When a report spans several interpreters, each (backend, interpreter)
is its own series ("process_pool · 3.13.5t"). Points of rows that are not trusted are drawn
hollow (heatmap cells get a "?"), and the legend says so.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.model.formatting import UNTRUSTED_MARK, backend_labels, format_n
from analysis.model.report import Report
from analysis.model.trust import is_ok
from analysis.render.views import host_caption

MAX_COLUMNS = 3


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _grid(
    plt: Any, panels: int, width: float = 4.6, height: float = 3.6, left: float = 0.85, right: float = 0.3
) -> tuple[Any, list[Any]]:
    """A figure of ``panels`` axes, up to three a row, with fixed margins (in inches).

    Fixed margins rather than matplotlib's constrained layout, which measures every label of
    every panel and costs more than drawing them (~40% of a sweep's plotting time). ``left``
    is also the gap between panels: each panel has its own tick labels and axis label.
    """
    columns = min(MAX_COLUMNS, max(1, panels))
    rows = math.ceil(max(1, panels) / columns)
    fig_w, fig_h = width * columns, height * rows + 0.9
    top, bottom, gap_h = 0.75, 1.0, 1.05  # suptitle + title; x label + caption; x label + next title
    axis_w = (fig_w - left - right - (columns - 1) * left) / columns
    axis_h = (fig_h - top - bottom - (rows - 1) * gap_h) / rows
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(fig_w, fig_h),
        squeeze=False,
        gridspec_kw={
            "left": left / fig_w,
            "right": 1 - right / fig_w,
            "bottom": bottom / fig_h,
            "top": 1 - top / fig_h,
            "wspace": left / axis_w,
            "hspace": gap_h / axis_h,
        },
    )
    flat = list(axes.flat)
    for extra in flat[panels:]:
        extra.set_visible(False)
    return figure, flat[:panels]


def series_labels(rows: pd.DataFrame) -> pd.Series:
    """``process_pool`` (with start method and chunks as :func:`backend_labels`), plus
    `` · 3.13.5t`` when the rows span several interpreters."""
    labels = backend_labels(rows)
    if rows["python"].nunique() > 1:
        labels = labels + " · " + rows["python"].astype(str)
    return labels


UNTRUSTED_LEGEND = "hollow: not trusted (see the trust column)"


def _hollow(ax: Any, x: Any, y: Any, trusted: pd.Series, color: str) -> bool:
    """Redraw the untrusted points of a series hollow; True when there were any."""
    bad = ~trusted.to_numpy(dtype=bool)
    if not bad.any():
        return False
    ax.plot(np.asarray(x)[bad], np.asarray(y)[bad], linestyle="none", marker="o", markersize=7,
            markerfacecolor="white", markeredgecolor=color, markeredgewidth=1.5, zorder=4)
    return True


LEGEND_MAX = 8  # a panel's legend names at most this many lines


def _legend_subset(counts: list[Any]) -> set[Any]:
    """The worker counts a legend names: all of them up to :data:`LEGEND_MAX`, else that many spread
    evenly from the first to the last (the lines are then coloured in order along a gradient, so the
    unnamed ones read between their named neighbours). A legend of 41 entries overflows its panel,
    and drawing it took a 41-trial sweep's report 0.11 s, a third of its plots' cost per trial
    (the 2-core VM, 2026-12-04, warm, in one process)."""
    if len(counts) <= LEGEND_MAX:
        return set(counts)
    return {counts[round(k * (len(counts) - 1) / (LEGEND_MAX - 1))] for k in range(LEGEND_MAX)}


def _untrusted_legend_entry(ax: Any) -> None:
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    proxy = Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="#444", label=UNTRUSTED_LEGEND)
    ax.legend(handles + [proxy], labels + [UNTRUSTED_LEGEND], fontsize=7)


def _finish(figure: Any, title: str, caption: str) -> None:
    figure.suptitle(title, fontweight="bold", y=1 - 0.12 / figure.get_figheight(), va="top")
    figure.text(0.5, 0.12 / figure.get_figheight(), caption, fontsize=8, color="#555", ha="center", va="bottom")


def plot_speedup(report: Report, host: str, workload: str) -> Any:
    """Speedup vs serial against workers, one panel per n, a line per backend, CI error bars."""
    plt = _pyplot()
    from matplotlib import ticker

    rows = report.table[(report.table["host"] == host) & (report.table["workload"] == workload)].copy()
    rows["label"] = series_labels(rows)
    rows["trusted"] = rows["trust"].map(is_ok)
    parallel = rows[rows["backend"] != "serial"]
    ns = sorted(rows["n"].unique())
    facts = report.hosts[report.hosts["host"] == host]["host_cpu_usable"].dropna()
    usable = int(float(facts.iloc[0])) if len(facts) else 0
    figure, axes = _grid(plt, len(ns))
    for ax, n in zip(axes, ns):
        untrusted = False
        at_n = parallel[parallel["n"] == n]
        top = max(2, int(at_n["workers"].max()) if not at_n.empty else 2)
        ax.plot([1, top], [1, top], linestyle="--", color="#999", linewidth=1, label="ideal (speedup = workers)")
        ax.axhline(1, color="#bbb", linewidth=0.8, linestyle=":")
        for label, line in at_n.groupby("label", sort=False):
            line = line.sort_values("workers")
            low = (line["speedup"] - line["speedup_ci_low"]).clip(lower=0).fillna(0)
            high = (line["speedup_ci_high"] - line["speedup"]).clip(lower=0).fillna(0)
            drawn = ax.errorbar(line["workers"], line["speedup"], yerr=[low, high], marker="o", capsize=3, label=label)
            untrusted |= _hollow(ax, line["workers"], line["speedup"], line["trusted"], drawn.lines[0].get_color())
        ax.set_title(f"n = {format_n(n)}")
        ax.set_xlabel("workers (threads or processes)")
        ax.set_ylabel("speedup vs serial (×)")
        if usable and usable < top:
            ax.axvline(usable, color="#c66", linewidth=0.8, linestyle=":", label=f"usable CPUs ({usable})")
        ax.set_xlim(0.5, top + 0.5)
        tested = sorted(set(at_n["workers"].astype(int)) | {1})
        if len(tested) <= 12:
            ax.set_xticks(tested)
        else:
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        highest = at_n[["speedup", "speedup_ci_high"]].max().max()
        # the ideal line leaves the plot rather than flatten what was measured
        ax.set_ylim(0, max(2.0, 1.15 * float(highest)) if pd.notna(highest) else top)
        ax.grid(alpha=0.3)
        if untrusted:
            _untrusted_legend_entry(ax)
        else:
            ax.legend(fontsize=7)
    _finish(figure, f"Speedup vs workers · workload {workload} (bars: {report.confidence:.0%} CI)", host_caption(report, host))
    return figure


def plot_efficiency(report: Report, host: str, workload: str) -> Any:
    """Parallel efficiency (speedup / workers) as a backend x workers heatmap, one panel per n."""
    plt = _pyplot()
    rows = report.table[(report.table["host"] == host) & (report.table["workload"] == workload)].copy()
    rows["label"] = series_labels(rows)
    rows["mark"] = np.where(rows["trust"].map(is_ok), "", UNTRUSTED_MARK)
    ns = sorted(rows["n"].unique())
    longest = max((len(str(label)) for label in rows["label"]), default=8)
    figure, axes = _grid(plt, len(ns), width=5.2, left=0.6 + 0.075 * longest, right=1.3)
    top = max(1.0, float(np.nanmax(rows["efficiency"].to_numpy(dtype=float))) if rows["efficiency"].notna().any() else 1.0)
    image = None
    for ax, n in zip(axes, ns):
        at_n = rows[rows["n"] == n]
        grid = at_n.pivot_table(index="label", columns="workers", values="efficiency", aggfunc="first", sort=False)
        marks = at_n.pivot_table(index="label", columns="workers", values="mark", aggfunc="first", sort=False)
        marks = marks.reindex(index=grid.index, columns=grid.columns).fillna("")
        values = grid.to_numpy(dtype=float)
        ax.set_title(f"n = {format_n(n)}")
        if values.size == 0:  # efficiency needs a serial baseline, and this n has none
            ax.text(0.5, 0.5, "no serial baseline at this n:\nno efficiency", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        image = ax.imshow(values, cmap="viridis", vmin=0, vmax=top, aspect="auto")
        ax.set_xticks(range(len(grid.columns)), [str(w) for w in grid.columns])
        ax.set_yticks(range(len(grid.index)), list(grid.index))
        if values.size <= 120:
            for (i, j), value in np.ndenumerate(values):
                if not np.isnan(value):
                    ax.text(j, i, f"{value:.0%}{marks.iat[i, j]}", ha="center", va="center", fontsize=7, color="white" if value < top * 0.6 else "black")
        ax.set_xlabel("workers (threads or processes)")
        if ax is axes[0]:
            ax.set_ylabel("backend")
    if image is not None:
        width, height = figure.get_size_inches()
        bar = figure.add_axes((1 - 1.0 / width, 1.0 / height, 0.18 / width, 1 - 1.75 / height))
        figure.colorbar(image, cax=bar, label="efficiency (speedup / workers)")
    title = f"Parallel efficiency · workload {workload}"
    if (rows["mark"] != "").any():
        title += f" ({UNTRUSTED_MARK}: not trusted, see the trust column)"
    _finish(figure, title, host_caption(report, host))
    return figure


def plot_wall_time(report: Report, host: str, workload: str) -> Any:
    """Median wall time against n on log-log axes, one panel per backend, a line per worker count."""
    plt = _pyplot()
    from matplotlib import ticker

    rows = report.table[(report.table["host"] == host) & (report.table["workload"] == workload)].copy()
    rows["label"] = series_labels(rows)
    rows["trusted"] = rows["trust"].map(is_ok)
    labels = list(dict.fromkeys(rows["label"]))
    figure, axes = _grid(plt, len(labels))
    for ax, label in zip(axes, labels):
        untrusted = False
        panel = rows[rows["label"] == label]
        counts = sorted(panel["workers"].unique())
        named = _legend_subset(counts)
        graded = plt.get_cmap("viridis") if len(counts) > LEGEND_MAX else None
        for position, (workers, line) in enumerate(panel.groupby("workers")):
            line = line.sort_values("n")
            style = {"color": graded(position / (len(counts) - 1) * 0.9)} if graded is not None else {}
            name = f"{workers} worker{'s' if workers != 1 else ''}" if workers in named else "_nolegend_"
            (drawn,) = ax.plot(line["n"], line["wall_time_s"], marker="o", label=name, **style)
            untrusted |= _hollow(ax, line["n"], line["wall_time_s"], line["trusted"], drawn.get_color())
        ax.set_xscale("log")
        ax.set_yscale("log")
        # plain-text tick labels (matplotlib's default log labels are mathtext, slow to lay out),
        # at 1-2-5 steps when the data spans less than two decades
        for axis, values, formatter in (
            (ax.xaxis, rows["n"], lambda v, _: format_n(round(v)) if v >= 1 else f"{v:g}"),
            (ax.yaxis, rows["wall_time_s"], lambda v, _: f"{v:g}"),
        ):
            low, high = float(values.min()), float(values.max())
            if low > 0 and high / low < 100:
                axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(ticker.FuncFormatter(formatter))
            axis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(label)
        ax.set_xlabel("n (range size, items)")
        ax.set_ylabel("median wall time (s)")
        ax.grid(alpha=0.3)
        if untrusted:
            _untrusted_legend_entry(ax)
        else:
            ax.legend(fontsize=7, ncol=2 if rows["workers"].nunique() > 6 else 1)
    _finish(figure, f"Wall time vs n · workload {workload}", host_caption(report, host))
    return figure


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "-", text).strip("-") or "x"


def _has_contender(rows: pd.DataFrame) -> bool:
    """A speedup to show: a trial that is not a serial baseline (whose own speedup is 1 by
    definition) and that has a baseline to be measured against (without one its speedup, and so
    its efficiency, is blank, and the plot would be empty axes)."""
    return bool(((rows["backend"] != "serial") & rows["speedup"].notna()).any())


def _has_two_rows(rows: pd.DataFrame) -> bool:
    """Two wall times to compare: two sizes, or two trials at one."""
    return len(rows) >= 2


#: Each plot: its file name, how it is drawn, and whether one host and workload's rows give it
#: something to compare (a plot without is not drawn).
PLOTS = (
    ("speedup_vs_workers", plot_speedup, _has_contender),
    ("efficiency_heatmap", plot_efficiency, _has_contender),
    ("wall_time_vs_n", plot_wall_time, _has_two_rows),
)


def write_plots(report: Report, out_dir: str | Path, dpi: int = 110) -> list[Path]:
    """Write the report's plots as PNG into ``out_dir``; returns the paths written.

    Files: ``speedup_vs_workers.png``, ``efficiency_heatmap.png``, ``wall_time_vs_n.png``,
    suffixed ``-<host>-<workload>`` when the report spans more than one of those. A plot with
    nothing to compare (:data:`PLOTS`) is not drawn: a serial-only sweep, or one without a serial
    trial, gets the wall-time plot alone, a 1-trial sweep none, and then matplotlib is not even imported (benchmarks/startup.py:
    a 1-trial sweep 0.6 s sooner).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = report.table
    if table.empty:
        return []
    pairs = list(table[["host", "workload"]].drop_duplicates().itertuples(index=False, name=None))
    written = []
    for host, workload in pairs:
        suffix = "" if len(pairs) == 1 else f"-{_slug(str(host))}-{_slug(str(workload))}"
        rows = table[(table["host"] == host) & (table["workload"] == workload)]
        for name, draw, compares in PLOTS:
            if not compares(rows):
                continue
            plt = _pyplot()
            figure = draw(report, host, workload)
            path = out / f"{name}{suffix}.png"
            figure.savefig(path, dpi=dpi)
            plt.close(figure)
            written.append(path)
    return written
