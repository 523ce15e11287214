"""What a user waits for besides the work: parsweep's fixed cost and its cost per trial (issue 21).

Four rows, each timed against a bare ``python -c 'import mlflow'`` in the same run, the two
alternated (A B A B) so that the machine's drift falls on both:

- ``parsweep --help``;
- a lone trial on a new store (``parsweep backend=serial n=1000 repeats=1 warmup=0``);
- a 1-trial sweep, its report, plots and publishing included (``-m``, a new store);
- per trial: a sweep of 41 tiny trials (``backend=threading workers=1,...,41``) against a sweep
  of 1, whole process, divided by 40.

Every launch is the real console script in a fresh process, its store and Hydra output in a
temporary directory, its host lock a private file (never waiting for other people's sweeps).

    .venv/bin/python benchmarks/startup.py                 # 3 rounds, every trust feature on
    .venv/bin/python benchmarks/startup.py --rounds 5 --extra interference.retries=0
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import clean_env, load_average, machine_lines, run_parsweep, scratch_dir, store_overrides, table

TINY = ["n=1000", "repeats=1", "warmup=0"]
MANY = 41


def import_mlflow(workdir: Path) -> float:
    """``python -c 'import mlflow'`` with this interpreter: the floor every launch that logs pays."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mlflow"], cwd=workdir, env=clean_env(workdir), check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="A B pairs per row (default 3)")
    parser.add_argument("--source", type=Path, help="another checkout of parsweep to time instead (an older commit, say)")
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every parsweep launch (e.g. interference.retries=0)")
    options = parser.parse_args()
    print("\n".join(machine_lines()))
    print(f"rounds       {options.rounds} (each: import mlflow, then the row; alternated)")
    print(f"overrides    {' '.join(options.extra) or '(none: parsweep defaults, every trust feature on)'}")
    print(f"parsweep     {options.source or 'this checkout'}\n", flush=True)

    rows: dict[str, list[float]] = {"help": [], "lone": [], "sweep1": [], "sweep41": []}
    floors: list[float] = []
    with scratch_dir("parsweep-startup-") as workdir:
        import_mlflow(workdir)  # warm the file cache once, for both sides
        for round_ in range(options.rounds):
            for row in rows:
                floors.append(import_mlflow(workdir))
                label = f"{row}-{round_}"
                where = store_overrides(workdir, label)  # a new store every launch
                if row == "help":
                    arguments = ["--help"]
                elif row == "lone":
                    arguments = ["backend=serial", *TINY, *where]
                elif row == "sweep1":
                    arguments = ["-m", "backend=serial", *TINY, *where]
                else:
                    arguments = ["-m", "backend=threading", f"workers={','.join(str(w) for w in range(1, MANY + 1))}", *TINY, *where]
                rows[row].append(run_parsweep([*arguments, *options.extra], workdir, source=options.source))
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in rows.items()), flush=True)

    floor = statistics.median(floors)
    per_trial = [(many - one) / (MANY - 1) for many, one in zip(rows["sweep41"], rows["sweep1"])]

    def figure(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"

    print()
    print(table(
        ["what", "median (min-max)", "against import mlflow"],
        [
            ["parsweep --help", figure(rows["help"]), f"{statistics.median(rows['help']) - floor:+.2f} s"],
            ["a lone trial, new store", figure(rows["lone"]), f"{statistics.median(rows['lone']) - floor:+.2f} s"],
            ["a 1-trial sweep with report", figure(rows["sweep1"]), f"{statistics.median(rows['sweep1']) - floor:+.2f} s"],
            [f"per trial ({MANY} trials vs 1)", f"{statistics.median(per_trial) * 1000:.0f} ms ({min(per_trial) * 1000:.0f}-{max(per_trial) * 1000:.0f})", ""],
            ["python -c 'import mlflow'", figure(floors), ""],
        ],
    ))
    print("\ngoals (issue 21): --help <= 0.3 s; lone trial <= import + 0.8 s; 1-trial sweep <= import + 1.5 s; per trial <= 40 ms")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
