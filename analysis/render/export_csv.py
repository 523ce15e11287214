"""The report's tables as CSV.

``report.csv``: one row per (host, python, workload, n, backend, start_method, chunks,
workers), the spec's columns first (:func:`analysis.model.columns.export_columns`), then ``run_ids``
(space-separated) to join with ``warnings.csv``: one row per warning, with its trial's run id
and name (:data:`analysis.model.report.WARNING_COLUMNS`).
"""

from __future__ import annotations

import pandas as pd

from analysis.model.report import WARNING_COLUMNS, Report
from analysis.render.exporter import Exporter

FLOAT_FORMAT = "%.6g"


def frame_csv(frame: pd.DataFrame) -> str:
    """Any frame as parsweep writes CSV: no index, blank cells for missing figures, 6 significant digits."""
    return str(frame.to_csv(index=False, na_rep="", float_format=FLOAT_FORMAT, lineterminator="\n"))


def to_csv(report: Report) -> str:
    """The main table as CSV (:func:`analysis.model.columns.export_columns`, then ``run_ids``)."""
    return frame_csv(report.csv_frame().assign(run_ids=report.table["run_ids"].map(" ".join)))


def warnings_csv(report: Report) -> str:
    """Every warning of the trials the report pools, one row each, with its trial."""
    return frame_csv(report.warnings[WARNING_COLUMNS])


#: The warnings go beside the table, in a file of their own (one row per warning).
WARNINGS_FILE = "warnings.csv"
EXPORTERS = [Exporter("csv", "report.csv", to_csv, companions=((WARNINGS_FILE, warnings_csv),))]
