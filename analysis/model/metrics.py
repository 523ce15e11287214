"""Scaling metrics from the trial frame: speedup, efficiency, Karp-Flatt, Amdahl, crossover.

**Identity.** Trials are pooled into one row only when they measured the same thing: same
host, interpreter (``python``: version, free-threaded build, GIL state, implementation),
workload (a custom workload's function included), n, backend, start_method, chunks and
workers (:data:`ROW_KEYS`). A speedup is taken against the serial row of the same host,
interpreter, workload and n (:data:`BASELINE_KEYS`): speedups never cross interpreters or
hosts. Only FINISHED trials count. Pooled trials: their medians' median, their samples
together, the union of their trust reasons, the sum of their warnings.

Definitions (``p`` = workers, ``T`` = median wall time):

* ``speedup`` = T(serial, same baseline keys) / T. Blank without a serial baseline.
* ``speedup_ci_low`` / ``speedup_ci_high`` and ``ci_method``: how sure that speedup is, from the
  structure of the measurement first. **Paired** (``ci_method`` = ``paired``) when every trial of
  the row was measured in interleaved rounds beside a trial of its serial baseline (same
  ``parsweep.group``) and at least :data:`MIN_PAIRS` rounds hold both: each round gives one ratio
  (the serial repetition's wall / this one's), and the speedup is the geometric mean of those
  ratios with Student's t interval (:func:`runner.trial.stats.paired_ratio`, the same definition
  ``repeats=auto`` stops on); where the pairs come from several couples of processes (a
  trial's ``repeats_per_process``, or trials pooled from several runs) the interval is the
  one over those couples, which sees what stays the same for a process's life, with that
  offset's variance pooled over the rows of the group (:func:`runner.trial.stats.pool_offsets`;
  a row that spreads more than the pool keeps its own). The two walls of a round are seconds apart at most, so the VM's
  drift, which moves both, cancels; two independent pools of repetitions keep it. Then the
  paired figure *is* the row's speedup (the ratio of medians estimates the same thing, less
  precisely). **Unpaired** otherwise (sequential schedules, runs logged before rounds were
  recorded, a row whose trials have no baseline in their round): the ratio of medians and its
  percentile bootstrap interval (:func:`analysis.model.stats.ratio_of_medians_ci`).
* ``conclusion``: ``faster`` when the interval is above 1, ``slower`` when below, ``no
  difference`` when it contains 1 *and* lies within :data:`EQUIVALENCE` (1 +- 5%), ``cannot
  tell`` when it contains 1 but is wider than that (a 0.7-1.4 interval is no evidence of "no
  difference"), blank without an interval.
* ``self_speedup`` = T(same backend at 1 worker) / T (how the backend scales with itself).
* ``efficiency`` = speedup / p.
* ``karp_flatt`` = (1/speedup - 1/p) / (1 - 1/p): the experimentally determined serial
  fraction; blank for p = 1.
* Amdahl fit per (host, python, workload, n, backend, start_method, chunks): the serial
  fraction ``f`` of speedup(p) = 1 / (f + (1 - f) / p), least squares on the linear form
  1/speedup - 1/p = f (1 - 1/p), over the points with 1 < p <= the host's usable CPUs (more
  workers than CPUs measure time-sharing, not the code's serial part). It needs two such
  worker counts; otherwise its figures are blank and ``reason`` says why. ``ceiling`` = 1/f,
  the speedup no number of workers can pass (blank when f <= 0).
* crossover per (host, python, workload, backend, start_method, chunks): the smallest tested
  n at which the backend, at some worker count, is measurably faster than serial (its
  speedup's interval lies above 1; a trusted row is cited before an untrusted one); without
  intervals no crossover is claimed (``reason``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.data.load import parse_samples
from analysis.model.columns import computed, fact_columns, table_columns
from analysis.model.formatting import format_n
from analysis.model.stats import (
    CANNOT_TELL,
    CONFIDENCE,
    EQUIVALENCE,
    FASTER,
    NO_DIFFERENCE,
    RESAMPLES,
    SEED,
    SLOWER,
    can_reach_alpha,
    ratio_of_medians_ci,
)
from analysis.model.trust import (
    BASELINE_NOISE,
    FEW_REPETITIONS,
    NOISY_BASELINE,
    OK,
    PRECISE,
    SPREAD,
    cancelled_trust,
    is_ok,
    parse_reasons,
    pooled_trust,
    trial_trust,
    with_reasons,
)
from runner.trial.backends import table_order
from runner.trial.stats import CoupleSpread, couple_spread, log_mean_interval, pool_offsets

BASELINE_KEYS = ["host", "python", "workload", "n"]
# `chunks` is "" for the default (one chunk per worker), else the chunk count: trials that
# split the range differently are different configurations, never pooled into one row.
CONFIG_KEYS = ["backend", "start_method", "chunks"]
ROW_KEYS = BASELINE_KEYS + CONFIG_KEYS + ["workers"]
#: Report tables list backends in the order each backend declares (``Backend.table_order``).
BACKEND_ORDER = table_order()
#: Facts of the pooled trials a row keeps (the first trial's: they are the same by identity).
FACT_COLUMNS = fact_columns()
AMDAHL_COLUMNS = [
    "host", "python", "workload", "n", "backend", "start_method", "chunks",
    "points", "max_workers", "usable_cpus", "serial_fraction", "ceiling", "rmse", "trust", "reason",
]
CROSSOVER_COLUMNS = [
    "host", "python", "workload", "backend", "start_method", "chunks",
    "crossover_n", "workers", "speedup", "speedup_ci_low", "n_min", "n_max", "n_tested", "trust", "reason",
]
#: Amdahl needs this many worker counts above 1 within the usable CPUs.
AMDAHL_MIN_POINTS = 2
#: A paired interval needs this many rounds holding both sides (two give a t with 1 degree of freedom: useless).
MIN_PAIRS = 3
PAIRED, UNPAIRED = "paired", "unpaired"


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


def chunks_key(chunks: Any, workers: pd.Series) -> pd.Series:
    """"" where a trial split its range one chunk per worker (the default, or no record), else the count."""
    if chunks is None:
        return pd.Series("", index=workers.index, dtype=object)
    counts = pd.to_numeric(chunks, errors="coerce")
    default = counts.isna() | (counts == workers)
    return pd.Series(np.where(default, "", counts.fillna(0).astype("int64").astype(str)), index=workers.index, dtype=object)


def prepare_trials(trials: pd.DataFrame, samples: pd.DataFrame | None = None) -> pd.DataFrame:
    """The FINISHED trials with their identity keys normalised and ``trust`` / ``repetitions`` filled.

    ``serial`` ignores ``workers`` and is counted at 1; ``start_method`` is ``none`` where it
    does not apply; ``chunks`` as :func:`chunks_key`; ``trust`` from the trial's tag or derived
    (:func:`analysis.model.trust.trial_trust`, unless the frame has it already); ``repetitions`` the
    trial's recorded repetitions (``repeats_done``, else its samples' count).
    """
    done = finished(trials).copy()
    if done.empty:
        return done.assign(trust=pd.Series(dtype=object), repetitions=pd.Series(dtype=float))
    done.loc[done["backend"] == "serial", "workers"] = 1
    done["start_method"] = done["start_method"].fillna("none")
    done["chunks"] = chunks_key(done.get("chunks"), done["workers"])
    done["host"] = done["host"].fillna("unknown")  # runs logged without host facts
    done["workload"] = done["workload"].fillna("unknown")
    done["python"] = done["python"].fillna("unknown") if "python" in done else "unknown"
    for column in ("wall_time_std_s", "cpu_utilization", "startup_s", "dispatch_s", "load_imbalance", "warnings_count", *FACT_COLUMNS):
        if column not in done:
            done[column] = np.nan
    if "trust" not in done:
        done["trust"] = trial_trust(done, samples)
    # spread, defined once: std / mean of the repetitions (the runner's warning, pyperf's threshold)
    mean = done["wall_time_mean_s"] if "wall_time_mean_s" in done else done["wall_time_s"]
    mean = mean.where(mean.notna(), done["wall_time_s"])
    done["spread"] = done["wall_time_std_s"] / mean
    done["speed_drift"] = done["sample_probes"].map(probe_spread) if "sample_probes" in done else np.nan
    repetitions = done["repeats_done"] if "repeats_done" in done else pd.Series(np.nan, index=done.index)
    if samples is not None and not samples.empty:
        counts = done["run_id"].map(samples.groupby("run_id").size())
        repetitions = repetitions.where(repetitions.notna() & (repetitions > 0), counts)
    done["repetitions"] = repetitions
    return done


def probe_spread(text: Any) -> float:
    """std / mean of a trial's speed probes (its ``parsweep.sample_probes`` tag: the same fixed
    loop timed on the trial's CPU right before and after each recorded repetition), NaN without
    two readable ones: how much the CPU's speed, as the trial's process saw it, moved while it ran."""
    values = parse_samples(text)
    if values is None or len(values) < 2 or min(values) <= 0:
        return np.nan
    return float(np.std(values, ddof=1) / np.mean(values))


#: A trial that ran a fixed count (``repeats=N``), in a row's ``repeats_stop``.
FIXED_REPEATS = "repeats"


def _stop_rules(done: pd.DataFrame) -> pd.Series:
    """What ended each trial's recorded repetitions: its ``parsweep.repeats_stop`` tag (the rule
    that stopped ``repeats=auto``), :data:`FIXED_REPEATS` for a fixed count, blank when unknown
    (runs logged before the tag existed)."""
    tagged = done["repeats_stop"] if "repeats_stop" in done else pd.Series(None, index=done.index, dtype=object)
    auto = done["repeats_auto"].fillna(True).astype(bool) if "repeats_auto" in done else pd.Series(True, index=done.index)
    rules = tagged.where(tagged.notna(), None).astype(object)
    return rules.where(auto | rules.notna(), FIXED_REPEATS).fillna("")


def summarize_trials(trials: pd.DataFrame, samples: pd.DataFrame | None = None) -> pd.DataFrame:
    """FINISHED trials grouped by :data:`ROW_KEYS` (see :func:`prepare_trials`).

    Columns: the keys, ``trials``, ``sweeps`` (distinct sweeps among them), ``repetitions``
    (their recorded repetitions together), ``wall_time_s`` (median of the trials' medians),
    ``wall_time_std_s``, ``cpu_utilization``, ``startup_s``, ``dispatch_s``,
    ``load_imbalance`` (medians over the trials), ``trust`` (the union of their reasons),
    ``warnings`` (their warnings together), :data:`FACT_COLUMNS`, ``run_ids`` (a list) and
    ``repeats_stop`` (what ended their repetitions, :func:`_stop_rules`: the distinct rules, sorted,
    joined by ", ").
    """
    done = prepare_trials(trials, samples)
    columns = ROW_KEYS + ["trials", "sweeps", "repetitions", "wall_time_s", "wall_time_std_s", "spread", "speed_drift",
                          "cpu_utilization", "startup_s", "dispatch_s", "load_imbalance", "trust", "warnings", *FACT_COLUMNS, "run_ids", "repeats_stop"]
    if done.empty:
        return pd.DataFrame(columns=columns)
    grouped = done.groupby(ROW_KEYS, dropna=False, sort=False)
    summary = grouped.agg(
        trials=("run_id", "size"),
        sweeps=("sweep_run_id", "nunique"),
        repetitions=("repetitions", "sum"),
        wall_time_s=("wall_time_s", "median"),
        wall_time_std_s=("wall_time_std_s", "median"),
        spread=("spread", "median"),
        speed_drift=("speed_drift", "median"),
        cpu_utilization=("cpu_utilization", "median"),
        startup_s=("startup_s", "median"),
        dispatch_s=("dispatch_s", "median"),
        load_imbalance=("load_imbalance", "median"),
        warnings=("warnings_count", "sum"),
        **{column: (column, "first") for column in FACT_COLUMNS},
    ).reset_index()
    group_of_trial = grouped.ngroup().to_numpy()
    ids = _split(done["run_id"].to_numpy(dtype=object), group_of_trial, len(summary))
    trusts = _split(done["trust"].to_numpy(dtype=object), group_of_trial, len(summary))
    summary["run_ids"] = [list(part) for part in ids]
    summary["trust"] = [part[0] if len(set(part)) == 1 else pooled_trust(part) for part in trusts]
    stops = _split(_stop_rules(done).to_numpy(dtype=object), group_of_trial, len(summary))
    summary["repeats_stop"] = [", ".join(sorted({rule for rule in part if rule})) for part in stops]
    summary["n"] = summary["n"].astype("int64")
    summary["workers"] = summary["workers"].astype("int64")
    summary["warnings"] = summary["warnings"].fillna(0).astype("int64")
    summary["repetitions"] = summary["repetitions"].fillna(0).astype("int64")
    summary["_rank"] = _backend_rank(summary["backend"])
    summary["_chunks"] = pd.to_numeric(summary["chunks"], errors="coerce").fillna(0)
    order = ["host", "workload", "n", "python", "_rank", "backend", "start_method", "_chunks", "workers"]
    summary = summary.sort_values(order, kind="stable")
    return summary.drop(columns=["_rank", "_chunks"])[columns].reset_index(drop=True)


def karp_flatt(speedup: Any, workers: Any) -> Any:
    """Karp-Flatt serial fraction (1/S - 1/p) / (1 - 1/p); NaN where p = 1 or S is missing."""
    s = np.asarray(speedup, dtype=float)
    p = np.asarray(workers, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (1 / s - 1 / p) / (1 - 1 / p)
    return np.where(p > 1, value, np.nan)


def conclusions(low: Any, high: Any) -> np.ndarray:
    """``faster`` (interval above 1), ``slower`` (below 1), ``no difference`` (contains 1, within
    :data:`EQUIVALENCE`), ``cannot tell`` (contains 1, wider), "" (no interval)."""
    lo = np.asarray(low, dtype=float)
    hi = np.asarray(high, dtype=float)
    known = ~(np.isnan(lo) | np.isnan(hi))
    narrow = (lo >= EQUIVALENCE[0]) & (hi <= EQUIVALENCE[1])
    within = np.where(narrow, NO_DIFFERENCE, CANNOT_TELL)
    return np.where(~known, "", np.where(lo > 1, FASTER, np.where(hi < 1, SLOWER, within))).astype(object)


def paired_speedups(table: pd.DataFrame, trials: pd.DataFrame, samples: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Each row's paired speedup against its serial baseline (see the module's docstring).

    ``table`` needs ``run_ids`` and the baseline keys, ``trials`` ``run_id`` and ``group``,
    ``samples`` ``run_id``, ``wall_time_s`` and ``round``. Returns, indexed like ``table``,
    ``ratio``, ``low``, ``high`` and ``pairs``; NaN (``pairs`` 0) where the row cannot be paired.
    The figures are :func:`runner.trial.stats.paired_ratio`'s, computed for all rows at once.
    """
    out = pd.DataFrame({"ratio": np.nan, "low": np.nan, "high": np.nan, "pairs": 0, "processes": 0}, index=table.index)
    if samples.empty or "round" not in samples or "group" not in trials or samples["round"].isna().all():
        return out
    row_of_run = {run: row for row, ids in zip(table.index, table["run_ids"]) for run in ids}
    baseline_row = table.groupby(BASELINE_KEYS, sort=False).ngroup()
    serial_of_baseline = dict(zip(baseline_row[table["backend"] == "serial"], table.index[table["backend"] == "serial"]))
    group_of_run = trials.drop_duplicates("run_id").set_index("run_id")["group"]
    if "process" not in samples:
        samples = samples.assign(process=np.nan)
    known = samples[samples["round"].notna()]
    known = known.assign(_row=known["run_id"].map(row_of_run), _group=known["run_id"].map(group_of_run))
    known = known[known["_row"].notna() & known["_group"].notna()]
    if known.empty:
        return out
    known["_row"] = known["_row"].astype(np.int64)
    known["_serial_row"] = known["_row"].map(baseline_row).map(serial_of_baseline)
    is_serial = known["_row"].map(table["backend"]).eq("serial")
    base = known[is_serial].drop_duplicates(["_row", "_group", "round"])[["_row", "_group", "round", "wall_time_s", "process"]]
    base = base.rename(columns={"_row": "_serial_row", "wall_time_s": "_base_s", "process": "_base_process"})
    contender = known[~is_serial & known["_serial_row"].notna()].drop_duplicates(["run_id", "round"])
    if contender.empty or base.empty:
        return out
    pairs = contender.merge(base, on=["_serial_row", "_group", "round"], how="inner")
    pairs = pairs[(pairs["wall_time_s"] > 0) & (pairs["_base_s"] > 0)]
    if pairs.empty:
        return out
    pairs["_log"] = np.log(pairs["_base_s"] / pairs["wall_time_s"])
    per_row = pairs.groupby("_row").agg(count=("_log", "size"), runs=("run_id", "nunique"))
    # every trial of the row must have its partner: a row half paired, half not, is not a paired figure
    every = samples.assign(_row=samples["run_id"].map(row_of_run)).dropna(subset=["_row"])
    runs_with_samples = every.groupby(every["_row"].astype(np.int64))["run_id"].nunique()
    per_row = per_row[(per_row["count"] >= MIN_PAIRS) & (per_row["runs"] == runs_with_samples.reindex(per_row.index))]
    if per_row.empty:
        return out
    # a cluster: the pairs of one couple of processes, the contender's and the baseline's (runs
    # logged before processes were recorded: one process per run)
    pairs["_cluster"] = list(zip(pairs["run_id"], pairs["process"].fillna(-1), pairs["_group"], pairs["_base_process"].fillna(-1)))
    # the offsets pooled over each interleaved group's rows, as repeats=auto's stopping rule pools
    # them (runner.trial.stats): a row's interval uses the pool of the group(s) its pairs came from
    spreads: dict[Any, list[CoupleSpread | None]] = {}
    for (_, group), part in pairs.groupby(["_row", "_group"]):
        spreads.setdefault(group, []).append(couple_spread(part["_log"].tolist(), part["_cluster"].tolist()))
    for row, part in pairs[pairs["_row"].isin(per_row.index)].groupby("_row"):
        pool = pool_offsets([spread for group in part["_group"].unique() for spread in spreads[group]])
        mean, half, clusters = log_mean_interval(part["_log"].tolist(), part["_cluster"].tolist(), confidence, pool)
        out.loc[row, ["ratio", "low", "high"]] = [np.exp(mean), np.exp(mean - half), np.exp(mean + half)]
        out.loc[row, "pairs"] = len(part)
        out.loc[row, "processes"] = clusters
    return out


def speedup_table(
    trials: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> pd.DataFrame:
    """One row per :data:`ROW_KEYS` with every per-row metric (:func:`analysis.model.columns.table_columns`).

    ``trials`` is the frame of :func:`analysis.data.load.load_trials`. With ``samples`` (the frame of
    :func:`analysis.data.load.load_samples`), ``speedup_ci_low`` / ``speedup_ci_high`` hold the
    ``confidence`` bootstrap interval of each speedup (``resamples`` resamples, seeded by
    ``seed``) and ``conclusion`` what it supports; without, they are blank. Missing baselines
    leave blanks. ``trust`` gains ``noisy baseline`` and ``few repetitions`` (see
    :mod:`analysis.model.trust`).
    """
    table = summarize_trials(trials, samples)
    if table.empty:
        return pd.DataFrame(columns=table_columns())
    serial_rows = table[table["backend"] == "serial"]
    serial = serial_rows.groupby(BASELINE_KEYS).agg(
        _serial_s=("wall_time_s", "median"), _serial_reps=("repetitions", "sum"), _serial_trust=("trust", pooled_trust)
    )
    table = table.join(serial, on=BASELINE_KEYS)
    one = table[table["workers"] == 1].groupby(BASELINE_KEYS + CONFIG_KEYS)["wall_time_s"].median().rename("_one_s")
    table = table.join(one, on=BASELINE_KEYS + CONFIG_KEYS)
    table["speedup"] = table["_serial_s"] / table["wall_time_s"]
    table["self_speedup"] = table["_one_s"] / table["wall_time_s"]
    table["speedup_ci_low"] = np.nan
    table["speedup_ci_high"] = np.nan
    table["ci_method"] = ""
    table["pairs"] = 0
    table["processes"] = 0
    if samples is not None and not samples.empty:
        table["speedup_ci_low"], table["speedup_ci_high"] = _intervals(table, samples, confidence, resamples, seed)
        has_interval = table["speedup_ci_low"].notna()
        table.loc[has_interval, "ci_method"] = UNPAIRED
        paired = paired_speedups(table, trials, samples, confidence)
        is_paired = paired["ratio"].notna() & (table["backend"] != "serial") & table["_serial_s"].notna()
        table.loc[is_paired, "speedup"] = paired.loc[is_paired, "ratio"]
        table.loc[is_paired, "speedup_ci_low"] = paired.loc[is_paired, "low"]
        table.loc[is_paired, "speedup_ci_high"] = paired.loc[is_paired, "high"]
        table.loc[is_paired, "pairs"] = paired.loc[is_paired, "pairs"]
        table.loc[is_paired, "processes"] = paired.loc[is_paired, "processes"]
        table.loc[is_paired, "ci_method"] = PAIRED
    table["pairs"] = table["pairs"].astype("int64")
    table["processes"] = table["processes"].astype("int64")
    table["efficiency"] = table["speedup"] / table["workers"]
    table["karp_flatt"] = karp_flatt(table["speedup"], table["workers"])
    table["conclusion"] = conclusions(table["speedup_ci_low"], table["speedup_ci_high"])
    table.loc[table["backend"] == "serial", "conclusion"] = ""
    table["_precise"] = (table["ci_method"] == PAIRED) & (relative_half_width(table["speedup_ci_low"], table["speedup_ci_high"]) <= PRECISE)
    # a serial row whose spread its paired contenders cancel: the spread was the machine's drift
    cancelled_in = table[table["_precise"]].groupby(BASELINE_KEYS).size().rename("_cancelled")
    table = table.join(cancelled_in, on=BASELINE_KEYS)
    table["_cancelled"] = table["_cancelled"].fillna(0) > 0
    columns = ["backend", "trust", "_serial_s", "_serial_trust", "_serial_reps", "repetitions", "ci_method", "_precise", "_cancelled"]
    table["trust"] = [_row_trust(*row) for row in table[columns].itertuples(index=False)]
    for name, compute in computed():  # declared with how to derive it from the others
        table[name] = compute(table)
    return table[table_columns()].reset_index(drop=True)


def relative_half_width(low: Any, high: Any) -> np.ndarray:
    """An interval's half-width relative to its centre, on the log scale (0.05: +-5%); NaN without one."""
    lo = np.asarray(low, dtype=float)
    hi = np.asarray(high, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((lo > 0) & (hi > 0), np.sqrt(hi / lo) - 1, np.nan)


def _row_trust(
    backend: str, trust: str, serial_s: float, serial_trust: str, serial_reps: float, reps: float,
    ci_method: str, precise: bool, cancelled: bool,
) -> str:
    """A row's trust: its trials', plus what its baseline and its repetition counts add.

    A row whose paired interval is within :data:`~analysis.model.trust.PRECISE` does not inherit the
    raw spread of its own or its baseline's repetitions: that spread moved both sides of each
    pair and cancelled (:func:`analysis.model.trust.cancelled_trust` says so in the cell). Interference
    and everything else still count: a busy neighbour hits one side of a pair, not both. A paired
    row that is still wider takes no ``noisy baseline`` from a baseline's spread that its group's
    pairs cancelled (``cancelled``: the serial row itself reads ok).
    """
    if backend == "serial":
        return cancelled_trust(trust, [SPREAD]) if cancelled else trust
    if pd.isna(serial_s):
        return trust
    if precise:
        extra = [NOISY_BASELINE] if any(r in BASELINE_NOISE and r != SPREAD for r in parse_reasons(serial_trust)) else []
        return cancelled_trust(with_reasons(trust, extra), [SPREAD], baseline=SPREAD in parse_reasons(serial_trust))
    extra = []
    # a baseline whose spread its group's pairs cancel (its own row reads "ok: spread cancels in pairs")
    # lends a paired row no noise of its own: what this row's pairs leave is this row's
    noise = [r for r in BASELINE_NOISE if not (r == SPREAD and cancelled and ci_method == PAIRED)]
    if any(reason in noise for reason in parse_reasons(serial_trust)):
        extra.append(NOISY_BASELINE)
    if ci_method != PAIRED and not can_reach_alpha(int(np.nan_to_num(serial_reps)), int(np.nan_to_num(reps))):
        extra.append(FEW_REPETITIONS)
    return with_reasons(trust, extra) if extra else trust


def samples_by_row(table: pd.DataFrame, samples: pd.DataFrame) -> list[np.ndarray]:
    """Each row's repetition wall times (the samples of its ``run_ids`` together)."""
    row_of_run = {run: row for row, ids in enumerate(table["run_ids"]) for run in ids}
    rows = samples["run_id"].map(row_of_run)
    known = rows.notna().to_numpy()
    values = samples["wall_time_s"].to_numpy(dtype=float)[known]
    return _split(values, rows.to_numpy()[known].astype(np.int64), len(table))


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
    per_row = samples_by_row(table, samples)
    baseline_of_row = table.groupby(BASELINE_KEYS, sort=False).ngroup().to_numpy()
    serial_rows = np.flatnonzero((table["backend"] == "serial").to_numpy())
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


def usable_cpus(table: pd.DataFrame) -> pd.Series:
    """Each row's usable CPUs (``host_cpu_usable`` as a number; NaN where unknown)."""
    return pd.to_numeric(table["host_cpu_usable"], errors="coerce") if "host_cpu_usable" in table else pd.Series(np.nan, index=table.index)


def amdahl_fit(table: pd.DataFrame) -> pd.DataFrame:
    """Amdahl's serial fraction and ceiling per (host, python, workload, n, backend, start_method, chunks).

    Fitted on the speedups vs serial at 1 < workers <= usable CPUs (see the module's
    docstring); ``points`` says how many, ``rmse`` how far the fitted curve is from them (in
    speedup units), ``trust`` the union of their rows' trust. With fewer than
    :data:`AMDAHL_MIN_POINTS` such worker counts the figures are blank and ``reason`` says why.
    """
    keys = BASELINE_KEYS + CONFIG_KEYS
    parallel = table[table["backend"] != "serial"].copy()
    if parallel.empty:
        return pd.DataFrame(columns=AMDAHL_COLUMNS)
    parallel["_usable"] = usable_cpus(parallel)
    p = parallel["workers"].to_numpy(dtype=float)
    s = parallel["speedup"].to_numpy(dtype=float)
    usable = parallel["_usable"].to_numpy(dtype=float)
    used = (p > 1) & ~np.isnan(s) & (p <= usable)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(used, 1 - 1 / p, 0.0)
        y = np.where(used, 1 / s - 1 / p, 0.0)
    parallel["_xy"], parallel["_xx"], parallel["_used"] = x * y, x * x, used.astype(int)
    parallel["_trust"] = parallel["trust"].where(used, "ok")
    parallel["_above"] = ((p > 1) & ~np.isnan(s)).astype(int)
    groups = parallel.groupby(keys, sort=False)
    fits = groups.agg(
        points=("_used", "sum"), max_workers=("workers", "max"), usable_cpus=("_usable", "first"),
        _above=("_above", "sum"), _xy=("_xy", "sum"), _xx=("_xx", "sum"), _baseline=("speedup", "count"),
        trust=("_trust", pooled_trust),
    )
    enough = fits["points"] >= AMDAHL_MIN_POINTS
    with np.errstate(divide="ignore", invalid="ignore"):
        fits["serial_fraction"] = np.where(enough, fits["_xy"] / fits["_xx"], np.nan)
        fits["ceiling"] = np.where(fits["serial_fraction"] > 0, 1 / fits["serial_fraction"], np.nan)
        f = parallel.join(fits["serial_fraction"], on=keys)["serial_fraction"].to_numpy()
        predicted = 1 / (f + (1 - f) / p)
    parallel["_sq"] = np.where(used, (predicted - s) ** 2, 0.0)
    fits["rmse"] = np.sqrt(parallel.groupby(keys, sort=False)["_sq"].sum() / fits["points"].where(enough))
    fits["reason"] = [_amdahl_reason(*row) for row in fits[["points", "usable_cpus", "_baseline", "_above"]].itertuples(index=False)]
    fits.loc[~enough, "trust"] = "ok"
    fits = fits.reset_index()
    fits["points"] = fits["points"].astype(int)
    fits["max_workers"] = fits["max_workers"].astype(int)
    return fits[AMDAHL_COLUMNS]


def _amdahl_reason(points: int, usable: float, with_baseline: int, above_one: int) -> str:
    if points >= AMDAHL_MIN_POINTS:
        return ""
    if not with_baseline:
        return "no serial baseline: no speedups to fit"
    if np.isnan(usable):
        return f"needs {AMDAHL_MIN_POINTS} worker counts > 1 within the usable CPUs, which were not logged (host.cpu_usable)"
    cpus = int(usable)
    over = f" ({above_one - points} more above the usable CPUs)" if above_one > points else ""
    return (f"needs {AMDAHL_MIN_POINTS} worker counts > 1 within the {cpus} usable CPU{'s' if cpus != 1 else ''}; "
            f"has {points}{over}")


def crossover(table: pd.DataFrame) -> pd.DataFrame:
    """Per (host, python, workload, backend, start_method, chunks): the smallest tested n at which it
    is measurably faster than serial (speedup interval above 1, at its best such worker count).

    ``crossover_n`` is blank when that never happens in the tested range (``n_min`` ..
    ``n_max``), or when there are no intervals to judge by; ``reason`` says which. ``workers``,
    ``speedup``, ``speedup_ci_low`` and ``trust`` are those of the row it cites.
    """
    parallel = table[(table["backend"] != "serial") & table["speedup"].notna()]
    rows = []
    for key, group in parallel.groupby(["host", "python", "workload"] + CONFIG_KEYS, sort=False):
        tested = sorted(group["n"].unique().tolist())
        span = (min(tested), max(tested), len(tested))
        beats = group[group["conclusion"] == FASTER].assign(_untrusted=lambda f: ~f["trust"].map(is_ok))
        # at the smallest such n, a trusted row before an untrusted one, then the best speedup
        beats = beats.sort_values(["n", "_untrusted", "speedup", "workers"], ascending=[True, True, False, True])
        if not beats.empty:
            first = beats.iloc[0]
            # the claim rests on the cited row, and on every row at a smaller n not being faster: their
            # trust too (not the other worker counts at the cited n: they are not what it claims)
            evidence = pooled_trust([first["trust"], *group.loc[group["n"] < first["n"], "trust"]])
            rows.append((*key, int(first["n"]), int(first["workers"]), float(first["speedup"]), float(first["speedup_ci_low"]),
                         *span, evidence, ""))
            continue
        if group["speedup_ci_low"].isna().all():
            reason = "no confidence intervals (--no-ci, or under 2 repetitions a side): no crossover claimed"
        else:
            tested_n = f"at n={format_n(span[0])}" if span[2] == 1 else f"for n from {format_n(span[0])} to {format_n(span[1])}"
            reason = f"never measurably faster than serial (the {CONFIDENCE:.0%} CI above 1) {tested_n}"
        evidence = pooled_trust(group["trust"]) if not group["speedup_ci_low"].isna().all() else OK
        rows.append((*key, pd.NA, pd.NA, np.nan, np.nan, *span, evidence, reason))
    frame = pd.DataFrame(rows, columns=CROSSOVER_COLUMNS)
    for column in ("crossover_n", "workers"):
        frame[column] = frame[column].astype("Int64")
    return frame


def with_amdahl(table: pd.DataFrame, amdahl: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each row's Amdahl fit as ``amdahl_serial_fraction``, ``amdahl_ceiling`` and
    ``amdahl_reason`` (why the fit is blank, when it is)."""
    keys = BASELINE_KEYS + CONFIG_KEYS
    fit = amdahl.set_index(keys)[["serial_fraction", "ceiling", "reason"]].rename(
        columns={"serial_fraction": "amdahl_serial_fraction", "ceiling": "amdahl_ceiling", "reason": "amdahl_reason"}
    )
    if fit.empty:
        return table.assign(amdahl_serial_fraction=np.nan, amdahl_ceiling=np.nan, amdahl_reason="")
    joined = table.join(fit, on=keys)
    joined["amdahl_reason"] = joined["amdahl_reason"].fillna("")
    return joined
