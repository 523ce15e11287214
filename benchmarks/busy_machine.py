"""Numbers that hold on a busy machine: the same sweep quiet, then with a real CPU hog for part of it.

Issue 11's goals, measured side by side in one run:

1. **No row off by more than 10% goes unflagged.** With a hog running for part of the sweep
   and the clean-up off (``interference.retries=0``), every row whose speedup is more than 10%
   away from the quiet run's must carry a trust reason (its row's ``trust`` is not ``ok``).
2. **The clean-up brings the figures back.** With the clean-up on (the default), at least 80%
   of the rows end within 10% of the quiet figure.
3. **No cold-start bias.** In the quick sweep (what ``make run`` runs), the serial baseline
   against a 1-worker pool of the same work: within 3% (the old order ran serial first and cold).
   A hand-written script's own 1-worker fork pool takes about 1.03 times its main thread's time
   for the same loop, dispatch and worker included (``benchmarks/contexts.py``, 2026-12-05:
   1.030 at n=5e5, 1.027 at 1e6): the 3% is about what such a pool costs anyway, so a figure
   near 0.97 is that cost, not a cold start.

The hog is one busy process at normal priority (``while True: pass``), started a moment after
the sweep and stopped after a share of the quiet run's duration (``--hog-share``, default 0.4).
For comparison the old order (``schedule=sequential``) runs under the same hog, clean-up off:
the "before" of this issue. The quiet sweep runs again after the busy ones: a row's reference
is the geometric mean of the two, and a row whose two quiet figures differ by more than 10% (or
are not trusted) is shown but left out of goals 1 and 2 (on a noisy machine, "off by more than
10%" of a reference that itself moves by more is no finding). The cold-start figure is the
median of three quick sweeps. Every sweep has its own sqlite store in a temporary directory.

The sweeps run ``repeats=auto`` as the quick preset does (each speedup measured in paired rounds
until it is known within ``target_speedup_ci=0.05``, at most 200 pairs), at its sizes, with
``sweep_budget_s`` (``--budget``, default 90 s) so that each sweep ends in about a minute and a half. A fixed
``--repeats 5`` is the measurement of 2026-12-01, before the pairing: today's trust rules leave
nearly every row of such a sweep untrusted, so nearly every row drops out of goals 1 and 2 as
unstable (15 of 16 on 2026-12-05), which makes them say nothing. The cold-start figure is the
1-worker pool's speedup as the report gives it (paired round by round in an interleaved sweep)
with its interval, the median of the quick sweeps.

    .venv/bin/python benchmarks/busy_machine.py              # about 15 minutes on 2 cores
    .venv/bin/python benchmarks/busy_machine.py --n 1e6,1e7 --repeats 5   # the 2026-12-01 measurement
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.model.trust import is_ok
from benchmarks._common import load_average, machine_lines, median, run_parsweep, scratch_dir, store_overrides, table, verdict

OFF_BY = 0.10
CLEANED_SHARE = 0.80
COLD_TOLERANCE = 0.03
BACKENDS = "serial,threading,multiprocessing,thread_pool,process_pool"
# repeats=auto as the quick preset runs it: a +-5% speedup is reference enough for "off by 10%".
PRECISION = ("target_speedup_ci=0.05", "max_repeats=200")


class Hog:
    """One CPU-bound process at normal priority, from ``delay_s`` after start for ``for_s`` seconds."""

    def __init__(self, delay_s: float, for_s: float) -> None:
        self.delay_s, self.for_s = delay_s, for_s
        self.process: subprocess.Popen[bytes] | None = None
        self.timer = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        time.sleep(self.delay_s)
        self.process = subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"])
        time.sleep(self.for_s)
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> Hog:
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.join()


def sweep(workdir: Path, label: str, args: list[str]) -> tuple[float, dict[tuple, dict]]:
    """Run one sweep; its wall time and its report's rows by (n, backend, workers)."""
    from analysis.report import load_report

    overrides = store_overrides(workdir, label)
    wall = run_parsweep(["-m", *args, *overrides], workdir)
    report = load_report(overrides[0].split("=", 1)[1], seed=0)
    rows = {}
    for row in report.table.to_dict(orient="records"):
        rows[(int(row["n"]), row["backend"], int(row["workers"]))] = row
    return wall, rows


def reference(first: dict[tuple, dict], second: dict[tuple, dict]) -> dict[tuple, tuple[float, bool]]:
    """Each row's quiet speedup (geometric mean of the quiet sweeps before and after the busy
    ones), and whether it is stable: both quiet sweeps within OFF_BY of each other and trusted.
    Against an unstable reference "off by more than 10%" means nothing."""
    out = {}
    for key, row in first.items():
        again = second.get(key)
        a, b = row["speedup"], again["speedup"] if again else float("nan")
        if key[1] == "serial" or not a or not b or a != a or b != b:
            continue
        stable = abs(b / a - 1) <= OFF_BY and is_ok(row["trust"]) and again is not None and is_ok(again["trust"])
        out[key] = ((a * b) ** 0.5, stable)
    return out


def compare(quiet: dict[tuple, tuple[float, bool]], noisy: dict[tuple, dict]) -> list[dict]:
    out = []
    for key, row in noisy.items():
        if key not in quiet:
            continue
        (figure_q, stable), figure = quiet[key], row["speedup"]
        if figure != figure:
            continue
        out.append({"key": key, "quiet": figure_q, "stable": stable, "noisy": figure, "off": figure / figure_q - 1, "trust": row["trust"]})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="5e5,1e6", help="range sizes to sweep (default 5e5,1e6: the quick preset's)")
    parser.add_argument("--workers", default="1,2", help="worker counts (default 1,2)")
    parser.add_argument("--repeats", default="auto", help="repeats for every sweep but the quick ones (default auto)")
    parser.add_argument("--budget", type=float, default=90.0, help="sweep_budget_s with repeats=auto (default 90)")
    parser.add_argument("--hog-share", type=float, default=0.4, help="share of the quiet sweep's duration the hog runs")
    parser.add_argument("--quick-runs", type=int, default=3, help="quick sweeps for the cold-start figure (median), default 3")
    args = parser.parse_args()
    base = [f"backend={BACKENDS}", f"workers={args.workers}", f"n={args.n}", f"repeats={args.repeats}", "warmup=1", "quiet=true",
            "seed=1"] + ([f"sweep_budget_s={args.budget:g}", *PRECISION] if args.repeats == "auto" else [])
    print("parsweep busy-machine benchmark: the same sweep quiet, then under a real CPU hog")
    print("\n".join(machine_lines()))
    print(f"sweep        {' '.join(base)}")
    with scratch_dir("parsweep-busy-") as workdir:
        quiet_wall, quiet = sweep(workdir, "quiet", base)
        hog_for = args.hog_share * quiet_wall
        print(f"quiet sweep  {quiet_wall:.1f} s; the hog runs from 2 s in for {hog_for:.1f} s in each sweep below")
        noisy = {}
        for label, extra in (
            ("sequential, no clean-up (before)", ["schedule=sequential", "interference.retries=0"]),
            ("interleaved, no clean-up", ["interference.retries=0"]),
            ("interleaved, clean-up on (default)", []),
        ):
            with Hog(2.0, hog_for):
                noisy[label] = sweep(workdir, label.split(",")[0].replace(" ", "-") + str(len(noisy)), base + extra)
        _, quiet_again = sweep(workdir, "quiet-again", base)
        references = reference(quiet, quiet_again)
        unstable = sorted(key for key, (_, stable) in references.items() if not stable)
        print(f"quiet again  the reference is each row's geometric mean of the two quiet sweeps; {len(unstable)} of "
              f"{len(references)} rows are left out of goals 1 and 2: the two quiet sweeps differ by more than "
              f"{OFF_BY:.0%} there or a quiet row is not trusted ({', '.join(f'{k[0]:g} {k[1]} x{k[2]}' for k in unstable) or 'none'})")
        runs = {label: (wall, compare(references, rows)) for label, (wall, rows) in noisy.items()}
        colds = [sweep(workdir, f"quick{i}", ["sweep=quick", "quiet=true", f"seed={i + 1}"])[1] for i in range(args.quick_runs)]
        seq_wall, cold_seq = sweep(workdir, "quick-sequential", ["sweep=quick", "quiet=true", "schedule=sequential"])

    results = []
    for label, (wall, all_rows) in runs.items():
        rows = [r for r in all_rows if r["stable"]]
        off = [r for r in rows if abs(r["off"]) > OFF_BY]
        unflagged = [r for r in off if is_ok(r["trust"])]
        within = sum(1 for r in rows if abs(r["off"]) <= OFF_BY)
        results.append((label, wall, rows, off, unflagged, within))
        print(f"\n{label}: {wall:.1f} s")
        print(table(
            ["n, backend, workers", "quiet speedup", "speedup", "off by", "trust"],
            [[f"{r['key'][0]:g} {r['key'][1]} x{r['key'][2]}", f"{r['quiet']:.2f}x" + ("" if r["stable"] else " (unstable)"),
              f"{r['noisy']:.2f}x", f"{r['off']:+.0%}", r["trust"]] for r in all_rows],
        ))
        print(f"rows off by more than {OFF_BY:.0%}: {len(off)} of {len(rows)} with a stable reference, unflagged: {len(unflagged)}; "
              f"within {OFF_BY:.0%} of quiet: {within} of {len(rows)} ({within / max(1, len(rows)):.0%})")

    print(f"\ncold start (the quick sweep, make run): the 1-worker pool's speedup against serial as the report gives it, "
          f"same work (serial / pool; interleaved: median of {len(colds)} sweeps, each sweep's figure and interval beside it)")
    cold_rows = []
    ok_cold = True
    for label, sweeps in (("interleaved (default)", colds), ("sequential (before)", [cold_seq])):
        for n in sorted({key[0] for key in sweeps[0]}):
            for pool in ("thread_pool", "process_pool"):
                found = [row for rows in sweeps if (row := rows.get((n, pool, 1))) and not math.isnan(row["speedup"])]
                if not found:
                    continue
                ratio = median([row["speedup"] for row in found])
                each = " ".join(f"{row['speedup']:.3f} ({row['speedup_ci_low']:.3f}-{row['speedup_ci_high']:.3f})" for row in found)
                cold_rows.append([label, f"{n:g}", pool, f"{ratio:.3f}", f"{ratio - 1:+.1%}", each])
                if label.startswith("interleaved") and pool == "process_pool":
                    ok_cold &= abs(ratio - 1) <= COLD_TOLERANCE
    print(table(["schedule", "n", "pool x1", "speedup", "bias", "each sweep (95% CI)"], cold_rows))

    no_unflagged = all(not unflagged for label, _, _, _, unflagged, _ in results if label.startswith("interleaved"))
    cleaned = next(within / max(1, len(rows)) for label, _, rows, _, _, within in results if "clean-up on" in label)
    print()
    print(f"goal 1, no row off by more than {OFF_BY:.0%} unflagged (interleaved, clean-up off and on): {verdict(no_unflagged)}")
    print(f"goal 2, at least {CLEANED_SHARE:.0%} of rows within {OFF_BY:.0%} with the clean-up on: {cleaned:.0%}: {verdict(cleaned >= CLEANED_SHARE)}")
    print(f"goal 3, serial within {COLD_TOLERANCE:.0%} of a 1-worker process pool in the quick sweep: {verdict(ok_cold)}")
    print(f"load average at the end {load_average()}")
    return 0 if (no_unflagged and cleaned >= CLEANED_SHARE and ok_cold) else 1


if __name__ == "__main__":
    sys.exit(main())
