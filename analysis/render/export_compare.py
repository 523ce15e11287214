"""A comparison (:class:`analysis.model.compare.Comparison`) for people and for tools: terminal,
markdown, CSV and JSON, all reading the same model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.model.compare import COMPARE_COLUMNS, ONLY_COLUMNS, Comparison
from analysis.model.formatting import (
    BLANK,
    UNTRUSTED_MARK,
    backend_labels,
    format_interval,
    format_n,
    format_seconds,
    format_times,
    is_blank,
)
from analysis.model.trust import is_ok
from analysis.render.export_csv import frame_csv
from analysis.render.export_json import records
from analysis.render.terminal import plain_table
from analysis.render.views import Section

COMPARE_FORMATS = ("table", "markdown", "csv", "json")
FILE_NAMES = {"table": "compare.txt", "markdown": "compare.md", "csv": "compare.csv", "json": "compare.json"}
LEGEND = (
    "B/A = B's median / A's (above 1: B is slower); CI = {confidence:.0%} bootstrap interval of that ratio; "
    "p = two-sided Mann-Whitney U test on the repetitions; faster/slower only when p < {alpha:g} and the interval "
    "excludes 1; no difference only when p >= {alpha:g} and the interval lies within 0.95-1.05 (1 +- 5%, as in the report); "
    "cannot tell: too few repetitions for the test ever to reach p < {alpha:g}, or too noisy."
)


def _verdict_cell(row: Any) -> str:
    if row.verdict in ("faster", "slower"):
        return format_times(row.ratio)
    if row.verdict == "no difference":
        return "no difference"
    return str(row.reason)


def compare_section(comparison: Comparison) -> Section:
    """The compared rows as formatted cells (verdicts coloured only where supported)."""
    rows = comparison.rows
    cells = pd.DataFrame(index=rows.index)
    for column in ("host", "python"):
        if column not in comparison.keys and (rows[f"{column}_a"].nunique() > 1 or rows[f"{column}_b"].nunique() > 1 or
                                              (rows[f"{column}_a"] != rows[f"{column}_b"]).any()):
            cells[f"{column} A"] = rows[f"{column}_a"]
            cells[f"{column} B"] = rows[f"{column}_b"]
        elif column in comparison.keys:
            cells[column] = rows[f"{column}_a"]
    if rows["workload"].nunique() > 1:
        cells["workload"] = rows["workload"]
    cells["n"] = rows["n"].map(format_n)
    cells["backend"] = backend_labels(rows)
    cells["workers"] = rows["workers"].astype(str)
    cells["A"] = rows["median_a_s"].map(format_seconds)
    cells["B"] = rows["median_b_s"].map(format_seconds)
    cells["B/A"] = rows["ratio"].map(lambda v: BLANK if is_blank(v) else f"{v:.2f}x")
    cells[f"{comparison.confidence:.0%} CI"] = [format_interval(lo, hi) for lo, hi in zip(rows["ratio_ci_low"], rows["ratio_ci_high"])]
    cells["p"] = rows["p_value"].map(lambda p: BLANK if is_blank(p) else f"{p:.3g}")
    cells["reps"] = [f"{a} vs {b}" for a, b in zip(rows["repetitions_a"], rows["repetitions_b"])]
    untrusted = [not (is_ok(a) and is_ok(b)) for a, b in zip(rows["trust_a"], rows["trust_b"])]
    # a verdict built on an untrusted side carries the mark, in every format
    cells["verdict"] = [_verdict_cell(row) + (f" {UNTRUSTED_MARK}" if bad else "") for row, bad in zip(rows.itertuples(index=False), untrusted)]
    if any(untrusted):
        cells["trust"] = [a if a == b else f"A: {a}; B: {b}" for a, b in zip(rows["trust_a"], rows["trust_b"])]
    tones = [{"slower": "slower", "faster": "faster"}.get(v, "") for v in rows["verdict"]]
    return Section(
        f"B against A: {len(rows)} row{'s' if len(rows) != 1 else ''} both have", cells.reset_index(drop=True),
        right=("n", "workers", "A", "B", "B/A", f"{comparison.confidence:.0%} CI", "p", "reps"),
        tones={"verdict": tones}, untrusted=untrusted,
    )


def _only_lines(frame: pd.DataFrame, side: str) -> list[str]:
    lines = []
    for row in frame.itertuples(index=False):
        config = f"{row.backend}" + (f" x{int(row.workers)}" if row.backend != "serial" else "")
        lines.append(f"only in {side}: {row.workload} n={format_n(row.n)} {config} on {row.python} (host {row.host}), "
                     f"{format_seconds(row.wall_time_s)}")
    return lines


def summary_lines(comparison: Comparison) -> list[str]:
    """A = ..., B = ..., the verdict counts, the geometric mean, the one-sided rows."""
    counts = comparison.counts()
    verdicts = ", ".join(f"{counts[v]} {v}" for v in ("slower", "faster", "no difference", "cannot tell") if counts.get(v))
    lines = [f"A = {comparison.a.label}", f"B = {comparison.b.label}",
             f"{counts['compared']} rows compared" + (f": {verdicts}" if verdicts else "")]
    mean = comparison.geometric_mean()
    if not is_blank(mean):
        lines.append(f"geometric mean of B/A over them: {mean:.2f}x (figures only: the verdicts above are per row)")
    matched = ", ".join(comparison.keys)
    lines.append(f"rows matched on {matched}")
    return lines + _only_lines(comparison.only_a, "A") + _only_lines(comparison.only_b, "B")


def legend(comparison: Comparison) -> str:
    return LEGEND.format(confidence=comparison.confidence, alpha=comparison.alpha)


def compare_text(comparison: Comparison) -> str:
    """The comparison as plain text (the terminal rendering)."""
    parts = [comparison.title, ""]
    if len(comparison.rows):
        parts += [plain_table(compare_section(comparison)), ""]
    else:
        parts += ["No row is on both sides.", ""]
    parts += summary_lines(comparison)
    parts.append(legend(comparison))
    return "\n".join(parts) + "\n"


def print_compare(comparison: Comparison, console: Any = None) -> None:
    """The comparison on an interactive terminal (rich: verdicts coloured, untrusted rows dimmed)."""
    from rich.console import Console

    from analysis.render.terminal import rich_table

    console = console or Console()
    console.print(comparison.title, style="bold", highlight=False)
    if len(comparison.rows):
        console.print(rich_table(compare_section(comparison)))
    else:
        console.print("No row is on both sides.", highlight=False)
    for line in summary_lines(comparison):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(legend(comparison), style="dim", highlight=False)


def compare_markdown(comparison: Comparison) -> str:
    """The comparison as GitHub-flavoured markdown."""
    from analysis.render.export_markdown import markdown_table

    parts = [f"## {comparison.title}"]
    parts.append(markdown_table(compare_section(comparison)) if len(comparison.rows) else "No row is on both sides.")
    parts.append("\n".join(f"- {line}" for line in summary_lines(comparison)))
    parts.append(f"_{legend(comparison)}_")
    return "\n\n".join(parts) + "\n"


def compare_frame(comparison: Comparison) -> pd.DataFrame:
    """Every row of the comparison, one-sided ones too (``side``: both, A only, B only)."""
    both = comparison.rows.assign(side="both")
    only = []
    for frame, side, suffix in ((comparison.only_a, "A only", "a"), (comparison.only_b, "B only", "b")):
        if frame.empty:
            continue
        renamed = frame.rename(columns={"host": f"host_{suffix}", "python": f"python_{suffix}",
                                        "wall_time_s": f"median_{suffix}_s", "trust": f"trust_{suffix}"})
        only.append(renamed.assign(side=side))
    frame = pd.concat([both, *only], ignore_index=True) if only else both
    return frame[["side", *COMPARE_COLUMNS]]


def compare_csv(comparison: Comparison) -> str:
    """:func:`compare_frame` as CSV."""
    return frame_csv(compare_frame(comparison))


def compare_dict(comparison: Comparison) -> dict[str, Any]:
    """Plain data for JSON: both sides, the matching keys, the rows, the one-sided rows, the counts."""
    def side(s: Any) -> dict[str, Any]:
        return {"source": s.source, "tracking_uri": s.tracking_uri, "trials": int(len(s.trials))}

    return {
        "a": side(comparison.a),
        "b": side(comparison.b),
        "matched_on": comparison.keys,
        "confidence": comparison.confidence,
        "alpha": comparison.alpha,
        "counts": comparison.counts(),
        "geometric_mean_ratio": None if is_blank(comparison.geometric_mean()) else comparison.geometric_mean(),
        "rows": records(comparison.rows[COMPARE_COLUMNS]),
        "only_a": records(comparison.only_a[ONLY_COLUMNS]),
        "only_b": records(comparison.only_b[ONLY_COLUMNS]),
    }


def compare_json(comparison: Comparison) -> str:
    return json.dumps(compare_dict(comparison), indent=2, default=str) + "\n"


RENDERERS = {"table": compare_text, "markdown": compare_markdown, "csv": compare_csv, "json": compare_json}


def render_compare(comparison: Comparison, fmt: str = "table") -> str:
    """The comparison as text in one of :data:`COMPARE_FORMATS`."""
    if fmt not in RENDERERS:
        raise ValueError(f"format={fmt}: with --compare, one of {', '.join(COMPARE_FORMATS)}")
    return RENDERERS[fmt](comparison)


def write_compare(comparison: Comparison, out_dir: str | Path) -> list[Path]:
    """Every format of :data:`COMPARE_FORMATS` into ``out_dir`` (``compare.txt``, ``.md``, ``.csv``, ``.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in COMPARE_FORMATS:
        path = out / FILE_NAMES[fmt]
        path.write_text(render_compare(comparison, fmt), encoding="utf-8")
        written.append(path)
    return written
