"""What a sweep leaves behind when it ends: the speedup table in the terminal (and, as the
analysis grows, on the sweep's parent run)."""

from __future__ import annotations

from analysis.load import load_sweep
from analysis.table import format_speedup_table, speedup_table


def publish_sweep(tracking_uri: str, sweep_run_id: str) -> str:
    """Build the sweep's speedup table from MLflow and return it as terminal text."""
    return format_speedup_table(speedup_table(load_sweep(tracking_uri, sweep_run_id)))
