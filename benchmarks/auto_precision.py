"""Auto precision: does repeats=auto, stopping on the paired speedups' precision, reach +-3% on this VM, and how fast?

Issue 17, item 4. An A/A group (``threading`` x1 against serial: true speedup 1.00) measured
with a fixed ``repeats`` and with ``repeats=auto`` (``target_speedup_ci``, default +-3%),
alternating in one run so the machine's drift hits both. Per sweep: its wall time, and per
contender the paired speedup with its 95% interval, the repetitions it took and why it stopped
(``parsweep.repeats_stop``).

    .venv/bin/python benchmarks/auto_precision.py                  # n = 1e7, 2 sweeps each (~2-3 min on 2 cores)
    .venv/bin/python benchmarks/auto_precision.py --fixed 10 --sweeps 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import load_average, machine_lines, parse_n, run_parsweep, scratch_dir, store_overrides, table, trial_runs, turn_order

from runner.trial.stats import pair_by_round, paired_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=parse_n, default=10_000_000, help="range size (default 1e7)")
    parser.add_argument("--fixed", type=int, default=5, help="repeats of the fixed setting (default 5, the default of repeats)")
    parser.add_argument("--sweeps", type=int, default=2, help="sweeps per setting (default 2)")
    parser.add_argument("--backends", default="serial,threading,process_pool", help="the sweep's backends, workers=1")
    args = parser.parse_args()
    print("parsweep auto-precision benchmark: A/A group, fixed repeats against repeats=auto (paired stopping)")
    print("\n".join(machine_lines()))
    rows = []
    began = time.perf_counter()
    with scratch_dir("parsweep-auto-") as workdir:
        for index in range(args.sweeps):
            for setting in turn_order((f"repeats={args.fixed}", "repeats=auto"), index):
                label = f"s{index}-{setting.replace('=', '')}"
                took = run_parsweep(["-m", f"backend={args.backends}", "workers=1", f"n={args.n}", setting, "warmup=1",
                                     f"experiment={label}", "quiet=true", *store_overrides(workdir, label, store="auto")], workdir)
                runs = {r.data.params["backend"]: r.data.tags for r in trial_runs(f"sqlite:///{workdir / 'auto.db'}", label)}

                def samples(tags: dict[str, str]) -> list[tuple[int, float]]:
                    rounds = [int(v) for v in tags["parsweep.sample_rounds"].split(",")]
                    return list(zip(rounds, (float(v) for v in tags["parsweep.rep_wall_times_s"].split(","))))

                base = samples(runs["serial"])
                for name, tags in runs.items():
                    if name == "serial":
                        continue
                    paired = paired_ratio(*pair_by_round(base, samples(tags)))
                    rows.append([setting, str(index), f"{took:.0f} s", name,
                                 f"{paired.ratio:.3f} ({paired.low:.3f}-{paired.high:.3f})" if paired else "-",
                                 f"+-{paired.rel_half_width:.1%}" if paired else "-", str(len(samples(tags))),
                                 tags.get("parsweep.repeats_stop", "-"), f"{len(base)} / {runs['serial'].get('parsweep.repeats_stop', '-')}"])
                print(f"  {label}: {took:.0f} s", flush=True)
    print()
    print(table(["setting", "sweep", "took", "contender", "paired speedup (95% CI)", "+-", "reps", "stopped by", "serial reps / stop"], rows))
    print(f"\n(load average at the end {load_average()}; took {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
