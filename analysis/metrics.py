"""Scaling metrics from the trial frame: speedup, efficiency, Karp-Flatt, Amdahl, crossover.

Every comparison stays inside one host, workload and n: trials of different hosts are never
compared. Only FINISHED trials count. Several trials of the same combination (``--all``
over repeated sweeps) are pooled: their medians' median, their samples together.

Definitions (``p`` = workers, ``T`` = median wall time):

* ``speedup`` = T(serial, same host/workload/n) / T. Blank without a serial baseline.
* ``self_speedup`` = T(same backend at 1 worker) / T (how the backend scales with itself).
* ``efficiency`` = speedup / p.
* ``karp_flatt`` = (1/speedup - 1/p) / (1 - 1/p): the experimentally determined serial
  fraction; blank for p = 1.
* Amdahl fit per (host, workload, n, backend): the serial fraction ``f`` of
  speedup(p) = 1 / (f + (1 - f) / p), least squares on the linear form
  1/speedup - 1/p = f (1 - 1/p) over the points with p > 1, which is the
  (1 - 1/p)^2-weighted mean of their Karp-Flatt values; ``ceiling`` = 1/f, the speedup no
  number of workers can pass (blank when f <= 0).
* crossover per (host, workload, backend): the smallest tested n at which the backend,
  at its best worker count for that n, beats serial (speedup > 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.stats import CONFIDENCE, RESAMPLES, SEED, ratio_of_medians_ci

BASELINE_KEYS = ["host", "workload", "n"]
# `chunks` is "" for the default (one chunk per worker), else the chunk count: trials that
# split the range differently are different configurations, never pooled into one row.
CONFIG_KEYS = ["backend", "start_method", "chunks"]
ROW_KEYS = BASELINE_KEYS + CONFIG_KEYS + ["workers"]
BACKEND_ORDER = ["serial", "threading", "thread_pool", "multiprocessing", "process_pool", "ray", "dask"]

TABLE_COLUMNS = [
    "host", "workload", "n", "backend", "start_method", "chunks", "workers", "trials",
    "wall_time_s", "wall_time_std_s", "speedup", "speedup_ci_low", "speedup_ci_high",
    "self_speedup", "efficiency", "karp_flatt", "cpu_utilization", "host_cpu_model", "run_ids",
]
AMDAHL_COLUMNS = ["host", "workload", "n", "backend", "start_method", "chunks", "points", "max_workers", "serial_fraction", "ceiling", "rmse"]
CROSSOVER_COLUMNS = ["host", "workload", "backend", "start_method", "chunks", "crossover_n", "workers", "speedup", "n_min", "n_max", "n_tested"]


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials that count: status FINISHED, with a median wall time, a backend, n and workers."""
    usable = trials["status"] == "FINISHED"
    for column in ("wall_time_s", "backend", "n", "workers"):
        usable &= trials[column].notna()
    return trials[usable]


def _backend_rank(backend: pd.Series) -> pd.Series:
    rank = {name: i for i, name in enumerate(BACKEND_ORDER)}
    return backend.map(lambda b: rank.get(b, len(rank)))


def _split(values: np.ndarray, groups: np.ndarray, count: int) -> list[np.ndarray]:
    """``values`` cut into ``count`` arrays by their group number (0 .. count-1), order kept."""
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(1, count))
    return np.split(values[order], bounds)


def summarize_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """FINISHED trials grouped by (host, workload, n, backend, start_method, chunks, workers).

    ``serial`` ignores ``workers`` and is counted at 1; ``chunks`` is "" where the range was
    split one chunk per worker (the default), else the chunk count. Columns: the keys, ``trials``,
    ``wall_time_s`` (median of the trials' medians), ``wall_time_std_s`` and
    ``cpu_utilization`` (medians over the trials), ``host_cpu_model`` and ``run_ids`` (a list).
    """
    done = finished(trials).copy()
    if done.empty:
        return pd.DataFrame(columns=ROW_KEYS + ["trials", "wall_time_s", "wall_time_std_s", "cpu_utilization", "host_cpu_model", "run_ids"])
    done.loc[done["backend"] == "serial", "workers"] = 1
    done["start_method"] = done["start_method"].fillna("none")
    done["chunks"] = chunks_key(done.get("chunks"), done["workers"])
    done["host"] = done["host"].fillna("unknown")  # runs logged without host facts
    done["workload"] = done["workload"].fillna("unknown")
    for column in ("wall_time_std_s", "cpu_utilization", "host_cpu_model"):
        if column not in done:
            done[column] = np.nan
    grouped = done.groupby(ROW_KEYS, dropna=False, sort=False)
    summary = grouped.agg(
        trials=("run_id", "size"),
        wall_time_s=("wall_time_s", "median"),
        wall_time_std_s=("wall_time_std_s", "median"),
        cpu_utilization=("cpu_utilization", "median"),
        host_cpu_model=("host_cpu_model", "first"),
    ).reset_index()
    ids = _split(done["run_id"].to_numpy(dtype=object), grouped.ngroup().to_numpy(), len(summary))
    summary["run_ids"] = [list(part) for part in ids]
    summary["n"] = summary["n"].astype("int64")
    summary["workers"] = summary["workers"].astype("int64")
    summary["_rank"] = _backend_rank(summary["backend"])
    summary["_chunks"] = pd.to_numeric(summary["chunks"], errors="coerce").fillna(0)
    summary = summary.sort_values(["host", "workload", "n", "_rank", "backend", "start_method", "_chunks", "workers"], kind="stable")
    return summary.drop(columns=["_rank", "_chunks"]).reset_index(drop=True)


def chunks_key(chunks: Any, workers: pd.Series) -> pd.Series:
    """"" where a trial split its range one chunk per worker (the default, or no record), else the count."""
    if chunks is None:
        return pd.Series("", index=workers.index, dtype=object)
    counts = pd.to_numeric(chunks, errors="coerce")
    default = counts.isna() | (counts == workers)
    return pd.Series(np.where(default, "", counts.fillna(0).astype("int64").astype(str)), index=workers.index, dtype=object)


def karp_flatt(speedup: Any, workers: Any) -> Any:
    """Karp-Flatt serial fraction (1/S - 1/p) / (1 - 1/p); NaN where p = 1 or S is missing."""
    s = np.asarray(speedup, dtype=float)
    p = np.asarray(workers, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (1 / s - 1 / p) / (1 - 1 / p)
    return np.where(p > 1, value, np.nan)


def speedup_table(
    trials: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> pd.DataFrame:
    """One row per (host, workload, n, backend, start_method, chunks, workers) with every per-row metric.

    ``trials`` is the frame of :func:`analysis.load.load_trials`. With ``samples`` (the frame of
    :func:`analysis.load.load_samples`), ``speedup_ci_low`` / ``speedup_ci_high`` hold the
    ``confidence`` bootstrap interval of each speedup (ratio of medians, ``resamples``
    resamples, seeded by ``seed``); without, they are blank. Missing baselines leave blanks.
    """
    table = summarize_trials(trials)
    if table.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    serial = table[table["backend"] == "serial"].groupby(BASELINE_KEYS)["wall_time_s"].median().rename("_serial_s")
    table = table.join(serial, on=BASELINE_KEYS)
    one = table[table["workers"] == 1].groupby(BASELINE_KEYS + CONFIG_KEYS)["wall_time_s"].median().rename("_one_s")
    table = table.join(one, on=BASELINE_KEYS + CONFIG_KEYS)
    table["speedup"] = table["_serial_s"] / table["wall_time_s"]
    table["self_speedup"] = table["_one_s"] / table["wall_time_s"]
    table["efficiency"] = table["speedup"] / table["workers"]
    table["karp_flatt"] = karp_flatt(table["speedup"], table["workers"])
    table["speedup_ci_low"] = np.nan
    table["speedup_ci_high"] = np.nan
    if samples is not None and not samples.empty:
        table["speedup_ci_low"], table["speedup_ci_high"] = _intervals(table, samples, confidence, resamples, seed)
    return table[TABLE_COLUMNS].reset_index(drop=True)


def _intervals(
    table: pd.DataFrame, samples: pd.DataFrame, confidence: float, resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap interval of each row's speedup, from the samples of its runs and its baseline's."""
    low = np.full(len(table), np.nan)
    high = np.full(len(table), np.nan)
    # serial against itself is 1 by definition, not a measurement with an interval
    wanted = ((table["backend"] != "serial") & table["_serial_s"].notna()).to_numpy()
    if not wanted.any():
        return low, high
    row_of_run = {run: row for row, ids in enumerate(table["run_ids"]) for run in ids}
    rows = samples["run_id"].map(row_of_run)
    known = rows.notna().to_numpy()
    values = samples["wall_time_s"].to_numpy(dtype=float)[known]
    rows = rows.to_numpy()[known].astype(np.int64)
    per_row = _split(values, rows, len(table))
    baseline_of_row = table.groupby(BASELINE_KEYS, sort=False).ngroup().to_numpy()
    serial = (table["backend"] == "serial").to_numpy()
    serial_rows = np.flatnonzero(serial)
    per_baseline: dict[int, np.ndarray] = {}
    for row in serial_rows:
        key = int(baseline_of_row[row])
        per_baseline[key] = np.concatenate([per_baseline.get(key, np.empty(0)), per_row[row]])
    targets = np.flatnonzero(wanted)
    empty = np.empty(0)
    base = [per_baseline.get(int(baseline_of_row[row]), empty) for row in targets]
    own = [per_row[row] for row in targets]
    low[targets], high[targets] = ratio_of_medians_ci(base, own, confidence=confidence, resamples=resamples, seed=seed)
    return low, high


def amdahl_fit(table: pd.DataFrame) -> pd.DataFrame:
    """Amdahl's serial fraction and ceiling per (host, workload, n, backend, start_method, chunks).

    Fitted on the speedups vs serial at workers > 1 (see the module's docstring); ``points``
    says how many, ``rmse`` how far the fitted curve is from them (in speedup units).
    Backends without a point at workers > 1 get blank figures.
    """
    keys = BASELINE_KEYS + CONFIG_KEYS
    parallel = table[table["backend"] != "serial"][keys + ["workers", "speedup"]].copy()
    if parallel.empty:
        return pd.DataFrame(columns=AMDAHL_COLUMNS)
    p = parallel["workers"].to_numpy(dtype=float)
    s = parallel["speedup"].to_numpy(dtype=float)
    usable = (p > 1) & ~np.isnan(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(usable, 1 - 1 / p, 0.0)
        y = np.where(usable, 1 / s - 1 / p, 0.0)
    parallel["_xy"], parallel["_xx"], parallel["_used"] = x * y, x * x, usable.astype(int)
    groups = parallel.groupby(keys, sort=False)
    fits = groups.agg(points=("_used", "sum"), max_workers=("workers", "max"), _xy=("_xy", "sum"), _xx=("_xx", "sum"))
    with np.errstate(divide="ignore", invalid="ignore"):
        fits["serial_fraction"] = np.where(fits["points"] > 0, fits["_xy"] / fits["_xx"], np.nan)
        fits["ceiling"] = np.where(fits["serial_fraction"] > 0, 1 / fits["serial_fraction"], np.nan)
        f = parallel.join(fits["serial_fraction"], on=keys)["serial_fraction"].to_numpy()
        predicted = 1 / (f + (1 - f) / p)
    parallel["_sq"] = np.where(usable, (predicted - s) ** 2, 0.0)
    fits["rmse"] = np.sqrt(parallel.groupby(keys, sort=False)["_sq"].sum() / fits["points"].where(fits["points"] > 0))
    fits = fits.reset_index()
    fits["points"] = fits["points"].astype(int)
    fits["max_workers"] = fits["max_workers"].astype(int)
    return fits[AMDAHL_COLUMNS]


def crossover(table: pd.DataFrame) -> pd.DataFrame:
    """Per (host, workload, backend, start_method, chunks): the smallest tested n at which it beats serial.

    At each n the backend's best worker count is taken; ``crossover_n`` is blank when it
    never beats serial in the tested range (``n_min`` .. ``n_max``); ``workers`` and
    ``speedup`` are those of the crossover.
    """
    parallel = table[(table["backend"] != "serial") & table["speedup"].notna()]
    rows = []
    for key, group in parallel.groupby(["host", "workload"] + CONFIG_KEYS, sort=False):
        best = group.sort_values(["n", "speedup", "workers"], ascending=[True, False, True]).drop_duplicates("n")
        beats = best[best["speedup"] > 1]
        tested = best["n"].tolist()
        if beats.empty:
            rows.append((*key, pd.NA, pd.NA, np.nan, min(tested), max(tested), len(tested)))
        else:
            first = beats.iloc[0]
            rows.append((*key, int(first["n"]), int(first["workers"]), float(first["speedup"]), min(tested), max(tested), len(tested)))
    frame = pd.DataFrame(rows, columns=CROSSOVER_COLUMNS)
    for column in ("crossover_n", "workers"):
        frame[column] = frame[column].astype("Int64")
    return frame


def with_amdahl(table: pd.DataFrame, amdahl: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each row's Amdahl fit as ``amdahl_serial_fraction`` and ``amdahl_ceiling``."""
    fit = amdahl.set_index(BASELINE_KEYS + CONFIG_KEYS)[["serial_fraction", "ceiling"]].rename(
        columns={"serial_fraction": "amdahl_serial_fraction", "ceiling": "amdahl_ceiling"}
    )
    if fit.empty:
        return table.assign(amdahl_serial_fraction=np.nan, amdahl_ceiling=np.nan)
    return table.join(fit, on=BASELINE_KEYS + CONFIG_KEYS)
