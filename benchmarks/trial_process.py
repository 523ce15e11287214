"""Where does a trial's process cost the classic loop time? (issue 23)

The same loop (the seed's ``total += i`` over ``range(0, n)``), timed with
``time.perf_counter`` around the loop only, in processes that differ in one thing each:

* ``script``: a fresh ``python -c`` process, main thread, unpinned: the hand-written script;
* ``script pinned``: the same, pinned first to the CPU parsweep pins serial and 1-worker trials
  to (the last usable one, ``affinity=true``);
* ``script thread``: the same, the loop in a new ``threading.Thread`` (``backend=threading workers=1``);
* ``forked``: a fresh process that imports parsweep's trial code (what a fork server preloads),
  then forks a child that runs the loop (parsweep's ``sum_range_chunk``): the heap and the
  place of a trial process, without the launcher;
* ``parsweep`` (``affinity=true``) and ``parsweep unpinned`` (``affinity=false``): a real lone
  ``parsweep backend=threading workers=1 repeats=1 warmup=0`` launch, its ``wall_time_s`` read
  back from the store: the launcher and the fork server alive, the worker thread started inside
  the timed region.

Every round runs each variant once, in an order rotated round by round; each variant's wall is
divided by the ``script`` wall of the same round (the ratios are what cancel this VM's drift),
and the median of those ratios is reported with a bootstrap 95% interval. The load average is
printed with each round, and the ``script`` walls' own spread (the bare loop's drift) with the
figures.

    .venv/bin/python benchmarks/trial_process.py              # n = 3e7, 7 rounds (~2-3 min on 2 cores)
    .venv/bin/python benchmarks/trial_process.py --n 1e8 --rounds 9
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
    REPO,
    load_average,
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
)
from fidelity import ONE_THREAD

# The fidelity benchmark's one-thread script, up to its main block: the very same loop.
LOOP = "import os\n" + ONE_THREAD.split("if __name__")[0] + "n = int(sys.argv[1])\n"

VARIANTS = {
    "script": LOOP + "t0 = time.perf_counter(); partial_sum(0, n); print(time.perf_counter() - t0)\n",
    "script pinned": LOOP
    + "os.sched_setaffinity(0, [max(os.sched_getaffinity(0))])\n"
    + "t0 = time.perf_counter(); partial_sum(0, n); print(time.perf_counter() - t0)\n",
    "script thread": LOOP
    + textwrap.dedent(
        """\
        import threading
        walls = []
        def work():
            t0 = time.perf_counter(); partial_sum(0, n); walls.append(time.perf_counter() - t0)
        thread = threading.Thread(target=work); thread.start(); thread.join(); print(walls[0])
        """
    ),
    "forked": LOOP
    + textwrap.dedent(
        """\
        import importlib
        from runner.trial.forkserver import preload
        for name in preload():
            importlib.import_module(name)
        from runner.trial.workloads.sum_range import sum_range_chunk
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            t0 = time.perf_counter(); sum_range_chunk(0, n); os.write(w, str(time.perf_counter() - t0).encode()); os._exit(0)
        os.waitpid(pid, 0); print(os.read(r, 100).decode())
        """
    ),
}
PARSWEEP = {"parsweep": "true", "parsweep unpinned": "false"}
EXPERIMENT = "trial_process"


def run_variant(name: str, n: int, workdir: Path, index: int) -> float:
    if name in PARSWEEP:
        overrides = ["backend=threading", "workers=1", f"n={n}", "repeats=1", "warmup=0", f"affinity={PARSWEEP[name]}",
                     f"experiment={EXPERIMENT}", *store_overrides(workdir, f"t{index}", store="store")]
        run_parsweep(overrides, workdir)
        latest = trial_runs(f"sqlite:///{workdir / 'store.db'}", EXPERIMENT)[-1]
        return float(latest.data.metrics["wall_time_s"])
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", VARIANTS[name], str(n)], capture_output=True, text=True, cwd=workdir, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"benchmark: variant {name!r} failed")
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=parse_n, default=3 * 10**7, help="range size (default 3e7)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds, each variant once per round (default 7)")
    parser.add_argument("--only", nargs="*", help="variants to run besides script (default: all)")
    args = parser.parse_args()
    names = ["script", *[v for v in [*VARIANTS, *PARSWEEP] if v != "script" and (not args.only or v in args.only)]]

    print("trial_process: the classic loop in a trial's process against a bare one (issue 23)")
    for line in machine_lines():
        print(line)
    print(f"n            {args.n:,}  ({args.rounds} rounds, each variant once per round, order rotated)")
    print()
    walls: dict[str, list[float]] = {name: [] for name in names}
    loads = []
    began = time.perf_counter()
    with scratch_dir("parsweep-trial-process-") as workdir:
        index = 0
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                index += 1
                walls[name].append(run_variant(name, args.n, workdir, index))
            loads.append(os.getloadavg()[0])
            cells = " | ".join(f"{name} {walls[name][-1]:.3f}" for name in names)
            print(f"round {round_index + 1}/{args.rounds} (load {loads[-1]:.2f}): {cells}", flush=True)
    elapsed = time.perf_counter() - began
    rows = []
    for name in names[1:]:
        ratio = paired_ratios(walls["script"], walls[name])
        rows.append([name, f"{median(walls[name]):.3f} s", f"{ratio.median:.4f}", f"{ratio.low:.3f}-{ratio.high:.3f}",
                     f"{min(ratio.ratios):.3f}-{max(ratio.ratios):.3f}"])
    print()
    print(table(["variant", "median wall", "paired ratio to script", "95% CI (bootstrap)", "range"], rows))
    print()
    print(f"script (bare loop): median {median(walls['script']):.3f} s, spread ±{spread(walls['script']):.1%} (the VM's drift)")
    print(f"load average per round {min(loads):.2f}-{max(loads):.2f}; at the end {load_average()}; took {elapsed:.0f} s")


if __name__ == "__main__":
    main()
