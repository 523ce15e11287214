"""Where a quick sweep's rounds go, and how noisy its pairs are (issue 17).

Runs the quick sweep (``parsweep -m sweep=quick``, or reads the store given with ``--store``) and
prints, from each trial's ``parsweep.sample_rounds`` and ``parsweep.sample_starts``:

* per (workload, n) group: its rounds, the seconds from its first repetition to its last, that
  per round, and the seconds of work per round (the sum of its trials' walls over its rounds);
* per contender: its pairs with serial (the same round), their noise (the std of the pairs'
  log-ratios, what a speedup's interval narrows from as 1/sqrt(pairs)), the same with the
  baseline interpolated in time between the baseline's repetitions on either side, and how far
  apart in time the two sides of a pair were (mean); then what the speedup's interval narrows
  from, both ways: the standard error of the mean log-ratio with the dependence between
  neighbouring pairs counted (Newey-West, one lag). Interpolated pairs share baseline
  repetitions with their neighbours, so a lower pair noise need not mean a narrower interval;
* the pairs' noise by how far apart the two sides were (quarters of all pairs): whether pairs
  closer in time would cancel more of the machine's drift.

    .venv/bin/python benchmarks/quick_rounds.py                     # a quick sweep, ~90 s
    .venv/bin/python benchmarks/quick_rounds.py --store sqlite:///mlflow.db   # a store's sweep
"""

from __future__ import annotations

import argparse
import bisect
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import machine_lines, run_parsweep, scratch_dir, store_overrides, table, trial_runs

from analysis.data.load import parse_samples
from runner.tracking.names import SAMPLE_ROUNDS_TAG, SAMPLE_STARTS_TAG, SAMPLES_TAG
from runner.trial.stats import pair_by_round
from runner.trial.units import format_n


def samples(run: Any) -> dict[str, Any]:
    """A trial's repetitions as (round, start, wall), from its tags."""
    tags, params = run.data.tags, run.data.params
    walls, rounds, starts = (parse_samples(tags.get(tag)) or [] for tag in (SAMPLES_TAG, SAMPLE_ROUNDS_TAG, SAMPLE_STARTS_TAG))
    reps = [(int(r), s, w) for r, s, w in zip(rounds, starts, walls) if not any(math.isnan(x) for x in (r, s, w))]
    return {"backend": params["backend"], "workers": int(params.get("workers", 1)), "n": int(float(params["n"])), "reps": reps}


def interpolated(base: list[tuple[int, float, float]], start: float) -> float | None:
    """The baseline's log wall at ``start``, interpolated between its repetitions on either side."""
    times = [s for _, s, _ in base]
    i = bisect.bisect_left(times, start)
    if not 0 < i < len(base):
        return None
    (_, s0, w0), (_, s1, w1) = base[i - 1], base[i]
    f = (start - s0) / (s1 - s0) if s1 > s0 else 0.5
    return (1 - f) * math.log(w0) + f * math.log(w1)


def mean_se(values: list[float]) -> float:
    """The standard error of the mean of a series in time order, the covariance of neighbours
    counted (Newey-West with one lag: ``(gamma0 + 2 gamma1) / N``; what independent values would
    give when gamma1 is 0)."""
    count = len(values)
    mean = statistics.fmean(values)
    centred = [v - mean for v in values]
    gamma0 = sum(v * v for v in centred) / count
    gamma1 = sum(a * b for a, b in zip(centred, centred[1:])) / count
    return math.sqrt(max(gamma0 + 2 * gamma1, 0.0) / count)


def analyse(uri: str) -> None:
    trials = [samples(run) for run in trial_runs(uri)]
    groups: dict[int, list[dict[str, Any]]] = {}
    for trial in trials:
        groups.setdefault(trial["n"], []).append(trial)
    group_rows, rows, gaps = [], [], []
    for n, group in sorted(groups.items()):
        rounds = max(r for t in group for r, _, _ in t["reps"]) + 1
        seconds = max(s for t in group for _, s, _ in t["reps"]) - min(s for t in group for _, s, _ in t["reps"])
        work = sum(w for t in group for _, _, w in t["reps"])
        group_rows.append([format_n(n), str(len(group)), str(rounds), f"{seconds:.1f} s", f"{seconds / rounds:.3f} s", f"{work / rounds:.3f} s"])
        base = next((t for t in group if t["backend"] == "serial"), None)
        if base is None:
            continue
        ordered = sorted(base["reps"], key=lambda rep: rep[1])
        started = {r: s for r, s, _ in base["reps"]}
        for trial in group:
            if trial is base:
                continue
            numerators, denominators = pair_by_round([(r, w) for r, _, w in base["reps"]], [(r, w) for r, _, w in trial["reps"]])
            logs = [math.log(a / b) for a, b in zip(numerators, denominators)]
            apart = [abs(s - started[r]) for r, s, _ in trial["reps"] if r in started]
            near = [b - math.log(w) for _, s, w in trial["reps"] if (b := interpolated(ordered, s)) is not None]
            if len(logs) < 2:
                continue
            mean = statistics.fmean(logs)
            gaps += [(gap, value - mean) for gap, value in zip(apart, logs)]
            rows.append([format_n(n), trial["backend"], str(trial["workers"]), str(len(logs)), f"{statistics.stdev(logs):.3f}",
                         f"{statistics.stdev(near):.3f}" if len(near) > 1 else "-", f"{statistics.fmean(apart):.2f} s",
                         f"{mean_se(logs):.4f}", f"{mean_se(near):.4f}" if len(near) > 1 else "-"])
    print(table(["n", "trials", "rounds", "first to last", "per round", "work per round"], group_rows) + "\n")
    print(table(["n", "backend", "workers", "pairs", "pair noise", "interpolated", "apart (mean)", "mean's se", "interpolated"], rows) + "\n")
    gaps.sort()
    quarter = len(gaps) // 4
    lines = []
    for k in range(4):
        part = gaps[k * quarter:(k + 1) * quarter] if k < 3 else gaps[3 * quarter:]
        if part:
            lines.append([f"{part[0][0]:.2f}-{part[-1][0]:.2f} s", str(len(part)), f"{statistics.pstdev(x for _, x in part):.3f}"])
    print(table(["sides apart", "pairs", "pair noise"], lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="read this store's sweep instead of running a quick sweep")
    args = parser.parse_args(argv)
    print("\n".join(machine_lines()) + "\n")
    if args.store:
        analyse(args.store)
        return 0
    with scratch_dir("quick-rounds-") as workdir:
        seconds = run_parsweep(["-m", "sweep=quick", *store_overrides(workdir, "quick")], workdir)
        print(f"the quick sweep: {seconds:.0f} s\n")
        analyse(f"sqlite:///{workdir / 'quick.db'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
