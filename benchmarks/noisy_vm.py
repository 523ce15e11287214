"""How precise an answer parsweep gives on a VM whose CPU speed drifts by itself (issue 17's goals).

Three measurements, each in this one run, with the machine's own drift measured beside them:

* **drift**: a bare pure-Python loop (n=1e6) timed 30 times in this process: how much the
  machine itself moves (std / mean, and slowest / fastest), with nothing of parsweep running.
* **A/A**: ``backend=serial,threading workers=1 n=1e7`` at the default settings, ``--aa`` sweeps
  (3). ``threading`` x1 runs the same loop in one thread: its true speedup is 1.00. For each
  sweep: the report's speedup, interval, ``ci_method`` and trust ("after"), and the same
  repetitions read as two independent pools (ratio of medians, bootstrap: what the report said
  before pairing, "before"). Goal: every interval contains 1.00 and is at most +-4% wide.
* **quick**: ``parsweep -m`` (the quick preset, default settings). Goal: every row with workers <=
  the usable CPUs trusted, every speedup's interval at most +-5%, in at most 90 s.

Run: ``.venv/bin/python benchmarks/noisy_vm.py [--aa 3] [--no-quick]``. It drives parsweep through
its console scripts (``parsweep``, ``parsweep-report --format json`` / ``samples-csv``), in a
scratch folder with its own store. The busy-machine goals are ``benchmarks/busy_machine.py``'s.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, clean_env, machine_lines, run_parsweep, scratch_dir, table, usable_cores, verdict

AA_HALF_WIDTH = 0.04
QUICK_HALF_WIDTH = 0.05
QUICK_BUDGET_S = 90.0


def bare_loop_drift(n: int = 1_000_000, reps: int = 30) -> tuple[float, float]:
    """std / mean and slowest / fastest of a bare loop in this process."""
    walls = []
    for _ in range(reps):
        began = time.perf_counter()
        total = 0
        for i in range(n):
            total += i
        walls.append(time.perf_counter() - began)
    return statistics.stdev(walls) / statistics.fmean(walls), max(walls) / min(walls)


def report(workdir: Path, fmt: str) -> str:
    command = [str(REPO / ".venv" / "bin" / "parsweep-report"), "--format", fmt, "--tracking-uri", f"sqlite:///{workdir / 'mlflow.db'}"]
    done = subprocess.run(command, cwd=workdir, env=clean_env(workdir), capture_output=True, text=True, check=True)
    return done.stdout


def half_width(low: float | None, high: float | None) -> float:
    if low is None or high is None or low <= 0:
        return math.inf
    return math.sqrt(high / low) - 1


def unpaired(workdir: Path, backend: str) -> tuple[float, float, float]:
    """The same repetitions as two independent pools: ratio of medians and its bootstrap interval."""
    import pandas as pd

    from analysis.model.stats import ratio_of_medians_ci

    samples = pd.read_csv(io.StringIO(report(workdir, "samples-csv")))
    serial = samples.loc[samples["backend"] == "serial", "wall_time_s"].to_numpy()
    other = samples.loc[samples["backend"] == backend, "wall_time_s"].to_numpy()
    low, high = ratio_of_medians_ci([serial], [other])
    return float(statistics.median(serial) / statistics.median(other)), float(low[0]), float(high[0])


def aa_sweeps(count: int) -> list[dict[str, Any]]:
    out = []
    for index in range(count):
        with scratch_dir("noisy-aa-") as workdir:
            began = time.perf_counter()
            run_parsweep(["-m", "backend=serial,threading", "workers=1", "n=1e7"], workdir)
            seconds = time.perf_counter() - began
            rows = json.loads(report(workdir, "json"))["rows"]
            row = next(r for r in rows if r["backend"] == "threading")
            before = unpaired(workdir, "threading")
            out.append({"sweep": index + 1, "seconds": seconds, "row": row, "before": before})
    return out


def quick_sweep(show: bool) -> dict[str, Any]:
    with scratch_dir("noisy-quick-") as workdir:
        began = time.perf_counter()
        run_parsweep(["-m"], workdir, quiet=not show)
        seconds = time.perf_counter() - began
        data = json.loads(report(workdir, "json"))
        return {"seconds": seconds, "rows": data["rows"], "verdict": data["verdict"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aa", type=int, default=3, help="A/A sweeps (default 3)")
    parser.add_argument("--no-quick", action="store_true", help="skip the quick sweep")
    parser.add_argument("--show", action="store_true", help="print the quick sweep's own output too")
    args = parser.parse_args(argv)
    print("\n".join(machine_lines()))
    rel, span = bare_loop_drift()
    print(f"drift        a bare loop (n=1e6, 30 reps, this process): std {rel:.1%} of the mean, slowest/fastest {span:.2f}x\n")

    results = aa_sweeps(args.aa)
    rows = []
    goal_aa = True
    for result in results:
        row, (b_speedup, b_low, b_high) = result["row"], result["before"]
        width = half_width(row["speedup_ci_low"], row["speedup_ci_high"])
        ok = row["speedup_ci_low"] is not None and row["speedup_ci_low"] <= 1 <= row["speedup_ci_high"] and width <= AA_HALF_WIDTH
        goal_aa &= ok
        rows.append([str(result["sweep"]), f"{b_speedup:.3f}", f"{b_low:.3f}-{b_high:.3f}", f"+-{half_width(b_low, b_high):.1%}",
                     f"{row['speedup']:.3f}", f"{row['speedup_ci_low']:.3f}-{row['speedup_ci_high']:.3f}", f"+-{width:.1%}",
                     str(row["ci_method"]), str(row["pairs"]), str(row["trust"]), f"{result['seconds']:.0f} s"])
    print("A/A: threading x1 against serial, n=1e7, default settings (true speedup 1.00)")
    print(table(["sweep", "before", "before CI", "width", "after", "after CI", "width", "method", "pairs", "trust", "time"], rows))
    print(f"goal: every interval holds 1.00 and is at most +-{AA_HALF_WIDTH:.0%}: {verdict(goal_aa)}\n")

    if not args.no_quick:
        quick = quick_sweep(args.show)
        cpus = usable_cores()
        within = [r for r in quick["rows"] if r["workers"] <= cpus]
        trusted = [r for r in within if str(r["trust"]).startswith("ok")]
        widths = [half_width(r["speedup_ci_low"], r["speedup_ci_high"]) for r in quick["rows"] if r["backend"] != "serial"]
        widest = max(widths) if widths else math.inf
        paired = sum(1 for r in quick["rows"] if r["ci_method"] == "paired")
        print(f"quick sweep (parsweep -m, default settings): {quick['seconds']:.0f} s, {len(quick['rows'])} rows, {paired} paired")
        print(f"  rows with workers <= {cpus} trusted: {len(trusted)} of {len(within)}")
        print(f"  widest speedup interval: +-{widest:.1%} (median +-{statistics.median(widths):.1%})")
        untrusted = [f"{r['backend']} x{r['workers']} n={r['n']:g}: {r['trust']}" for r in within if r not in trusted]
        for line in untrusted:
            print(f"  not trusted: {line}")
        goal = len(trusted) == len(within) and widest <= QUICK_HALF_WIDTH and quick["seconds"] <= QUICK_BUDGET_S
        print(f"goal: all trusted, every interval within +-{QUICK_HALF_WIDTH:.0%}, at most {QUICK_BUDGET_S:.0f} s: {verdict(goal)}")
        print("  verdict:\n" + "\n".join(f"    {line}" for line in quick["verdict"]))
    rel, span = bare_loop_drift()
    print(f"\ndrift after  a bare loop (n=1e6, 30 reps): std {rel:.1%} of the mean, slowest/fastest {span:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
