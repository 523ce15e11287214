"""Fidelity: does parsweep measure what the classic hand-written scripts measure?

The classic experiment, written the way a user writes it (its own script files, run as
fresh ``python`` processes, timed with ``time.perf_counter`` inside the script):

* one thread summing ``range(0, n)`` with the pure-Python loop;
* two ``multiprocessing.Process`` workers (fork) each summing half, the partial sums sent
  back over a ``multiprocessing.Queue``, timed from before the processes are created to
  after the combined result.

Against the same work run by the real ``parsweep`` command (``backend=serial`` and
``backend=multiprocessing workers=2 backend.start_method=fork``), whose figure is the
trial's ``wall_time_s`` read back from the MLflow store it logged to (a temp dir).

Runs are interleaved round by round (hand-written and parsweep alternate, and which side
goes first alternates too), so that machine noise and drift hit both sides alike.

Goals (issue 2): parsweep's median within 3% of the hand-written median for both, and
parsweep's speedup at least 0.97 of the hand-written speedup. Issue 23: the same walls paired
round by round (each parsweep wall divided by the script's of the same round; the median of
those ratios, with a bootstrap 95% interval), each within 1%, and the speedup's paired ratio
within 1%.

    .venv/bin/python benchmarks/fidelity.py            # n = 1e8, 5 rounds (~2-3 min on 2 cores)
    .venv/bin/python benchmarks/fidelity.py --n 1e7    # quick check
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    machine_lines,
    median,
    paired_ratios,
    parse_n,
    run_parsweep,
    scratch_dir,
    spread,
    store_overrides,
    table,
    trial_runs,
    verdict,
)

WALL_TOLERANCE = 0.03  # parsweep's median within 3% of the hand-written one
SPEEDUP_FLOOR = 0.97  # parsweep's speedup at least 0.97 of the hand-written speedup
PAIRED_TOLERANCE = 0.01  # issue 23: paired round by round, each wall and the speedup within 1%
EXPERIMENT = "fidelity"

# The classic scripts, verbatim as a user would save them. They share nothing with parsweep.
ONE_THREAD = textwrap.dedent(
    """\
    import sys
    import time


    def partial_sum(a, b):
        total = 0
        for i in range(a, b):
            total += i
        return total


    if __name__ == "__main__":
        n = int(sys.argv[1])
        t0 = time.perf_counter()
        total = partial_sum(0, n)
        elapsed = time.perf_counter() - t0
        assert total == n * (n - 1) // 2, total
        print(elapsed)
    """
)

TWO_PROCESSES = textwrap.dedent(
    """\
    import multiprocessing
    import sys
    import time


    def partial_sum(a, b, results):
        total = 0
        for i in range(a, b):
            total += i
        results.put(total)


    if __name__ == "__main__":
        n = int(sys.argv[1])
        ctx = multiprocessing.get_context("fork")
        t0 = time.perf_counter()
        results = ctx.Queue()
        half = n // 2
        workers = [
            ctx.Process(target=partial_sum, args=(0, half, results)),
            ctx.Process(target=partial_sum, args=(half, n, results)),
        ]
        for w in workers:
            w.start()
        total = results.get() + results.get()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t0
        assert total == n * (n - 1) // 2, total
        print(elapsed)
    """
)

CASES = {
    # case: (hand-written script, parsweep overrides)
    "serial": ("one_thread.py", ["backend=serial"]),
    "multiprocessing x2": (
        "two_processes.py",
        ["backend=multiprocessing", "workers=2", "backend.start_method=fork"],
    ),
}


def run_hand_written(script: Path, n: int) -> float:
    done = subprocess.run([sys.executable, str(script), str(n)], capture_output=True, text=True, cwd=script.parent)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"benchmark: {script.name} failed")
    return float(done.stdout.strip().splitlines()[-1])


def paired_rows(samples: dict[tuple[str, str], list[float]], side: str) -> tuple[list[list[str]], float]:
    """Per case, ``side``'s walls over the script's of the same round; then the speedup (serial
    wall / 2 processes' wall, per round) over the script's of the same round. Returns the table's
    rows and how far the worst median ratio is from 1."""
    rows, worst = [], 0.0
    for case in CASES:
        paired = paired_ratios(samples[(case, "hand")], samples[(case, side)])
        worst = max(worst, abs(paired.median - 1))
        rows.append([f"{case} wall", f"{paired.median:.4f}", f"{paired.low:.3f}-{paired.high:.3f}", f"{min(paired.ratios):.3f}-{max(paired.ratios):.3f}"])
    serial, parallel = list(CASES)
    hand = [a / b for a, b in zip(samples[(serial, "hand")], samples[(parallel, "hand")])]
    ours = [a / b for a, b in zip(samples[(serial, side)], samples[(parallel, side)])]
    paired = paired_ratios(hand, ours)
    worst = max(worst, abs(paired.median - 1))
    rows.append(["speedup", f"{paired.median:.4f}", f"{paired.low:.3f}-{paired.high:.3f}", f"{min(paired.ratios):.3f}-{max(paired.ratios):.3f}"])
    return rows, worst


def run_parsweep_trial(case_overrides: list[str], n: int, args: argparse.Namespace, workdir: Path, index: int, source: Path | None = None) -> float:
    """One lone ``parsweep`` trial (of ``source``, another checkout, when given); returns its logged ``wall_time_s``."""
    store = "store" if source is None else "baseline"
    uri = f"sqlite:///{workdir / (store + '.db')}"
    overrides = [
        *case_overrides,
        f"n={n}",
        f"repeats={args.trial_repeats}",
        f"warmup={args.warmup}",
        f"experiment={EXPERIMENT}",
        *store_overrides(workdir, f"trial{index}", store=store),  # one store for every trial of a side
    ]
    run_parsweep(overrides, workdir, source=source)
    runs = trial_runs(uri, EXPERIMENT)
    latest = runs[-1]
    if latest.info.status != "FINISHED" or latest.data.metrics.get("correct") != 1.0:
        raise SystemExit(f"benchmark: parsweep trial failed: {latest.data.tags.get('parsweep.error')}")
    return float(latest.data.metrics["wall_time_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=parse_n, default=10**8, help="range size (default 1e8)")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per side and case (default 5)")
    parser.add_argument("--trial-repeats", type=int, default=1, help="parsweep repeats per trial (default 1)")
    parser.add_argument("--warmup", type=int, default=0, help="parsweep warm-up repetitions per trial (default 0)")
    parser.add_argument("--one-thread", choices=["serial", "threading"], default="serial", help="parsweep's side of the one-thread script: backend=serial, or threading workers=1 as issue 23 measured (default serial)")
    parser.add_argument("--affinity", choices=["true", "false"], help="parsweep's affinity for every trial (default: parsweep's own default)")
    parser.add_argument("--baseline", type=Path, help="another checkout of parsweep measured as a third side (before/after), e.g. a git worktree of an older commit")
    args = parser.parse_args()
    names = ["hand", "parsweep", *(["baseline"] if args.baseline else [])]
    if args.one_thread == "threading":
        CASES["serial"] = ("one_thread.py", ["backend=threading", "workers=1"])
    extra = [f"affinity={args.affinity}"] if args.affinity else []

    print("parsweep fidelity benchmark: hand-written classic scripts vs parsweep trials")
    for line in machine_lines():
        print(line)
    print(
        f"n            {args.n:,}  ({args.rounds} rounds, interleaved; parsweep: repeats={args.trial_repeats} "
        f"warmup={args.warmup} per trial, figure = its wall_time_s; one thread: {' '.join(CASES['serial'][1])}; "
        f"affinity: {args.affinity or 'default'})"
    )
    print()

    began = time.perf_counter()
    loads: list[float] = []
    samples: dict[tuple[str, str], list[float]] = {(case, side): [] for case in CASES for side in names}
    with scratch_dir("parsweep-fidelity-") as workdir:
        scripts = {"one_thread.py": ONE_THREAD, "two_processes.py": TWO_PROCESSES}
        for name, source in scripts.items():
            (workdir / name).write_text(source)
        trial_index = 0
        for round_index in range(args.rounds):
            cells = []
            for case, (script, overrides) in CASES.items():
                shift = round_index % len(names)  # each side goes first as often as the others
                sides = names[shift:] + names[:shift]
                for side in sides:
                    if side == "hand":
                        value = run_hand_written(workdir / script, args.n)
                    else:
                        trial_index += 1
                        source = args.baseline.resolve() if side == "baseline" else None
                        value = run_parsweep_trial([*overrides, *extra], args.n, args, workdir, trial_index, source)
                    samples[(case, side)].append(value)
                    cells.append(f"{case} {side} {value:.3f} s")
            loads.append(os.getloadavg()[0])
            print(f"round {round_index + 1}/{args.rounds} (load {loads[-1]:.2f}): " + " | ".join(cells), flush=True)
    elapsed = time.perf_counter() - began

    rows = []
    medians = {key: median(values) for key, values in samples.items()}
    wall_ok = True
    for case in CASES:
        hand, ours = medians[(case, "hand")], medians[(case, "parsweep")]
        ratio = ours / hand
        wall_ok &= abs(ratio - 1) <= WALL_TOLERANCE
        paired = median([p / h for h, p in zip(samples[(case, "hand")], samples[(case, "parsweep")])])
        rows.append(
            [
                case,
                f"{hand:.3f} s ±{spread(samples[(case, 'hand')]):.1%}",
                f"{ours:.3f} s ±{spread(samples[(case, 'parsweep')]):.1%}",
                f"{ratio:.4f}",
                f"{paired:.4f}",
                verdict(abs(ratio - 1) <= WALL_TOLERANCE),
            ]
        )
    print()
    print(table(["case", "hand-written median", "parsweep median", "ratio", "paired ratio", "within 3%"], rows))

    serial, parallel = "serial", "multiprocessing x2"
    hand_speedup = medians[(serial, "hand")] / medians[(parallel, "hand")]
    ours_speedup = medians[(serial, "parsweep")] / medians[(parallel, "parsweep")]
    speedup_ratio = ours_speedup / hand_speedup
    print()
    print(
        table(
            ["speedup (serial / 2 processes)", "hand-written", "parsweep", "ratio", ">= 0.97"],
            [["median / median", f"{hand_speedup:.3f}x", f"{ours_speedup:.3f}x", f"{speedup_ratio:.4f}", verdict(speedup_ratio >= SPEEDUP_FLOOR)]],
        )
    )
    print()
    if args.baseline:
        rows = []
        for case in CASES:
            hand, base = medians[(case, "hand")], medians[(case, "baseline")]
            paired = median([b / h for h, b in zip(samples[(case, "hand")], samples[(case, "baseline")])])
            rows.append([case, f"{hand:.3f} s", f"{base:.3f} s ±{spread(samples[(case, 'baseline')]):.1%}", f"{base / hand:.4f}", f"{paired:.4f}"])
        base_speedup = medians[(serial, "baseline")] / medians[(parallel, "baseline")]
        print(f"baseline {args.baseline} (the same measurements, interleaved with the others)")
        print(table(["case", "hand-written median", "baseline median", "ratio", "paired ratio"], rows))
        print(f"baseline speedup {base_speedup:.3f}x, ratio to hand-written {base_speedup / hand_speedup:.4f}")
        print()
    paired_ok = True
    for side in names[1:]:
        rows, worst = paired_rows(samples, side)
        if side == "parsweep":
            paired_ok = worst <= PAIRED_TOLERANCE
        print(f"{side}, paired round by round (issue 23): its wall / the script's of the same round")
        print(table(["figure", "median ratio", "95% CI (bootstrap)", "range over rounds"], rows))
        print()
    hand_serial = samples[("serial", "hand")]
    print(f"the one-thread script's walls (a bare loop): median {median(hand_serial):.3f} s, spread ±{spread(hand_serial):.1%} (the VM's drift)")
    print(f"load average per round {min(loads):.2f}-{max(loads):.2f}")
    print("ratio = parsweep median / hand-written median; paired ratio = median over rounds of the same ratio")
    print("(± = standard deviation relative to the median)")
    all_ok = wall_ok and speedup_ratio >= SPEEDUP_FLOOR
    print(f"goals: medians within 3% {verdict(wall_ok)}; speedup ratio >= {SPEEDUP_FLOOR} {verdict(speedup_ratio >= SPEEDUP_FLOOR)}; "
          f"paired walls and speedup within 1% {verdict(paired_ok)}")
    print(f"load average at the end {machine_lines()[-1].split(None, 2)[2]}; benchmark took {elapsed:.0f} s")
    raise SystemExit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
