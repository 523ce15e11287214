"""Fidelity across workloads: where threads win and where processes win.

The same question as the seed experiment, asked of three kinds of work, by the real
``parsweep`` command (one ``-m`` sweep per workload, a temp store, figures read back from
MLflow):

* ``sum_range``: the pure-Python loop; it holds the GIL, so threads cannot run it in
  parallel and processes should win;
* ``numpy_sum``: the same sum in NumPy over cache-sized arrays; NumPy releases the GIL in
  its C loops, so threads scale too, without the processes' start-up;
* ``sleep``: I/O-bound stand-in (each chunk sleeps); nothing holds the GIL, threads scale
  perfectly and start fastest.

Each workload runs ``serial`` (the baseline) and ``threading``, ``multiprocessing``,
``process_pool`` at ``--workers`` workers, with the sizes below chosen so a serial
repetition takes roughly half a second here. One table: median wall time with the
median's 95% CI, speedup vs serial, cpu_utilization (CPU seconds per wall second: ~1 for
GIL-bound threads, ~workers for processes), and the winner per workload.

    .venv/bin/python benchmarks/fidelity_workloads.py               # ~2 min on 2 cores
    .venv/bin/python benchmarks/fidelity_workloads.py --scale 0.2   # quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_lines, run_parsweep, scratch_dir, store_overrides, table, trial_runs

EXPERIMENT = "fidelity-workloads"
BACKENDS = ["serial", "threading", "multiprocessing", "process_pool"]
# workload: (n for --scale 1, extra overrides); about 0.5 s per serial repetition on 2 cores here.
WORKLOADS = {
    "sum_range": (20_000_000, []),
    "numpy_sum": (1_000_000_000, []),
    "sleep": (1_000_000, ["workload.sleep_per_item_s=5e-7"]),
}
IMBALANCE_N = 1_000_000  # count_primes: the upper half costs ~1.7x the lower one
IMBALANCE_BACKENDS = ["threading", "multiprocessing", "process_pool"]


def sweep(workload: str, n: int, extra: list[str], args: argparse.Namespace, workdir: Path) -> list[dict]:
    """One ``parsweep -m`` over the backends for ``workload``; its trials as plain rows."""
    overrides = [
        "-m",
        f"workload={workload}",
        f"backend={','.join(BACKENDS)}",
        f"workers={args.workers}",
        f"n={n}",
        f"repeats={args.repeats}",
        f"warmup={args.warmup}",
        f"experiment={EXPERIMENT}",
        "quiet=true",
        *extra,
        *store_overrides(workdir, workload, store="store"),
    ]
    run_parsweep([o for o in overrides if o], workdir)
    rows = []
    for run in trial_runs(f"sqlite:///{workdir / 'store.db'}", EXPERIMENT):
        if run.data.params.get("workload") != workload:
            continue
        if run.info.status != "FINISHED" or run.data.metrics.get("correct") != 1.0:
            raise SystemExit(f"benchmark: trial {run.info.run_name} failed: {run.data.tags.get('parsweep.error')}")
        m = run.data.metrics
        rows.append(
            {
                "workload": workload,
                "n": n,
                "backend": run.data.params["backend"],
                "workers": int(run.data.params["workers"]),
                "wall": m["wall_time_s"],
                "ci_low": m.get("wall_time_ci_low_s"),
                "ci_high": m.get("wall_time_ci_high_s"),
                "cpu_utilization": m["cpu_utilization"],
                "other_cpu_cores": m.get("other_cpu_cores"),
                "warnings": len([w for w in run.data.tags.get("parsweep.warnings", "").splitlines() if w.strip()]),
            }
        )
    return rows


def imbalance_sweep(args: argparse.Namespace, workdir: Path) -> list[list[str]]:
    """count_primes at chunks = workers and chunks = 8 x workers: does the load even out?"""
    n = max(1, int(IMBALANCE_N * args.scale))
    chunk_counts = [args.workers, 8 * args.workers]
    overrides = [
        "-m",
        "workload=count_primes",
        f"backend={','.join(IMBALANCE_BACKENDS)}",
        f"workers={args.workers}",
        f"chunks={','.join(map(str, chunk_counts))}",
        f"n={n}",
        f"repeats={args.repeats}",
        f"warmup={args.warmup}",
        f"experiment={EXPERIMENT}",
        "quiet=true",
        *store_overrides(workdir, "count_primes", store="store"),
    ]
    run_parsweep(overrides, workdir)
    lines = []
    for run in trial_runs(f"sqlite:///{workdir / 'store.db'}", EXPERIMENT):
        if run.data.params.get("workload") != "count_primes":
            continue
        m = run.data.metrics
        if run.info.status != "FINISHED" or m.get("correct") != 1.0:
            raise SystemExit(f"benchmark: trial {run.info.run_name} failed: {run.data.tags.get('parsweep.error')}")
        lines.append(
            [
                run.data.params["backend"],
                run.data.params["chunks"],
                seconds(m["wall_time_s"]),
                f"{m['load_imbalance']:.2f}",
                seconds(m["worker_busy_max_s"]),
                seconds(m["worker_busy_mean_s"]),
                f"{m.get('other_cpu_cores', float('nan')):.2f}",
            ]
        )
    return sorted(lines, key=lambda line: (IMBALANCE_BACKENDS.index(line[0]), int(line[1])))


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value >= 1 else f"{value * 1e3:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel backends (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="recorded repetitions per trial (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up repetitions per trial (default 1)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every n by this (default 1)")
    parser.add_argument("--skip-imbalance", action="store_true", help="leave out the count_primes chunks table")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset (default: all three)")
    args = parser.parse_args()

    print("parsweep fidelity across workloads: threading vs multiprocessing vs process_pool")
    for line in machine_lines():
        print(line)
    print(f"trials       workers={args.workers} repeats={args.repeats} warmup={args.warmup}; speedup = serial median / median")
    print()

    began = time.perf_counter()
    rows: list[dict] = []
    with scratch_dir("parsweep-fidelity-workloads-") as workdir:
        chosen = {w: WORKLOADS[w] for w in args.workloads.split(",") if w in WORKLOADS}
        for workload, (n, extra) in chosen.items():
            n = max(1, int(n * args.scale))
            print(f"sweeping {workload} (n={n:,}) ...", flush=True)
            rows += sweep(workload, n, extra, args, workdir)
        imbalance = []
        if not args.skip_imbalance:
            print("sweeping count_primes over chunks ...", flush=True)
            imbalance = imbalance_sweep(args, workdir)
    elapsed = time.perf_counter() - began

    lines = []
    winners = {}
    for workload in chosen:
        mine = [r for r in rows if r["workload"] == workload]
        serial = next(r["wall"] for r in mine if r["backend"] == "serial")
        parallel = [r for r in mine if r["backend"] != "serial"]
        best = min(parallel, key=lambda r: r["wall"])
        # Backends whose median's CI overlaps the fastest one's cannot be told apart from it.
        tied = [r for r in parallel if r is not best and r["ci_low"] is not None and r["ci_low"] <= best["ci_high"]]
        winners[workload] = [best["backend"]] + [r["backend"] for r in tied]
        for backend in BACKENDS:
            r = next(x for x in mine if x["backend"] == backend)
            ci = f"{seconds(r['ci_low'])}–{seconds(r['ci_high'])}" if r["ci_low"] is not None else "-"
            other = f"{r['other_cpu_cores']:.2f}" if r["other_cpu_cores"] is not None else "-"
            lines.append(
                [
                    workload,
                    f"{r['n']:.0e}".replace("+0", "").replace("+", ""),
                    backend,
                    str(r["workers"]),
                    seconds(r["wall"]),
                    ci,
                    f"{serial / r['wall']:.2f}x",
                    f"{r['cpu_utilization']:.2f}",
                    other,
                    "<- fastest" if r is best else ("<- tied (CIs overlap)" if r in tied else ""),
                ]
            )
    headers = ["workload", "n", "backend", "workers", "wall (median)", "95% CI", "speedup", "cpu_util", "other cores", ""]
    print()
    print(table(headers, lines))
    print()
    for workload, best in winners.items():
        kinds = sorted({"threads" if b == "threading" else "processes" for b in best})
        print(f"{workload:<10} fastest: {' / '.join(best)}  ->  {' and '.join(kinds)} win")
    if imbalance:
        print()
        print(f"count_primes, n={int(IMBALANCE_N * args.scale):,}, workers={args.workers}: equal chunks are unequal work")
        print(table(["backend", "chunks", "wall (median)", "imbalance", "busiest worker", "mean worker", "other cores"], imbalance))
        print("imbalance = busiest worker's busy time / mean worker's (1.00 = even); threading and multiprocessing")
        print("deal chunks round-robin up front, pools hand the next chunk to whichever worker is free")
    others = [r["other_cpu_cores"] for r in rows if r["other_cpu_cores"] is not None]
    if others:
        print(f"other processes' CPU use during the trials: median {statistics.median(others):.2f} cores, max {max(others):.2f}")
    print(f"elapsed      {elapsed:.0f} s")


if __name__ == "__main__":
    main()
