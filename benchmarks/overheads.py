"""Overheads of the parallel backends: what one task costs, and from which n each beats serial.

For thread_pool, process_pool, ray and dask, side by side in one run, with the backends'
own code (``runner.trial.backends``: the very objects a trial uses, each started once, outside
the timings, as a trial does):

* **start-up**: ``start()`` (pool creation; Ray's local instance; Dask's LocalCluster);
* **round trip**: one repetition of ``workers`` empty-ish tasks (n = workers): dispatch to
  combined result, the floor under any ``wall_time_s`` the backend can report;
* **per task**: one repetition of ``--tasks`` one-item tasks, divided by their number: the
  cost of a task once the backend is busy (amortised; less than the round trip when the
  backend overlaps dispatch with work);
* **crossover**: repetitions of ``sum_range`` over a geometric range of n, against serial
  (one chunk in this thread). The crossover is the smallest n from which the backend's
  median beats serial's at every larger n measured; the estimate beside it solves
  ``round trip + t1 * n / workers = t1 * n`` with t1 the measured serial cost per item.

All backends are started first and then sampled in rounds, one repetition of each per
round, so that a change of load on the machine during the run hits every column alike.

    .venv/bin/python benchmarks/overheads.py                  # workers = usable cores (~1-2 min)
    .venv/bin/python benchmarks/overheads.py --workers 2 --max-n 1e7 --backends ray,dask

Ray and Dask need the cluster extra (``pip install 'parsweep[cluster]'``); a backend that
cannot start is reported and skipped. Local clusters are bound to 127.0.0.1; no network.
Run it on a quiet machine: anything else on the cores shows up in the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import load_average, machine_lines, table, usable_cores
from runner.trial.units import format_seconds

BACKENDS = ("thread_pool", "process_pool", "ray", "dask")
MIN_REPS, MAX_REPS, MIN_TIME_S = 5, 200, 0.3


def fmt_s(seconds: float | None) -> str:
    return format_seconds(None if seconds is None or seconds != seconds else seconds)


def fmt_n(n: float | None) -> str:
    if n is None:
        return "-"
    exponent = len(str(int(n))) - 1
    mantissa = n / 10**exponent
    return f"{mantissa:.0f}e{exponent}" if abs(mantissa - round(mantissa)) < 0.05 else f"{mantissa:.1f}e{exponent}"


def interleaved_medians(runs: dict[str, Callable[[], Any]], check: Callable[[Any], bool]) -> dict[str, float]:
    """Median wall time of each ``run()``, sampled in rounds (one sample of each per round,
    order rotating) so that a change of load on the machine hits all of them alike.

    One unrecorded warm-up each, then rounds until MIN_REPS and MIN_TIME_S (at most MAX_REPS).
    """
    names = list(runs)
    for name in names:
        if not check(runs[name]()):
            raise RuntimeError(f"{name}: wrong answer in warm-up")
    samples: dict[str, list[float]] = {name: [] for name in names}
    began = time.perf_counter()
    rounds = 0
    while rounds < MIN_REPS or (time.perf_counter() - began < MIN_TIME_S * len(names) and rounds < MAX_REPS):
        order = names[rounds % len(names):] + names[: rounds % len(names)]
        for name in order:
            t0 = time.perf_counter()
            value = runs[name]()
            samples[name].append(time.perf_counter() - t0)
            if not check(value):
                raise RuntimeError(f"{name}: wrong answer")
        rounds += 1
    return {name: statistics.median(values) for name, values in samples.items()}


def geometric_ns(max_n: int) -> list[int]:
    ns, n = [], 1000
    while n <= max_n:
        ns += [n, 3 * n] if 3 * n <= max_n else [n]
        n *= 10
    return ns


def crossover(ns: Sequence[int], serial: dict[int, float], backend: dict[int, float]) -> int | None:
    """The smallest n from which the backend beats serial at every larger n measured."""
    found = None
    for n in reversed(ns):
        if n in backend and backend[n] < serial[n]:
            found = n
        else:
            break
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=usable_cores())
    parser.add_argument("--tasks", type=int, default=200, help="tasks in the per-task measurement")
    parser.add_argument("--max-n", type=float, default=3e6, help="largest n of the crossover grid")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("PARSWEEP_LOCK_FILE", "off")

    from runner.trial import backends
    from runner.trial.chunking import split_range
    from runner.trial.workloads.sum_range import sum_range_chunk

    workers, ns = args.workers, geometric_ns(int(args.max_n))
    names = [b.strip() for b in args.backends.split(",") if b.strip()]

    def expected(n: int) -> int:
        return n * (n - 1) // 2

    def repetition(backend: Any, n: int, parts: int) -> Callable[[], int]:
        chunks = split_range(n, parts)
        return lambda: sum(part.value for part in backend.run(sum_range_chunk, chunks))

    print("\n".join(machine_lines()))
    print(f"workers      {workers}; n grid {', '.join(fmt_n(n) for n in ns)}\n")

    started: dict[str, Any] = {}
    startup: dict[str, float] = {}
    try:
        for name in names:
            options = {"start_method": "fork"} if name == "process_pool" else ({"address": None} if name in ("ray", "dask") else {})
            try:
                backend = backends.get(name)(workers, backends.get(name).check_options(options))
                t0 = time.perf_counter()
                backend.start()
                startup[name] = time.perf_counter() - t0
                started[name] = backend
            except Exception as exc:  # not installed, or cannot start here: say so and go on
                print(f"{name}: skipped ({str(exc).splitlines()[0]})")
        round_trip = interleaved_medians(
            {name: repetition(b, workers, workers) for name, b in started.items()}, lambda v: v == expected(workers)
        )
        many = interleaved_medians(
            {name: repetition(b, args.tasks, args.tasks) for name, b in started.items()}, lambda v: v == expected(args.tasks)
        )
        serial = backends.get("serial")(1, {})
        walls: dict[str, dict[int, float]] = {name: {} for name in ["serial", *started]}
        for n in ns:
            runs = {"serial": repetition(serial, n, 1), **{name: repetition(b, n, workers) for name, b in started.items()}}
            for name, wall in interleaved_medians(runs, lambda v, n=n: v == expected(n)).items():
                walls[name][n] = wall
    finally:
        for backend in started.values():
            backend.close()

    serial_wall = walls.pop("serial")
    big = [n for n in ns if n >= 100_000] or ns[-1:]
    per_item = statistics.median(serial_wall[n] / n for n in big)
    print(f"serial: {per_item * 1e9:.1f} ns per item (median over n >= {fmt_n(big[0])})\n")

    overhead_rows, wall_rows, cross_rows = [], [], []
    for name in started:
        overhead_rows.append([name, fmt_s(startup[name]), fmt_s(round_trip[name]), fmt_s(many[name] / args.tasks)])
        measured = crossover(ns, serial_wall, walls[name])
        # round trip + t1 n / w = t1 n  =>  n = round trip / (t1 (1 - 1/w))
        estimate = round_trip[name] / (per_item * (1 - 1 / workers)) if workers > 1 else None
        gil_bound = name == "thread_pool" and getattr(sys, "_is_gil_enabled", lambda: True)()
        cross_rows.append([
            name,
            fmt_n(measured) if measured else f"none up to {fmt_n(ns[-1])}",
            "never (the GIL)" if gil_bound else (fmt_n(estimate) if estimate else "-"),
            f"{serial_wall[ns[-1]] / walls[name][ns[-1]]:.2f}x",
        ])

    print(f"Per-task cost (workers = {workers})")
    print(table(["backend", "start-up", f"round trip ({workers} tasks)", f"per task ({args.tasks} tasks)"], overhead_rows))
    print()
    print("Median wall time of one repetition (speedup vs serial)")
    header = ["n", "serial", *walls]
    for n in ns:
        wall_rows.append([fmt_n(n), fmt_s(serial_wall[n]), *(f"{fmt_s(w[n])} ({serial_wall[n] / w[n]:.2f}x)" for w in walls.values())])
    print(table(header, wall_rows))
    print()
    print(f"Crossover: the smallest n from which each backend beats serial (workers = {workers})")
    print(table(["backend", "measured", "estimate from round trip", f"speedup at {fmt_n(ns[-1])}"], cross_rows))
    print(f"\nload average at the end {load_average()}  (1, 5, 15 min)")


if __name__ == "__main__":
    main()
