"""The report as JSON: the table, the fits, the crossovers, hosts, counts and notes."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from analysis.report import Report


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
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
    return {
        "title": report.title,
        "selection": {k: v for k, v in report.selection.items() if isinstance(v, (str, type(None)))},
        "confidence": report.confidence,
        "counts": report.counts,
        "hosts": _records(report.hosts),
        "rows": _records(report.csv_frame()),
        "amdahl": _records(report.amdahl),
        "crossover": _records(report.crossover),
        "notes": report.notes,
    }


def to_json(report: Report) -> str:
    """:func:`to_dict` as indented JSON."""
    return json.dumps(to_dict(report), indent=2, default=str) + "\n"
