"""Affinity: do A/A speedups come out closer to 1.00, and tighter, with the trials pinned to the same CPUs?

Issue 17, item 3. ``threading`` x1 and ``process_pool`` x1 run the classic loop on one worker,
so their true speedup against serial is 1.00 (an A/A test). With ``affinity=true`` (the default)
the three trials of the sweep are pinned to the same CPU; with ``affinity=false`` the kernel
puts them where it likes, and a pool's worker may run on the other virtual CPU, whose speed can
differ at the same moment. The two settings alternate, sweep after sweep, in one run (pinned,
unpinned, pinned, ...), so the machine's drift over the run hits both alike::

    parsweep -m backend=serial,threading,process_pool workers=1 n=5e6 repeats=10 affinity=true|false

Per sweep and contender, read back from the store: the paired speedup (geometric mean of the
per-round ratios serial / contender, with its 95% t interval: ``runner.trial.stats.paired_ratio``
over ``parsweep.sample_rounds``) and the unpaired one (ratio of medians). Per setting: how far
they land from 1.00 (the median |log| distance, as a percentage) and how wide the paired
interval is (median half-width).

    .venv/bin/python benchmarks/affinity.py                 # 3 sweeps per setting, n = 5e6 (~2 min on 2 cores)
    .venv/bin/python benchmarks/affinity.py --sweeps 5 --n 1e7
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import load_average, machine_lines, parse_n, run_parsweep, scratch_dir, store_overrides, table, trial_runs, turn_order

from runner.trial.stats import pair_by_round, paired_ratio

CONTENDERS = ("threading", "process_pool")


Figures = tuple[float, float, float, bool]


def figures(uri: str, experiment: str) -> dict[str, Figures]:
    """Per contender of one sweep: paired speedup, its relative half-width, unpaired speedup,
    and whether the paired interval holds 1.00."""
    runs = {run.data.params["backend"]: run.data.tags for run in trial_runs(uri, experiment)}

    def samples(tags: dict[str, str]) -> list[tuple[int, float]]:
        rounds = [int(v) for v in tags["parsweep.sample_rounds"].split(",")]
        walls = [float(v) for v in tags["parsweep.rep_wall_times_s"].split(",")]
        return list(zip(rounds, walls))

    base = samples(runs["serial"])
    out = {}
    for name in CONTENDERS:
        other = samples(runs[name])
        numerators, denominators = pair_by_round(base, other)
        paired = paired_ratio(numerators, denominators)
        unpaired = statistics.median(w for _, w in base) / statistics.median(w for _, w in other)
        if paired is not None:
            out[name] = (paired.ratio, paired.rel_half_width, unpaired, paired.low <= 1.0 <= paired.high)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=parse_n, default=5_000_000, help="range size (default 5e6)")
    parser.add_argument("--repeats", type=int, default=10, help="recorded repetitions per trial (default 10)")
    parser.add_argument("--sweeps", type=int, default=3, help="sweeps per setting (default 3)")
    args = parser.parse_args()
    print("parsweep affinity benchmark: A/A speedups (true value 1.00), pinned against not, alternating sweeps")
    print("\n".join(machine_lines()))
    began = time.perf_counter()
    results: dict[bool, list[dict[str, Figures]]] = {True: [], False: []}
    with scratch_dir("parsweep-affinity-") as workdir:
        for index in range(args.sweeps):
            for pinned in turn_order((True, False), index):
                label = f"s{index}-{'pinned' if pinned else 'free'}"
                run_parsweep(["-m", "backend=serial,threading,process_pool", "workers=1", f"n={args.n}",
                              f"repeats={args.repeats}", "warmup=1", f"affinity={str(pinned).lower()}",
                              f"experiment={label}", "quiet=true", *store_overrides(workdir, label, store="affinity")], workdir)
                results[pinned].append(figures(f"sqlite:///{workdir / 'affinity.db'}", label))
                print(f"  {label}: " + ", ".join(f"{k} paired {v[0]:.3f} +-{v[1]:.1%}, unpaired {v[2]:.3f}"
                                                  for k, v in results[pinned][-1].items()), flush=True)
    rows = []
    for pinned in (True, False):
        for name in CONTENDERS:
            got = [r[name] for r in results[pinned] if name in r]
            if not got:
                continue
            rows.append([
                f"affinity={str(pinned).lower()}", name, str(len(got)),
                f"{statistics.median(abs(math.log(g[0])) for g in got):.1%}",
                f"{statistics.median(g[1] for g in got):.1%}",
                f"{sum(1 for g in got if g[3])}/{len(got)}",
                f"{statistics.median(abs(math.log(g[2])) for g in got):.1%}",
            ])
    print()
    print(table(["setting", "contender", "sweeps", "paired |off 1.00|", "paired +-", "CI holds 1.00", "unpaired |off 1.00|"], rows))
    print(f"\n(medians over the sweeps; load average at the end {load_average()}; took {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
