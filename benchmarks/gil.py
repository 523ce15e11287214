"""GIL: the classic loop on threads, on the GIL build against a free-threaded build (PEP 703).

One parsweep sweep, interleaved (the trials take turns repetition by repetition, so machine
noise and drift hit all of them alike)::

    parsweep -m python=<GIL twin>,<free-threaded> backend=serial,threading workers=2 n=1e8 schedule=interleaved

and, read back from ``parsweep-report --format json`` (the figures parsweep itself reports), per
interpreter: the serial median, the threading x2 median, the speedup with its 95% CI and the
CPU use of the two threads; then the free-threaded build's single-thread cost (its serial median
against the GIL build's, with the CI of that ratio), and the report's verdict.

Expected on 2 cores (issue 12): about 1.0x on the GIL build (one thread runs Python at a
time), at least 1.8x on the free-threaded build. The GIL side is the free-threaded build's GIL
twin when there is one (same version, source and flags but --disable-gil: `make interpreters`
builds /opt/python3.13 beside /opt/python3.13t), so the single-thread cost is free-threading's
alone; else (or with ``--gil current``) the interpreter running this script, and then the cost
includes what changed between the two versions and builds.

    .venv/bin/python benchmarks/gil.py                 # n = 1e8, 8 repetitions per trial (~3-4 min on 2 cores)
    .venv/bin/python benchmarks/gil.py --n 1e7         # a quick check
    .venv/bin/python benchmarks/gil.py --free-threaded /opt/python3.14t/bin/python3.14t
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    clean_env,
    machine_lines,
    parse_n,
    parsweep_command,
    run_parsweep,
    scratch_dir,
    store_overrides,
    table,
    verdict,
)

EXPERIMENT = "gil"
GIL_BAND = (0.9, 1.1)  # "about 1.0x" on the GIL build
FREE_THREADED_FLOOR = 1.8  # at least this on the free-threaded build, 2 threads on 2 cores
FREE_THREADED_DEFAULTS = ("/opt/python3.13t/bin/python3.13t", "python3.13t")  # `make interpreters` builds the first


def find_free_threaded(given: str | None) -> str:
    """The free-threaded interpreter to compare with: ``--free-threaded``, else /opt/python3.13t, else on PATH."""
    for candidate in ([given] if given else FREE_THREADED_DEFAULTS):
        path = candidate if os.sep in candidate else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    raise SystemExit("gil benchmark: no free-threaded CPython (/opt/python3.13t or python3.13t on PATH): "
                     "run `make interpreters` (as root), or pass --free-threaded PATH")


def report_json(uri: str, workdir: Path) -> dict[str, Any]:
    """The sweep's report as ``parsweep-report --format json`` gives it."""
    report = Path(parsweep_command()[0]).with_name("parsweep-report")
    command = [str(report)] if report.exists() else [sys.executable, "-m", "analysis"]
    done = subprocess.run([*command, "--tracking-uri", uri, "--experiment", EXPERIMENT, "--format", "json"],
                          cwd=workdir, env=clean_env(workdir), capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"gil benchmark: parsweep-report exited with {done.returncode}")
    return json.loads(done.stdout)


def interval(low: Any, high: Any) -> str:
    return "no CI" if low is None or high is None else f"{low:.2f}-{high:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=parse_n, default=10**8, help="range size (default 1e8)")
    parser.add_argument("--repeats", type=int, default=8, help="recorded repetitions per trial (default 8; the CI needs 6)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up repetitions per trial (default 1)")
    parser.add_argument("--free-threaded", help="the free-threaded interpreter (default /opt/python3.13t, else python3.13t on PATH)")
    parser.add_argument("--gil", help="the GIL interpreter (default: the free-threaded build's GIL twin, else current)")
    args = parser.parse_args()
    free = find_free_threaded(args.free_threaded)
    from runner.execute.interpreters import gil_twin

    gil = args.gil or gil_twin(free) or "current"

    print("parsweep GIL benchmark: threads on the GIL build against a free-threaded build, one interleaved sweep")
    for line in machine_lines():
        print(line)
    sweep = ["-m", f"python={gil},{free}", "backend=serial,threading", "workers=2", f"n={args.n}",
             f"repeats={args.repeats}", f"warmup={args.warmup}", "schedule=interleaved", f"experiment={EXPERIMENT}", "quiet=true"]
    print(f"sweep        parsweep {' '.join(sweep)}")
    print(flush=True)

    began = time.perf_counter()
    with scratch_dir("parsweep-gil-") as workdir:
        overrides = store_overrides(workdir, "gil")
        run_parsweep([*sweep, *overrides], workdir)
        report = report_json(overrides[0].split("=", 1)[1], workdir)
    elapsed = time.perf_counter() - began

    rows = [r for r in report["rows"] if r["n"] == args.n]
    pythons = sorted({r["python"] for r in rows}, key=lambda p: p.endswith("t") or "t+" in p)  # the GIL build first
    lines, goals = [], []
    for python in pythons:
        serial = next(r for r in rows if r["python"] == python and r["backend"] == "serial")
        threads = next(r for r in rows if r["python"] == python and r["backend"] == "threading")
        free_threaded = threads["python_free_threaded"] == "true"
        if free_threaded:
            goal, met = f">= {FREE_THREADED_FLOOR}x", threads["speedup"] >= FREE_THREADED_FLOOR
        else:
            goal, met = f"{GIL_BAND[0]}-{GIL_BAND[1]}x", GIL_BAND[0] <= threads["speedup"] <= GIL_BAND[1]
        goals.append(met)
        lines.append([
            f"{python} ({'free-threaded' if free_threaded else 'GIL'})",
            f"{serial['wall_time_s']:.3f} s",
            f"{threads['wall_time_s']:.3f} s",
            f"{threads['speedup']:.2f}x",
            interval(threads["speedup_ci_low"], threads["speedup_ci_high"]),
            f"{threads['cpu_utilization']:.2f}",
            f"{serial['trust']} / {threads['trust']}",
            f"{goal} {verdict(met)}",
        ])
    print(table(["interpreter", "serial median", "threading x2 median", "speedup", "95% CI", "cores used", "trust",
                 "goal"], lines))

    costs = [c for c in report["interpreters"] if c["n"] == args.n]
    if costs:
        print()
        print(table(
            ["single-thread cost", "serial median", "reference serial", "ratio", "95% CI", "conclusion"],
            [[f"{c['python']} against {c['reference']}", f"{c['wall_time_s']:.3f} s", f"{c['reference_wall_time_s']:.3f} s",
              f"{c['ratio']:.2f}x", interval(c["ratio_ci_low"], c["ratio_ci_high"]), c["conclusion"] or "no CI"] for c in costs],
        ))
        print("ratio = serial median on that interpreter / on the reference (above 1: slower on one thread)")
    print()
    print("verdict (parsweep-report):")
    for line in report["verdict"]:
        print(f"  {line}")
    print()
    print("speedup = serial median / threading x2 median on the same interpreter (95% bootstrap CI of the ratio of medians)")
    print(f"goals: GIL build about 1.0x, free-threaded build >= {FREE_THREADED_FLOOR}x: {verdict(all(goals))}")
    print(f"load average at the end {machine_lines()[-1].split(None, 2)[2]}; benchmark took {elapsed:.0f} s")
    raise SystemExit(0 if all(goals) else 1)


if __name__ == "__main__":
    main()
