"""Pooling the per-process offset over a group's rows: how much narrower, at what coverage (issue 17)

No timing: synthetic A/A groups shaped like the quick sweep's (rows of couples of processes,
each couple with a lasting offset, each pair with noise of its own; true log-ratio 0), read with
each row's own cluster-robust interval and with the group's pooled offsets
(``runner.trial.stats.log_mean_interval``, ``pool_offsets``). Prints coverage and median
half-width per setting, and for a group with one row whose offsets are its own (the F test's case).

    .venv/bin/python benchmarks/pooled_offsets.py          # ~10 s
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from runner.trial.stats import couple_spread, log_mean_interval, pool_offsets


def simulate(offset: float, runs: int, seed: int, rows: int = 14, couples: int = 6, per: int = 5,
             noise: float = 0.13, odd: float | None = None) -> str:
    rng = random.Random(seed)
    held = {"own": 0, "pooled": 0, "odd own": 0, "odd pooled": 0}
    widths: dict[str, list[float]] = {"own": [], "pooled": []}
    for _ in range(runs):
        group = []
        for row in range(rows):
            spread = odd if odd is not None and row == 0 else offset
            logs, labels = [], []
            for couple in range(couples):
                lasting = rng.gauss(0, spread)
                logs += [lasting + rng.gauss(0, noise) for _ in range(per)]
                labels += [couple] * per
            group.append((logs, labels))
        pool = pool_offsets([couple_spread(logs, labels) for logs, labels in group])
        for row, (logs, labels) in enumerate(group):
            mean, own, _ = log_mean_interval(logs, labels)
            _, pooled, _ = log_mean_interval(logs, labels, pool=pool)
            prefix = "odd " if odd is not None and row == 0 else ""
            held[prefix + "own"] += abs(mean) <= own
            held[prefix + "pooled"] += abs(mean) <= pooled
            if not prefix:
                widths["own"].append(own)
                widths["pooled"].append(pooled)
    count = len(widths["own"])
    line = (f"| {offset:.1%} | {couples} x {per} | {held['own'] / count:.1%}, ±{statistics.median(widths['own']):.2%} "
            f"| {held['pooled'] / count:.1%}, ±{statistics.median(widths['pooled']):.2%} |")
    if odd is not None:
        line += f" one row at {odd:.0%}: own {held['odd own'] / runs:.1%}, pooled path {held['odd pooled'] / runs:.1%} |"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="synthetic groups per setting (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("14 rows per group, 13% noise per pair; coverage of the true 1.00 and median half-width\n")
    print("| offsets | couples x pairs | each row's own | pooled |\n|---|---|---|---|")
    for offset in (0.0, 0.014, 0.03, 0.05):
        print(simulate(offset, args.runs, args.seed))
    print(simulate(0.014, args.runs, args.seed, couples=3, per=10))
    for odd in (0.04, 0.08):
        print(simulate(0.014, args.runs, args.seed, odd=odd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
