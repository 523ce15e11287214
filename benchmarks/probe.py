"""Probe: does a short machine-speed probe explain how a bare loop's wall time drifts on this VM?

Issue 17: on a cloud VM the virtual CPU's speed changes by itself, in phases of seconds, and no
other process shows it. parsweep runs a fixed, tiny piece of pure-Python work (the *probe*,
:func:`runner.trial.measure.speed_probe`, ~1.5 ms) in the trial process right before and right
after each repetition, on the same CPU. This script asks whether that probe tracks the drift,
with the bare classic loop (``total += i`` over ``range(n)``) and no parsweep around it:

    for each repetition: probe, loop, probe

and prints, per run: the loop's spread (std / mean) raw and divided by the probe's relative
speed (the mean of the two probes around it over their median), the correlation between probe
and wall, the probes' own spread, and how often the probe before and the probe after disagree.

``--hog`` adds a real slow phase: a busy process pinned to this process's CPU (``os.sched_setaffinity``)
during the middle third of the repetitions, so the loop and the probe share that CPU with it.
The probe must see that phase (probes about 2x slower in it) for it to be any use.

    .venv/bin/python benchmarks/probe.py                     # n = 1e7, 20 repetitions, 3 runs (~20 s)
    .venv/bin/python benchmarks/probe.py --n 1e6 --reps 60   # shorter repetitions
    .venv/bin/python benchmarks/probe.py --hog               # with a slow phase of our own making
    .venv/bin/python benchmarks/probe.py --sweep             # the probes of a real parsweep sweep (~30 s)

``--sweep`` asks the same of parsweep's own probes, in a real interleaved sweep (``--sweep-args``,
default serial, threading and process_pool at 1 and 2 workers, n=5e5, 60 repetitions): per trial
the correlation of its probes with its walls and its spread raw and divided by the probe (as
above); per contender, its pairs with serial (the same round) both ways: their noise (the std of
the log-ratios) and the speedup (their geometric mean), raw, divided by each side's probe, and
divided by each side's probe relative to the median probe of its own process (a process's probe
has a speed of its own). A correction would have to narrow the pairs without moving the speedup.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import machine_lines, parse_n, run_parsweep, scratch_dir, store_overrides, table, trial_runs

from runner.trial.measure import PROBE_N, PROBE_RUNS, speed_probe
from runner.trial.stats import pair_by_round


def loop(n: int) -> float:
    began = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - began


def spin(cpu: int, seconds: float) -> None:
    """A busy process on ``cpu`` for ``seconds`` (bounded: it ends by itself)."""
    os.sched_setaffinity(0, {cpu})
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def correlation(xs: list[float], ys: list[float]) -> float:
    try:
        return statistics.correlation(xs, ys)
    except statistics.StatisticsError:
        return math.nan


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.fmean(values)


def one_run(n: int, reps: int, hog: bool, probe_n: int, probe_runs: int) -> dict[str, float]:
    walls, probes, befores, afters, hogged = [], [], [], [], []
    cpu = min(os.sched_getaffinity(0))
    hogger = None
    for index in range(reps):
        in_phase = hog and reps // 3 <= index < 2 * reps // 3
        if in_phase and hogger is None:
            hogger = multiprocessing.get_context("fork").Process(target=spin, args=(cpu, 120.0), daemon=True)
            hogger.start()
            time.sleep(0.05)
        if not in_phase and hogger is not None:
            hogger.terminate()
            hogger.join()
            hogger = None
        before = speed_probe(probe_n, probe_runs)
        wall = loop(n)
        after = speed_probe(probe_n, probe_runs)
        walls.append(wall)
        befores.append(before)
        afters.append(after)
        probes.append((before + after) / 2)
        hogged.append(in_phase)
    if hogger is not None:
        hogger.terminate()
        hogger.join()
    reference = statistics.median(probes)
    normalised = [w / (p / reference) for w, p in zip(walls, probes)]
    disagree = statistics.median(abs(a / b - 1) for a, b in zip(befores, afters))
    out = {
        "wall_cv": cv(walls), "norm_cv": cv(normalised), "corr": correlation(walls, probes), "probe_cv": cv(probes),
        "wall_max_min": max(walls) / min(walls), "norm_max_min": max(normalised) / min(normalised), "before_after": disagree,
        "probe_ms": 1000 * reference,
    }
    if hog:
        inside = [p for p, h in zip(probes, hogged) if h]
        outside = [p for p, h in zip(probes, hogged) if not h]
        out["hog_probe_ratio"] = statistics.median(inside) / statistics.median(outside)
        out["hog_wall_ratio"] = statistics.median(w for w, h in zip(walls, hogged) if h) / statistics.median(
            w for w, h in zip(walls, hogged) if not h)
    return out


SWEEP_ARGS = "-m backend=serial,threading,process_pool workers=1,2 n=5e5 repeats=60 warmup=1"


def _numbers(tags: dict[str, str], tag: str) -> list[float]:
    """A comma-separated sample tag (``parsweep.rep_wall_times_s`` and its companions). The
    analysis (pandas) is imported here, not at the top: the bare-loop runs time the loop in a
    process without it."""
    from analysis.data.load import parse_samples

    return parse_samples(tags.get(tag)) or []


def sweep_probes(arguments: list[str]) -> None:
    """A real sweep's probes: do they track its walls, and would dividing by them help a speedup?"""
    with scratch_dir("parsweep-probe-") as work:
        seconds = run_parsweep([*arguments, *store_overrides(work, "probe")], work)
        runs = trial_runs(f"sqlite:///{work / 'probe.db'}")
    print(f"the sweep: parsweep {' '.join(arguments)} ({seconds:.0f} s)")
    # per trial: its walls divided three ways, each as (round, value): raw, by its probe, by its probe relative to
    # the median probe of its own process (a process's probe runs at a speed of its own, which the raw probe carries)
    trials: dict[tuple[str, str], list[list[tuple[int, float]]]] = {}
    rows = []
    for run in runs:
        tags, params = run.data.tags, run.data.params
        walls, probes = _numbers(tags, "parsweep.rep_wall_times_s"), _numbers(tags, "parsweep.sample_probes")
        rounds = [int(value) for value in _numbers(tags, "parsweep.sample_rounds")]
        if not walls or len(probes) != len(walls) or len(rounds) != len(walls):
            continue
        label = f"{params['backend']} x{params['workers']}"
        processes = _numbers(tags, "parsweep.sample_processes") or [0.0] * len(probes)
        level = {process: statistics.median(p for p, q in zip(probes, processes) if q == process) for process in set(processes)}
        relative = [p / level[q] for p, q in zip(probes, processes)]
        trials[(params["n"], label)] = [list(zip(rounds, values)) for values in (
            walls, [w / p for w, p in zip(walls, probes)], [w / r for w, r in zip(walls, relative)])]
        log_walls = [math.log(w) for w in walls]
        divided = [math.log(w / p) for w, p in zip(walls, probes)]
        rows.append([f"n={float(params['n']):.0e} {label}", str(len(walls)), f"{correlation([math.log(p) for p in probes], log_walls):.2f}",
                     f"{statistics.stdev(log_walls):.3f}", f"{statistics.stdev(divided):.3f}", f"{cv(probes):.1%}"])
    print(table(["trial", "reps", "corr(log)", "sd log wall", "sd log wall/probe", "probe cv"], rows))
    rows = []
    for (n, label), ways in trials.items():
        if label.startswith("serial") or (n, "serial x1") not in trials:
            continue
        # the pairs with serial, the same round, each way: log(serial's / this one's)
        logs = [[math.log(b / c) for b, c in zip(*pair_by_round(base, mine))] for base, mine in zip(trials[(n, "serial x1")], ways)]
        if len(logs[0]) < 5:
            continue
        rows.append([f"n={float(n):.0e} {label}", str(len(logs[0])),
                     *(f"{statistics.stdev(values):.3f}" for values in logs),
                     *(f"{math.exp(statistics.fmean(values)):.3f}" for values in logs)])
    print()
    print(table(["contender", "pairs", "pair noise", "/ probe", "/ relative probe", "speedup", "/ probe", "/ relative probe"], rows))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=parse_n, default=10_000_000, help="the loop's range size (default 1e7)")
    parser.add_argument("--reps", type=int, default=20, help="repetitions per run (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--hog", action="store_true", help="a busy process pinned to our CPU in the middle third")
    parser.add_argument("--probe-n", type=parse_n, default=PROBE_N, help=f"the probe's loop size (default {PROBE_N})")
    parser.add_argument("--probe-runs", type=int, default=PROBE_RUNS, help=f"the probe's runs, fastest kept (default {PROBE_RUNS})")
    parser.add_argument("--no-pin", action="store_true", help="do not pin this process to one CPU")
    parser.add_argument("--sweep", action="store_true", help="read the probes of a real parsweep sweep instead")
    parser.add_argument("--sweep-args", default=SWEEP_ARGS, help=f"that sweep's arguments (default: {SWEEP_ARGS})")
    args = parser.parse_args()
    print("\n".join(machine_lines()))
    if args.sweep:
        sweep_probes(args.sweep_args.split())
        return
    if not args.no_pin:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one CPU: what the probe and the loop share
    print(f"loop n={args.n:.0e}, {args.reps} repetitions per run, {'pinned to one CPU' if not args.no_pin else 'not pinned'}"
          f"{', a busy process on that CPU in the middle third' if args.hog else ''}; probe {args.probe_n} x {args.probe_runs}")
    header = f"{'run':>3} {'probe ms':>8} {'wall cv':>8} {'norm cv':>8} {'wall max/min':>12} {'norm max/min':>12} {'corr':>6} {'probe cv':>8} {'bef/aft':>7}"
    if args.hog:
        header += f" {'hog probe x':>11} {'hog wall x':>10}"
    print(header)
    for run in range(1, args.runs + 1):
        r = one_run(args.n, args.reps, args.hog, args.probe_n, args.probe_runs)
        line = (f"{run:>3} {r['probe_ms']:>8.2f} {r['wall_cv']:>8.1%} {r['norm_cv']:>8.1%} {r['wall_max_min']:>12.2f} "
                f"{r['norm_max_min']:>12.2f} {r['corr']:>6.2f} {r['probe_cv']:>8.1%} {r['before_after']:>7.1%}")
        if args.hog:
            line += f" {r['hog_probe_ratio']:>11.2f} {r['hog_wall_ratio']:>10.2f}"
        print(line, flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
