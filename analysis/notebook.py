"""The MLflow UI as the lab notebook: a report's figures written back onto the runs they describe.

A sweep's report is a table of rows; each row pools one or more trial runs. So that MLflow's own
views (the runs table, the chart view, "Compare", parallel coordinates) can show a speedup with no
export, each trial run gets its row's figures:

- metrics (:data:`TRIAL_METRICS`): ``speedup``, ``speedup_ci_low``, ``speedup_ci_high``,
  ``efficiency``, each at step 0;
- tags: ``parsweep.speedup_trust`` (the row's trust, which adds its baseline's reasons to the
  trial's own ``parsweep.trust``) and ``parsweep.ci_method`` when the report says how its
  intervals were computed.

The sweep's run gets its headline figures (:data:`SWEEP_METRICS`) and ``parsweep.best`` (the
configuration of the best speedup).

**Idempotent.** A metric is logged only when the run does not hold that value already, and a tag
only when it differs: building the same report twice writes nothing the second time (no second
history entry at step 0). A figure that truly changed (new trials pooled, another interval method)
is logged again at step 0 with the current time, so MLflow's latest value is the new one.

Nothing here knows about Hydra; :mod:`analysis.publish` calls it at a sweep's end and
``parsweep-report`` when it rebuilds a sweep's report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from analysis.model.formatting import format_n
from analysis.model.report import Report
from analysis.model.trust import is_ok
from runner.tracking.names import (
    BEST_TAG,
    CI_METHOD_TAG,
    SPEEDUP_TRUST_TAG,
    SWEEP_METRICS,
    TRIAL_METRICS,
)

STEP = 0  # one point per figure: the chart view plots it against params (workers), not steps


def _number(value: Any) -> float | None:
    """A finite float, or None (blank figures are not logged: MLflow charts a NaN as a gap at best)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def trial_figures(report: Report) -> dict[str, tuple[dict[str, float], dict[str, str]]]:
    """Per trial run id: the metrics and tags of the report row that pools it."""
    figures: dict[str, tuple[dict[str, float], dict[str, str]]] = {}
    table = report.table
    if table.empty:
        return figures
    has_method = "ci_method" in table.columns
    for _, row in table.iterrows():
        metrics = {name: value for name in TRIAL_METRICS if (value := _number(row.get(name))) is not None}
        tags = {SPEEDUP_TRUST_TAG: str(row["trust"])}
        if has_method and isinstance(row["ci_method"], str) and row["ci_method"]:
            tags[CI_METHOD_TAG] = row["ci_method"]
        for run_id in row["run_ids"]:
            figures[str(run_id)] = (metrics, tags)
    return figures


def _configuration(row: pd.Series) -> str:
    """``process_pool · 4 workers · n=1e7 · python 3.11.7`` (what a best speedup was measured with)."""
    workers = int(row["workers"])
    parts = [str(row["backend"]), f"{workers} worker{'s' if workers != 1 else ''}", f"n={format_n(int(row['n']))}"]
    if row.get("start_method") not in (None, "none", ""):
        parts.append(f"start_method={row['start_method']}")
    parts.append(f"python {row['python']}")
    parts.append(f"workload {row['workload']}")
    return " · ".join(parts)


def sweep_figures(report: Report, duration_s: float | None = None) -> tuple[dict[str, float], dict[str, str]]:
    """The sweep's headline metrics (:data:`SWEEP_METRICS`) and the best speedup's configuration tag.

    The best speedup is the highest among trusted rows when there are any (an untrusted figure is
    not a headline), else among all rows.
    """
    table = report.table
    counts = report.counts
    metrics: dict[str, float] = {
        "trials": float(counts.get("total", 0)),
        "trials_finished": float(counts.get("finished", 0)),
        "trials_failed": float(counts.get("failed", 0)),
    }
    tags: dict[str, str] = {}
    if duration_s is not None:
        metrics["duration_s"] = round(float(duration_s), 3)
    if not table.empty:
        metrics["trusted_share"] = float(table["trust"].map(is_ok).mean())
        parallel = table[(table["backend"] != "serial") & table["speedup"].notna()]
        trusted = parallel[parallel["trust"].map(is_ok)]
        pool = trusted if not trusted.empty else parallel
        if not pool.empty:
            best = pool.loc[pool["speedup"].astype(float).idxmax()]
            for name, column in (("best_speedup", "speedup"), ("best_speedup_ci_low", "speedup_ci_low"),
                                 ("best_speedup_ci_high", "speedup_ci_high"), ("best_workers", "workers")):
                value = _number(best[column])
                if value is not None:
                    metrics[name] = value
            tags[BEST_TAG] = _configuration(best) + ("" if is_ok(best["trust"]) else f" (untrusted: {best['trust']})")
    return {k: v for k, v in metrics.items() if k in SWEEP_METRICS}, tags


def _changed(held: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in wanted.items() if held.get(key) != value}


def write_figures(
    client: Any, run_id: str, held: tuple[Mapping[str, float], Mapping[str, str]], metrics: dict[str, float], tags: dict[str, str]
) -> int:
    """Log what the run does not hold yet (``held``: its metrics and tags as read; one
    ``log_batch``); returns how many values were written."""
    from mlflow.entities import Metric, RunTag

    new_metrics = _changed(held[0], metrics)
    new_tags = _changed(held[1], tags)
    if not new_metrics and not new_tags:
        return 0
    stamp = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(key, value, stamp, STEP) for key, value in sorted(new_metrics.items())],
        tags=[RunTag(key, value) for key, value in sorted(new_tags.items())],
    )
    return len(new_metrics) + len(new_tags)


def sweep_duration_s(sweep_run: Any, trial_end_times_ms: Iterable[int | None]) -> float | None:
    """From the sweep's start to its last trial's end: a figure that a rebuilt report finds equal."""
    ends = [end for end in trial_end_times_ms if end]
    if not ends or not sweep_run.info.start_time:
        return None
    return max(0.0, float(max(ends) - sweep_run.info.start_time) / 1000)


def publish_figures(tracking_uri: str, sweep_run_id: str, report: Report) -> int:
    """Write the report's figures onto the sweep's trial runs and its own run; returns values written.

    Only the runs the report pooled are touched; a trial the report left out (FAILED, not finished)
    keeps whatever it held. What the trial runs hold is what the report's load read of them
    (:class:`analysis.data.load.HeldFigures`); a report built some other way has them read again.
    """
    from analysis.data.load import HELD, HeldFigures
    from runner.tracking.names import PARENT_TAG
    from runner.tracking.store import ensure_experiment_tags, open_client, search_all_runs

    client = open_client(tracking_uri)
    sweep = client.get_run(sweep_run_id)
    ensure_experiment_tags(client, sweep.info.experiment_id)  # stores made before parsweep set them
    held = report.selection.get(HELD)
    if not isinstance(held, HeldFigures) or report.selection.get("sweep_run_id") != sweep_run_id:
        held = HeldFigures.of(search_all_runs(client, [sweep.info.experiment_id], f"tags.`{PARENT_TAG}` = '{sweep_run_id}'"))
    written = 0
    for run_id, (metrics, tags) in trial_figures(report).items():
        if run_id in held.runs:
            written += write_figures(client, run_id, held.runs[run_id][:2], metrics, tags)
            held.wrote(run_id, metrics, tags)
    metrics, tags = sweep_figures(report, sweep_duration_s(sweep, (end for _, _, end in held.runs.values())))
    written += write_figures(client, sweep_run_id, (sweep.data.metrics, sweep.data.tags), metrics, tags)
    return written


def log_comparison(comparison: Any) -> str:
    """``parsweep-report --compare A B --log``: the comparison as a run of its own, in A's store and
    experiment, tagged with both sides (``parsweep.compare_a`` / ``_b``, ``parsweep.compare``) so it
    is found next to them: its description is the markdown, its metrics the counts and the geometric
    mean ratio, its files under ``compare/``. Returns the new run's id."""
    import tempfile

    from analysis.render.export_compare import compare_markdown, write_compare
    from runner.tracking.names import COMPARE_TAG, DESCRIPTION_TAG, ROLE_TAG
    from runner.tracking.store import ensure_experiment_tags, open_client

    a, b = comparison.a, comparison.b
    client = open_client(a.tracking_uri)
    experiment_id = str(a.trials["experiment_id"].dropna().iloc[0])
    ensure_experiment_tags(client, experiment_id)
    tags = {
        ROLE_TAG: "compare",
        COMPARE_TAG: f"{a.source} {b.source}",
        f"{COMPARE_TAG}_a": a.source,
        f"{COMPARE_TAG}_b": b.source,
        f"{COMPARE_TAG}_b_uri": b.tracking_uri,
        DESCRIPTION_TAG: compare_markdown(comparison)[:8000],
    }
    short = {side.name: side.source if side.source.startswith("experiment:") else side.source[:8] for side in (a, b)}
    run = client.create_run(experiment_id, run_name=f"compare {short['A']} vs {short['B']}", tags=tags)
    run_id = str(run.info.run_id)
    counts = comparison.counts()
    metrics = {f"rows_{key.replace(' ', '_')}": float(value) for key, value in counts.items()}
    ratio = _number(comparison.geometric_mean())
    if ratio is not None:
        metrics["geometric_mean_ratio"] = ratio
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, v, stamp, STEP) for k, v in sorted(metrics.items())])
    with tempfile.TemporaryDirectory(prefix="parsweep-compare-") as tmp:
        write_compare(comparison, tmp)
        client.log_artifacts(run_id, tmp, artifact_path="compare")
    client.set_terminated(run_id, "FINISHED")
    return run_id
