"""Does the classic loop run at one speed wherever it runs? (issue 17: what an A/A sweep's "true
speedup 1.00" and a 1-worker pool's "about 1.00" assume)

Parsweep's A/A (``threading`` x1 against serial) and the busy benchmark's goal 3 (serial against
a 1-worker process pool) assume that the same loop runs equally fast in the main thread, in a new
thread and in a pool's worker process. This measures that assumption without parsweep: each of
``--hosts`` fresh processes (a plain ``python`` script, as a user's would be), pinned to one CPU,
times parsweep's own ``sum_range_chunk(0, n)`` in four places, in turns (a new shuffled order
every round, ``--rounds`` rounds):

- ``main``: the host's main thread;
- ``thread``: a new thread, started for each run (the ``threading`` backend's way);
- ``fork worker``: the worker of a 1-worker ``ProcessPoolExecutor`` forked from the host;
- ``spawn worker``: the same, started with ``spawn`` (a fresh interpreter).

Each place times the loop itself (``time.perf_counter`` around the call, inside that thread or
process), so a pool's dispatch is left out: what differs is the speed of the same code. The host
also times each pool call whole, from ``submit`` to its result (``fork pool, whole call`` and
``spawn pool, whole call``): what a hand-written script using a 1-worker pool would see, its
dispatch included, the reference for ``busy_machine.py``'s goal 3. Per host,
each place's paired ratio to ``main`` (the geometric mean of its per-round ratios, 95% t interval);
over hosts, the mean of those log ratios with its 95% t interval (each host draws its own
process layouts, so hosts, not rounds, are the independent samples), the range, and how many
hosts' own intervals exclude 1.00.

Run: ``.venv/bin/python benchmarks/contexts.py [--hosts 8] [--rounds 40] [--n 5e5]`` (~1 min).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_lines, table

from runner.trial.stats import log_mean_interval, paired_ratio
from runner.trial.workloads.sum_range import sum_range_chunk

PLACES = ("main", "thread", "fork worker", "spawn worker")
WHOLE = {"fork worker": "fork pool, whole call", "spawn worker": "spawn pool, whole call"}
FIGURES = (*PLACES[1:], *WHOLE.values())


def timed(n: int) -> float:
    """The loop's own time where it is called (a pool's worker runs this)."""
    began = time.perf_counter()
    sum_range_chunk(0, n)
    return time.perf_counter() - began


def in_thread(n: int) -> float:
    out: list[float] = []
    thread = threading.Thread(target=lambda: out.append(timed(n)))
    thread.start()
    thread.join()
    return out[0]


def whole_call(pool: ProcessPoolExecutor, n: int) -> tuple[float, float]:
    """The loop's own time in the pool's worker, and the host's time for the whole call."""
    began = time.perf_counter()
    own = pool.submit(timed, n).result()
    return own, time.perf_counter() - began


def host(n: int, rounds: int, seed: int) -> dict[str, list[float]]:
    """One host process: the loop in each place, in a shuffled order per round."""
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})  # the workers inherit it: every place on one CPU
    pools = {
        "fork worker": ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")),
        "spawn worker": ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")),
    }
    run = {
        "main": lambda: (timed(n), None),
        "thread": lambda: (in_thread(n), None),
        **{place: (lambda pool=pool: whole_call(pool, n)) for place, pool in pools.items()},
    }
    rng = random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in ("main", *FIGURES)}
    try:
        for index in range(rounds + 3):  # three warm-up rounds
            order = list(PLACES)
            rng.shuffle(order)
            measured = {place: run[place]() for place in order}
            if index >= 3:
                for place, (own, whole) in measured.items():
                    times[place].append(own)
                    if whole is not None:
                        times[WHOLE[place]].append(whole)
    finally:
        for pool in pools.values():
            pool.shutdown()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=8, help="fresh host processes, one after another")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--n", type=float, default=5e5, help="the loop's size (5e5: ~15 ms, the quick preset's smaller n)")
    parser.add_argument("--host", type=int, default=None, help=argparse.SUPPRESS)  # internal: run as one host
    args = parser.parse_args(argv)
    n = int(args.n)
    if args.host is not None:
        print(json.dumps(host(n, args.rounds, args.host)))
        return 0
    print("\n".join(machine_lines()))
    print(f"the loop (sum_range_chunk, n={n:g}) in {len(PLACES)} places, {args.rounds} rounds in turns, "
          f"in each of {args.hosts} fresh host processes pinned to one CPU\n")
    per_host: dict[str, list[tuple[float, float, float]]] = {name: [] for name in FIGURES}
    rows = []
    for index in range(args.hosts):
        done = subprocess.run([sys.executable, __file__, "--host", str(index), "--rounds", str(args.rounds), "--n", str(n)],
                              capture_output=True, text=True, check=True)
        times = json.loads(done.stdout.splitlines()[-1])
        cells = [str(index + 1), f"{statistics.median(times['main']) * 1e3:.2f} ms"]
        for name in FIGURES:
            ratio = paired_ratio(times[name], times["main"])
            assert ratio is not None
            per_host[name].append((ratio.ratio, ratio.low, ratio.high))
            cells.append(f"{ratio.ratio:.3f} ({ratio.low:.3f}-{ratio.high:.3f})")
        rows.append(cells)
    print("each place's time over main's (paired round by round, 95% CI):")
    print(table(["host", "main", *FIGURES], rows))
    summary = []
    for place in FIGURES:
        logs = [math.log(r) for r, _, _ in per_host[place]]
        mean, half, _ = log_mean_interval(logs) if len(logs) > 1 else (logs[0], math.inf, 1)  # hosts are the samples
        excluding = sum(1 for _, low, high in per_host[place] if not low <= 1 <= high)
        summary.append([place, f"{math.exp(mean):.3f}", f"{math.exp(mean - half):.3f}-{math.exp(mean + half):.3f}",
                        f"{min(r for r, _, _ in per_host[place]):.3f}-{max(r for r, _, _ in per_host[place]):.3f}",
                        f"{excluding} of {len(logs)}"])
    print("\nover hosts (time over main's; below 1.00: faster than the main thread):")
    print(table(["place", "mean", "95% CI", "hosts' range", "hosts excluding 1.00"], summary))
    print("\n".join(["", *machine_lines()[-1:]]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
