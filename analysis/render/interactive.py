"""The report's speedups as one interactive, self-contained HTML page (``report/interactive.html``).

One chart per (host, workload, n): speedup against workers, a line per backend, the interval as a
bar. Hovering a point shows its speedup, interval (and how it was computed), efficiency, trials and
trust. Everything is inline (SVG drawn here, a few lines of script, no CDN, no network), so MLflow's
artifact viewer shows it as it is, offline too.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from analysis.model.formatting import format_n
from analysis.model.report import Report
from analysis.model.trust import is_ok

INTERACTIVE_FILE = "interactive.html"
WIDTH, HEIGHT = 520, 320
MARGIN = {"left": 52, "right": 16, "top": 28, "bottom": 44}
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.2em; } h2 { font-size: 1em; margin: 1.2em 0 0.2em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
svg { background: #fff; border: 1px solid #ddd; }
svg text { font-size: 11px; fill: #444; }
.point { cursor: pointer; }
.point:hover { stroke: #000; stroke-width: 2; }
.untrusted { fill: #fff !important; }
#tip { position: fixed; display: none; background: #222; color: #fff; padding: 0.4em 0.6em;
       border-radius: 4px; font-size: 12px; pointer-events: none; white-space: pre; }
.verdict { max-width: 60em; }
"""
# Shows a point's data-tip beside the cursor; the SVG <title> says the same where scripts do not run.
SCRIPT = """
const tip = document.getElementById('tip');
document.querySelectorAll('.point').forEach(p => {
  p.addEventListener('mousemove', e => {
    tip.textContent = p.dataset.tip; tip.style.display = 'block';
    tip.style.left = (e.clientX + 14) + 'px'; tip.style.top = (e.clientY + 10) + 'px';
  });
  p.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
});
"""


def _fmt(value: Any, digits: int = 2) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{number:.{digits}f}" if math.isfinite(number) else "–"


def point_tip(row: pd.Series, confidence: float) -> str:
    """What hovering a point shows: the row's figures, interval and trust, one per line."""
    lines = [
        f"{row['backend']} · {int(row['workers'])} workers · n={format_n(int(row['n']))}",
        f"speedup {_fmt(row['speedup'])}×",
        f"{confidence:.0%} CI {_fmt(row['speedup_ci_low'])} – {_fmt(row['speedup_ci_high'])}"
        + (f" ({row['ci_method']})" if isinstance(row.get("ci_method"), str) and row.get("ci_method") else ""),
        f"efficiency {_fmt(row['efficiency'])}",
        f"trials {int(row['trials'])}, repetitions {int(row['repetitions'])}",
        f"trust: {row['trust']}",
    ]
    return "\n".join(lines)


def _chart(rows: pd.DataFrame, title: str, confidence: float) -> str:
    parallel = rows[(rows["backend"] != "serial") & rows["speedup"].notna()]
    if parallel.empty:
        return ""
    top_workers = max(2, int(parallel["workers"].max()))
    highs = pd.concat([parallel["speedup"], parallel["speedup_ci_high"]]).astype(float)
    top_speedup = max(2.0, float(highs[highs.map(math.isfinite)].max()) * 1.1)
    inner_w = WIDTH - MARGIN["left"] - MARGIN["right"]
    inner_h = HEIGHT - MARGIN["top"] - MARGIN["bottom"]

    def x(workers: float) -> float:
        return MARGIN["left"] + (workers - 0.5) / (top_workers) * inner_w

    def y(speedup: float) -> float:
        return MARGIN["top"] + inner_h - min(speedup, top_speedup) / top_speedup * inner_h

    parts = [f'<svg width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>']
    bottom = MARGIN["top"] + inner_h
    parts.append(f'<line x1="{MARGIN["left"]}" y1="{bottom}" x2="{WIDTH - MARGIN["right"]}" y2="{bottom}" stroke="#888"/>')
    parts.append(f'<line x1="{MARGIN["left"]}" y1="{MARGIN["top"]}" x2="{MARGIN["left"]}" y2="{bottom}" stroke="#888"/>')
    for workers in sorted(set(parallel["workers"].astype(int)) | {1}):
        parts.append(f'<text x="{x(workers):.1f}" y="{bottom + 14}" text-anchor="middle">{workers}</text>')
    steps = 4
    for i in range(steps + 1):
        value = top_speedup * i / steps
        parts.append(f'<text x="{MARGIN["left"] - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.1f}</text>')
        parts.append(f'<line x1="{MARGIN["left"]}" y1="{y(value):.1f}" x2="{WIDTH - MARGIN["right"]}" y2="{y(value):.1f}" stroke="#eee"/>')
    parts.append(f'<text x="{MARGIN["left"] + inner_w / 2}" y="{HEIGHT - 8}" text-anchor="middle">workers</text>')
    parts.append(f'<text x="14" y="{MARGIN["top"] + inner_h / 2}" transform="rotate(-90 14 {MARGIN["top"] + inner_h / 2})" '
                 'text-anchor="middle">speedup vs serial (×)</text>')
    ideal_end = min(top_workers, top_speedup)
    parts.append(f'<line x1="{x(1):.1f}" y1="{y(1):.1f}" x2="{x(ideal_end):.1f}" y2="{y(ideal_end):.1f}" '
                 'stroke="#999" stroke-dasharray="4 3"><title>ideal: speedup = workers</title></line>')
    labels = parallel["backend"].astype(str) + parallel["start_method"].map(lambda m: "" if m in ("none", "", None) else f" ({m})")
    legend_y = MARGIN["top"] + 6
    for index, (label, line) in enumerate(parallel.assign(_label=labels).groupby("_label", sort=False)):
        color = COLORS[index % len(COLORS)]
        line = line.sort_values("workers")
        path = " ".join(f"{x(w):.1f},{y(s):.1f}" for w, s in zip(line["workers"], line["speedup"].astype(float)))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        for _, row in line.iterrows():
            cx, cy = x(float(row["workers"])), y(float(row["speedup"]))
            low, high = row["speedup_ci_low"], row["speedup_ci_high"]
            if pd.notna(low) and pd.notna(high):
                parts.append(f'<line x1="{cx:.1f}" y1="{y(float(low)):.1f}" x2="{cx:.1f}" y2="{y(float(high)):.1f}" stroke="{color}"/>')
            tip = point_tip(row, confidence)
            hollow = "" if is_ok(row["trust"]) else " untrusted"
            parts.append(f'<circle class="point{hollow}" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{color}" stroke="{color}" '
                         f'data-tip="{html.escape(tip)}"><title>{html.escape(tip)}</title></circle>')
        parts.append(f'<rect x="{MARGIN["left"] + 8}" y="{legend_y - 8}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{MARGIN["left"] + 22}" y="{legend_y + 1}">{html.escape(label)}</text>')
        legend_y += 14
    parts.append("</svg>")
    return "\n".join(parts)


def to_interactive_html(report: Report) -> str:
    """The page: title, verdict, one chart per (host, workload, n); hollow points are untrusted rows."""
    table = report.table
    body = [f"<h1>{html.escape(report.title)}</h1>"]
    if report.verdict:
        body.append('<div class="verdict"><ul>' + "".join(f"<li>{html.escape(line.strip())}</li>" for line in report.verdict) + "</ul></div>")
    body.append(f"<p>Hover a point for its speedup, {report.confidence:.0%} interval, efficiency and trust. "
                "A hollow point is a row not to be trusted (its trust says why).</p>")
    if table.empty:
        body.append("<p>No finished trials.</p>")
    for (host, workload), rows in table.groupby(["host", "workload"], sort=False):
        body.append(f"<h2>host {html.escape(str(host))} · workload {html.escape(str(workload))}</h2>")
        charts = [_chart(at_n, f"n = {format_n(int(n))}", report.confidence) for n, at_n in rows.groupby("n", sort=True)]
        body.append('<div class="charts">' + "".join(c for c in charts if c) + "</div>")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + f'\n<div id="tip"></div>\n<script>{SCRIPT}</script>\n'
        "</body></html>\n"
    )
