"""Does a process keep its own speed for its whole life? (issue 17: why a trial's repetitions
are spread over several processes, ``repeats_per_process``)

Couples of processes, both forked from this one at the same moment and pinned to the same CPU,
run the same pure-Python loop in turns (A B B A A B ..., so that neither side always goes first),
``--pairs`` times; each couple's paired ratio B/A is the geometric mean of its per-pair ratios,
with its 95% t interval. The machine's drift moves both sides of a pair alike and cancels; what
is left is the couple's own difference. If a process had no lasting speed of its own, every
couple would hold 1.00 within its interval, and their ratios would spread no more than their
intervals say. Printed: each couple, the spread of their log ratios against what the
intervals alone would give, and the offset of one process that this implies.

Run: ``.venv/bin/python benchmarks/process_offset.py [--couples 10] [--pairs 60] [--n 2e5]`` (~15 s).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import in_turns, machine_lines, table

from runner.trial.stats import paired_ratio


def loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


class Child:
    """A forked process that times ``loop(n)`` each time it is asked, pinned to ``cpu``."""

    def __init__(self, n: int, cpu: int | None) -> None:
        ask_read, self.ask = os.pipe()
        self.answers, answer_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: nothing but the loop, until its pipe closes
            os.close(self.ask)
            os.close(self.answers)
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            while os.read(ask_read, 1):
                began = time.perf_counter()
                loop(n)
                os.write(answer_write, repr(time.perf_counter() - began).encode().ljust(32))
            os._exit(0)
        os.close(ask_read)
        os.close(answer_write)

    def time(self) -> float:
        os.write(self.ask, b"x")
        return float(os.read(self.answers, 32).decode())

    def close(self) -> None:
        """Ask it to end; :meth:`wait` for it once every child forked after it has been asked too
        (they hold a copy of this one's pipe)."""
        os.close(self.ask)
        os.close(self.answers)

    def wait(self) -> None:
        os.waitpid(self.pid, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--couples", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--n", type=float, default=2e5, help="the loop's size (2e5: ~15 ms)")
    args = parser.parse_args(argv)
    n = int(args.n)
    print("\n".join(machine_lines()))
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cpu = cpus[-1] if cpus else None
    if cpu is not None and len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[:-1]))  # this process waits elsewhere
    print(f"couples of processes forked together, pinned to CPU {cpu}, the loop at n={n:g}, {args.pairs} pairs each\n")
    rows, logs, halves = [], [], []
    for couple in range(args.couples):
        a, b = Child(n, cpu), Child(n, cpu)
        for _ in range(2):  # warm-up
            a.time(), b.time()
        first, second = [], []
        for index in range(args.pairs):
            ta, tb = in_turns((a.time, b.time), index)
            first.append(ta)
            second.append(tb)
        for child in (a, b):
            child.close()
        for child in (a, b):
            child.wait()
        ratio = paired_ratio(second, first)
        assert ratio is not None
        logs.append(math.log(ratio.ratio))
        halves.append(math.log(ratio.high / ratio.low) / 2)
        holds = "yes" if ratio.low <= 1 <= ratio.high else "NO"
        rows.append([str(couple + 1), f"{ratio.ratio:.4f}", f"{ratio.low:.4f}-{ratio.high:.4f}", f"+-{ratio.rel_half_width:.1%}", holds])
    print(table(["couple", "B/A", "95% CI", "width", "holds 1.00"], rows))
    spread = statistics.stdev(logs)
    expected = statistics.fmean(h / 1.96 for h in halves)  # what the per-pair noise alone would give
    between = math.sqrt(max(0.0, spread**2 - expected**2))
    outside = sum(1 for row in rows if row[-1] == "NO")
    print(f"\ncouples whose interval misses 1.00: {outside} of {len(rows)} (about 5% expected without lasting offsets)")
    print(f"spread of the couples' log ratios: {spread:.4f}; from their own noise alone: {expected:.4f}")
    print(f"a couple's lasting difference: std {between:.2%}, so one process's own offset about {between / math.sqrt(2):.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
