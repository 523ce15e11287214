"""What a user waits for besides the work: parsweep's fixed cost and its cost per trial (issue 21).

Five rows, each timed against a bare ``python -c 'import mlflow'`` in the same run, the two
alternated (A B A B) so that the machine's drift falls on both:

- ``parsweep --help``, as a user runs it again (the help kept by ``runner.app.help_cache``; the
  run keeps it before its rounds), and with an empty help cache (rendered by Hydra's compose);
- a lone trial on a new store (``parsweep backend=serial n=1000 repeats=1 warmup=0``);
- a 1-trial sweep, its report, plots and publishing included (``-m``, a new store);
- per trial: a sweep of 41 tiny trials (``backend=threading workers=1,...,41``) against a sweep
  of 1, whole process, divided by 40.

Every launch is the real console script in a fresh process, its store and Hydra output in a
temporary directory, its host lock a private file (never waiting for other people's sweeps).

    .venv/bin/python benchmarks/startup.py                 # 3 rounds, every trust feature on
    .venv/bin/python benchmarks/startup.py --rounds 5 --extra interference.retries=0
    .venv/bin/python benchmarks/startup.py --against /tmp/parsweep-before   # before and after, launch for launch
    .venv/bin/python benchmarks/startup.py --rows help help-cold --rounds 10  # only these rows
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import clean_env, load_average, machine_lines, run_parsweep, scratch_dir, store_overrides, table, turn_order

TINY = ["n=1000", "repeats=1", "warmup=0"]
MANY = 41


def import_mlflow(workdir: Path) -> float:
    """``python -c 'import mlflow'`` with this interpreter: the floor every launch that logs pays."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mlflow"], cwd=workdir, env=clean_env(workdir), check=True)
    return time.perf_counter() - began


ROWS = ["help", "help-cold", "lone", "sweep1", "sweep41"]


def launch_arguments(row: str, where: list[str]) -> list[str]:
    """The command line of one row's launch (``where``: its own new store and output folders)."""
    if row in ("help", "help-cold"):
        return ["--help"]
    if row == "lone":
        return ["backend=serial", *TINY, *where]
    if row == "sweep1":
        return ["-m", "backend=serial", *TINY, *where]
    return ["-m", "backend=threading", f"workers={','.join(str(w) for w in range(1, MANY + 1))}", *TINY, *where]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="A B pairs per row (default 3)")
    parser.add_argument("--source", type=Path, help="another checkout of parsweep to time instead (an older commit, say)")
    parser.add_argument("--against", type=Path, help="another checkout timed beside this one, launch for launch (before and after in one run)")
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every parsweep launch (e.g. interference.retries=0)")
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=ROWS, help="only these rows (per trial needs sweep1 and sweep41)")
    options = parser.parse_args()
    sides: dict[str, Path | None] = {"this": options.source}
    if options.against:  # both launched the same way: python -m runner, the checkout first on PYTHONPATH
        sides = {"this": options.source or Path(__file__).resolve().parent.parent, "against": options.against}
    print("\n".join(machine_lines()))
    print(f"rounds       {options.rounds} (each: import mlflow, then the row{', each checkout in turn' if options.against else ''}; alternated)")
    print(f"overrides    {' '.join(options.extra) or '(none: parsweep defaults, every trust feature on)'}")
    print(f"parsweep     {options.source or 'this checkout'}" + (f", against {options.against}" if options.against else "") + "\n", flush=True)

    names = [row for row in ROWS if row in options.rows]
    rows: dict[str, dict[str, list[float]]] = {side: {row: [] for row in names} for side in sides}
    floors: list[float] = []
    with scratch_dir("parsweep-startup-") as workdir:
        import_mlflow(workdir)  # warm the file cache once, for both sides
        if "help" in names:  # the help row times a repeated --help: keep its text first (each side)
            for side in sides:
                run_parsweep(["--help"], workdir, source=sides[side])
        for round_ in range(options.rounds):
            order = turn_order(list(sides), round_)  # who goes first alternates too
            for row in names:
                floors.append(import_mlflow(workdir))
                for side in order:
                    where = store_overrides(workdir, f"{side}-{row}-{round_}")  # a new store every launch
                    # help-cold: a help cache of its own, new and empty (platformdirs reads XDG_CACHE_HOME)
                    env = {"XDG_CACHE_HOME": str(workdir / f"cache-{side}-{round_}")} if row == "help-cold" else None
                    rows[side][row].append(run_parsweep([*launch_arguments(row, where), *options.extra], workdir, source=sides[side], env=env))
            for side in sides:
                print(f"round {round_ + 1} {side}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in rows[side].items()), flush=True)

    floor = statistics.median(floors)

    def figure(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"

    def per_trial(side: str) -> list[float]:
        return [(many - one) / (MANY - 1) for many, one in zip(rows[side]["sweep41"], rows[side]["sweep1"])]

    labels = {"help": "parsweep --help", "help-cold": "parsweep --help, empty help cache", "lone": "a lone trial, new store",
              "sweep1": "a 1-trial sweep with report"}
    header = ["what", "median (min-max)", "against import mlflow"]
    if options.against:
        header += ["other checkout", "this / other, paired"]
    lines = []
    for row, label in labels.items():
        if row not in names:
            continue
        this = rows["this"][row]
        line = [label, figure(this), f"{statistics.median(this) - floor:+.2f} s"]
        if options.against:
            other = rows["against"][row]
            ratios = [a / b for a, b in zip(this, other)]
            line += [figure(other), f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"]
        lines.append(line)
    if {"sweep1", "sweep41"} <= set(names):
        mine = per_trial("this")
        line = [f"per trial ({MANY} trials vs 1)", f"{statistics.median(mine) * 1000:.0f} ms ({min(mine) * 1000:.0f}-{max(mine) * 1000:.0f})", ""]
        if options.against:
            theirs = per_trial("against")
            line += [f"{statistics.median(theirs) * 1000:.0f} ms ({min(theirs) * 1000:.0f}-{max(theirs) * 1000:.0f})", ""]
        lines.append(line)
    lines.append(["python -c 'import mlflow'", figure(floors), "", *([""] * 2 if options.against else [])])
    print()
    print(table(header, lines))
    print("\ngoals (issue 21): --help <= 0.3 s; lone trial <= import + 0.8 s; 1-trial sweep <= import + 1.5 s; per trial <= 40 ms")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
