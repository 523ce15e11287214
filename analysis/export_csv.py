"""The report's main table as CSV: one row per (host, workload, n, backend, start_method, chunks, workers)."""

from __future__ import annotations

from analysis.report import Report


def to_csv(report: Report) -> str:
    """CSV with the columns of :data:`analysis.report.CSV_COLUMNS`; blank cells where a figure is missing."""
    return report.csv_frame().to_csv(index=False, na_rep="", float_format="%.6g", lineterminator="\n")
