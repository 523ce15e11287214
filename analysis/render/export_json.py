"""The report as JSON: the table, the verdict, the fits, the crossovers, the interpreters, the
warnings with their trials, hosts, counts and notes."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from analysis.model.report import WARNING_COLUMNS, Report
from analysis.render.exporter import Exporter


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts: numpy scalars as Python numbers, missing figures as ``None``."""
    out = []
    for record in frame.to_dict(orient="records"):
        clean = {}
        for key, value in record.items():
            if hasattr(value, "item"):
                value = value.item()
            if value is pd.NA or value is None or (isinstance(value, float) and not math.isfinite(value)):
                value = None
            clean[str(key)] = value
        out.append(clean)
    return out


def to_dict(report: Report) -> dict[str, Any]:
    """Plain data (missing figures as ``None``), ready for ``json.dumps``."""
    rows = report.csv_frame().assign(run_ids=report.table["run_ids"])
    return {
        "title": report.title,
        "selection": {k: v for k, v in report.selection.items() if isinstance(v, (str, type(None)))},
        "confidence": report.confidence,
        "counts": report.counts,
        "verdict": report.verdict,
        "hosts": records(report.hosts),
        "rows": records(rows),
        "amdahl": records(report.amdahl),
        "crossover": records(report.crossover),
        "interpreters": records(report.interpreters),
        "fastest": records(report.fastest),
        "warnings": records(report.warnings[WARNING_COLUMNS]),
        "notes": report.notes,
    }


def to_json(report: Report) -> str:
    """:func:`to_dict` as indented JSON."""
    return json.dumps(to_dict(report), indent=2, default=str) + "\n"


EXPORTERS = [Exporter("json", "report.json", to_json)]
