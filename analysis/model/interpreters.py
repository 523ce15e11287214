"""Interpreters side by side: what each costs single-threaded, and the fastest way overall.

Speedups stay within one interpreter (:mod:`analysis.model.metrics`: serial under the same
interpreter is the baseline). Beside them, from the same table:

* :func:`interpreter_costs`: per (host, workload, n) whose serial trials ran under two or
  more interpreters, each one's serial median against the reference interpreter's: the GIL
  build if there is one (the first by label), else the first. ``ratio`` = this / reference
  (above 1: slower), with its bootstrap interval, the conclusion it supports and the trust of
  both rows: for a free-threaded build, the single-thread cost of free-threading.
* :func:`fastest`: per (host, workload, n), the configuration with the smallest median wall
  time over every backend, worker count and interpreter: the fastest way to compute it there,
  with its speedup against serial on its own interpreter and the runner-up.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis.model.metrics import conclusions, samples_by_row
from analysis.model.stats import CONFIDENCE, RESAMPLES, SEED, ratio_of_medians_ci
from analysis.model.trust import pooled_trust

COST_COLUMNS = [
    "host", "workload", "n", "python", "reference", "wall_time_s", "reference_wall_time_s",
    "ratio", "ratio_ci_low", "ratio_ci_high", "conclusion", "trust",
]
FASTEST_COLUMNS = [
    "host", "workload", "n", "python", "backend", "start_method", "chunks", "workers", "wall_time_s",
    "speedup", "speedup_ci_low", "speedup_ci_high", "conclusion", "trust",
    "runner_up", "runner_up_wall_time_s", "tied_with", "configurations",
]
_FREE_THREADED = re.compile(r"\dt(\+GIL)?$")


def is_free_threaded(label: str) -> bool:
    """True for a free-threaded build's label (``3.13.5t``, ``3.13.5t+GIL``)."""
    return bool(_FREE_THREADED.search(str(label)))


def reference_interpreter(labels: list[str]) -> str:
    """The interpreter others are measured against: the first GIL build by label, else the first."""
    ordered = sorted(labels)
    builds = [label for label in ordered if not is_free_threaded(label)]
    return (builds or ordered)[0]


def interpreter_costs(
    table: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> pd.DataFrame:
    """Each interpreter's serial time against the reference interpreter's (:data:`COST_COLUMNS`).

    ``table``: :func:`analysis.model.metrics.speedup_table`; with ``samples``, the ratio gets its
    ``confidence`` bootstrap interval and ``conclusion`` (``slower`` / ``faster`` /
    ``no difference``; blank without an interval).
    """
    serial = table[table["backend"] == "serial"].reset_index(drop=True)
    if serial.empty or serial["python"].nunique() < 2:
        return pd.DataFrame(columns=COST_COLUMNS)
    per_row = samples_by_row(serial, samples) if samples is not None and not samples.empty else [np.empty(0)] * len(serial)
    rows, own, reference_samples = [], [], []
    for (host, workload, n), group in serial.groupby(["host", "workload", "n"], sort=False):
        if group["python"].nunique() < 2:
            continue
        reference = reference_interpreter(group["python"].tolist())
        ref_rows = group[group["python"] == reference]
        ref_index = ref_rows.index[0]
        for index, row in group.iterrows():
            if row["python"] == reference:
                continue
            rows.append({
                "host": host, "workload": workload, "n": n, "python": row["python"], "reference": reference,
                "wall_time_s": row["wall_time_s"], "reference_wall_time_s": ref_rows["wall_time_s"].iloc[0],
                "ratio": row["wall_time_s"] / ref_rows["wall_time_s"].iloc[0],
                "trust": pooled_trust([row["trust"], ref_rows["trust"].iloc[0]]),
            })
            own.append(per_row[index])
            reference_samples.append(per_row[ref_index])
    frame = pd.DataFrame(rows, columns=[c for c in COST_COLUMNS if c not in ("ratio_ci_low", "ratio_ci_high", "conclusion")])
    if frame.empty:
        return pd.DataFrame(columns=COST_COLUMNS)
    low, high = ratio_of_medians_ci(own, reference_samples, confidence=confidence, resamples=resamples, seed=seed)
    frame["ratio_ci_low"], frame["ratio_ci_high"] = low, high
    # a ratio of times: above 1 is slower (the reverse of a speedup)
    frame["conclusion"] = conclusions(1 / frame["ratio_ci_high"], 1 / frame["ratio_ci_low"])
    return frame[COST_COLUMNS]


def fastest(
    table: pd.DataFrame, samples: pd.DataFrame | None = None, *, confidence: float = CONFIDENCE, seed: int = SEED
) -> pd.DataFrame:
    """Per (host, workload, n): the configuration with the smallest median wall time (:data:`FASTEST_COLUMNS`).

    Candidates run no more workers than the host's usable CPUs (an oversubscribed row is a
    finding, not a way to compute). ``runner_up`` names the next one (``backend xW on
    python``); ``tied_with`` the candidates it cannot be told from: the interval of their wall
    time over the leader's reaches 1 (with ``samples``; without, every runner-up is tied, as
    nothing tells them apart). ``trust`` pools the leader's and the tied rows'. Its ``speedup``
    and ``conclusion`` are against serial on its own interpreter.
    """
    if table.empty:
        return pd.DataFrame(columns=FASTEST_COLUMNS)
    usable = pd.to_numeric(table["host_cpu_usable"], errors="coerce") if "host_cpu_usable" in table else pd.Series(np.nan, index=table.index)
    within = (table["workers"] <= usable.fillna(np.inf)) | table["backend"].isin(("ray", "dask"))
    per_row = samples_by_row(table, samples) if samples is not None and not samples.empty else None
    rows = []
    for _, group in table[within].groupby(["host", "workload", "n"], sort=False):
        ordered = group.sort_values(["wall_time_s", "workers"], kind="stable")
        best = ordered.iloc[0]
        record = {column: best[column] for column in FASTEST_COLUMNS if column in best.index}
        others = ordered.iloc[1:]
        tied = _tied(best, others, per_row, confidence, seed)
        if len(others):
            record["runner_up"] = configuration_label(others.iloc[0])
            record["runner_up_wall_time_s"] = others.iloc[0]["wall_time_s"]
        else:
            record["runner_up"], record["runner_up_wall_time_s"] = "", np.nan
        record["tied_with"] = "; ".join(configuration_label(row) for _, row in tied.iterrows())
        record["trust"] = pooled_trust([best["trust"], *tied["trust"]])
        record["configurations"] = len(ordered)
        rows.append(record)
    return pd.DataFrame(rows, columns=FASTEST_COLUMNS)


def _tied(best: pd.Series, others: pd.DataFrame, per_row: list[np.ndarray] | None, confidence: float, seed: int) -> pd.DataFrame:
    """The rows of ``others`` whose wall time cannot be told from ``best``'s (interval of the ratio reaches 1)."""
    if others.empty or per_row is None:
        return others
    # the table's index is positional (speedup_table resets it), as samples_by_row's list is
    mine = per_row[int(best.name)]
    theirs = [per_row[int(index)] for index in others.index]
    low, _ = ratio_of_medians_ci(theirs, [mine] * len(theirs), confidence=confidence, seed=seed)
    reach = np.isnan(low) | (low <= 1)
    return others[reach]


def configuration_label(row: pd.Series, python: bool = True) -> str:
    """``process_pool x2 on 3.11.7`` (``serial on 3.11.7``); ``· chunks=16`` and the start method when set."""
    name = str(row["backend"])
    if row.get("start_method") not in (None, "none") and not pd.isna(row.get("start_method")):
        name += f" ({row['start_method']})"
    if row["backend"] != "serial":
        name += f" x{int(row['workers'])}"
    if row.get("chunks"):
        name += f" · chunks={row['chunks']}"
    return f"{name} on {row['python']}" if python else name

