"""Where parsweep's per-trial time goes: one sweep of tiny trials with timers around its parts.

`overhead.py` gives the figure (what parsweep adds per trial); this says what it is made of.
One sweep of `overhead.py`'s big shape (serial, threading, multiprocessing, thread_pool,
process_pool at 1..7 workers, n=1000, one repetition: 29 trials) runs in a child process whose
functions are wrapped with timers before parsweep starts: parsweep's own (composition, planning,
the scheduler, the trial processes, the tracking callback and each MLflow call it makes) and
Hydra's public ``run_job``. Hydra's own work inside ``run_job`` is what is left of it once the
tracking callback is taken out (with the task, which only hands the measured result over). Timers cost a little: the parts add up to a bit
more than a plain sweep spends.

    .venv/bin/python benchmarks/overhead_breakdown.py

``--many`` times issue 21's shape instead: a sweep of 41 tiny threading trials (``workers=1,...,41``)
and a sweep of 1, every trust feature on (``--extra`` adds overrides), each part's time per trial being
(its time in the 41-trial sweep - its time in the 1-trial sweep) / 40, the whole process included
(``startup.py``'s per-trial row, taken apart). With ``--against DIR`` another checkout (``git archive``
of an older commit) is timed the same way, the two alternated round by round::

    .venv/bin/python benchmarks/overhead_breakdown.py --many --rounds 3 --against /tmp/before --extra interference.retries=0
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import clean_env, load_average, machine_lines, scratch_dir, turn_order

BACKENDS = "serial,threading,multiprocessing,thread_pool,process_pool"

CHILD = r'''
import atexit, collections, functools, json, os, sys, time

if os.environ.get("BREAKDOWN_SOURCE"):  # another checkout's runner and plugins first
    sys.path.insert(0, os.environ["BREAKDOWN_SOURCE"])
began = time.perf_counter()

spent = collections.defaultdict(float)
calls = collections.Counter()


def timed(owner, name, label):
    function = getattr(owner, name)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - began
            calls[label] += 1

    setattr(owner, name, wrapper)


import runner.app.callbacks as callbacks
import runner.app.compose as compose
import runner.app.launcher as launcher
import runner.app.main as app_main
import runner.app.plan as plan
import runner.execute.processes as processes
import runner.execute.schedule as schedule
import runner.tracking.recorder as recorder
import runner.tracking.store as store

timed(launcher, "run_job", "Hydra run_job (all of it)")
timed(callbacks.TrackingCallback, "on_job_end", "  tracking callback (all of it)")
timed(recorder.Recorder, "record", "    recorder: journal and MLflow")
for name in ("start_run", "log_trial", "log_texts", "finish"):
    timed(store.Tracker, name, f"      MLflow {name}")
timed(compose.JobComposer, "compose", "composing the job (first of a shape: Hydra loads it)")
timed(plan, "_planned", "planning the trial (spec, policy, interpreter)")
timed(schedule.Scheduler, "_start", "scheduler: trial processes and backends start")
timed(schedule.Scheduler, "_round", "scheduler: rounds (the repetitions themselves)")
timed(schedule.Scheduler, "_finish", "scheduler: backends close, processes end")
timed(processes.ForkServer, "fork", "  fork server: a trial process")

if os.environ.get("BREAKDOWN_JSON"):  # --many: a few more parts, and every figure as JSON
    import hydra.core.hydra_config as hydra_config
    import hydra.core.utils as hydra_utils

    import runner.app.report_callback as report_callback

    timed(callbacks.TrackingCallback, "on_multirun_start", "sweep start: plan, store, the sweep's run")
    timed(hydra_config.HydraConfig, "set_config", "  Hydra: HydraConfig.set_config")
    timed(hydra_utils, "_save_config", "  Hydra: .hydra files written")
    timed(report_callback.ReportCallback, "on_multirun_end", "the report (built, attached, figures on the runs)")

    def dump():
        with open(os.environ["BREAKDOWN_JSON"], "w") as out:
            json.dump({"total": time.perf_counter() - began, "spent": spent, "calls": calls}, out)

    atexit.register(dump)


TRIALS = int(sys.argv[1])


def report():
    trials = TRIALS
    hydra_own = spent["Hydra run_job (all of it)"] - spent["  tracking callback (all of it)"]
    rows = list(spent.items()) + [("  Hydra's own work in run_job (and the task's: the rest)", hydra_own)]
    order = [
        "composing the job (first of a shape: Hydra loads it)", "planning the trial (spec, policy, interpreter)",
        "scheduler: trial processes and backends start", "  fork server: a trial process",
        "scheduler: rounds (the repetitions themselves)", "scheduler: backends close, processes end",
        "Hydra run_job (all of it)", "  Hydra's own work in run_job (and the task's: the rest)",
        "  tracking callback (all of it)", "    recorder: journal and MLflow",
        "      MLflow start_run", "      MLflow log_trial", "      MLflow log_texts", "      MLflow finish",
    ]
    values = dict(rows)
    print(f"{'part':58s} {'calls':>5s} {'ms per trial':>13s}")
    for label in order:
        if label in values:
            print(f"{label:58s} {calls.get(label, 0) or '':>5} {values[label] * 1e3 / trials:13.2f}")


if not os.environ.get("BREAKDOWN_JSON"):
    atexit.register(report)
sys.argv = ["parsweep", *sys.argv[2:]]
app_main.main()
'''


MANY = 41
MANY_ORDER = [
    "total (the whole process)", "sweep start: plan, store, the sweep's run", "composing the job (first of a shape: Hydra loads it)",
    "planning the trial (spec, policy, interpreter)", "scheduler: trial processes and backends start", "  fork server: a trial process",
    "scheduler: rounds (the repetitions themselves)", "scheduler: backends close, processes end", "Hydra run_job (all of it)",
    "  Hydra: HydraConfig.set_config", "  Hydra: .hydra files written", "  tracking callback (all of it)",
    "    recorder: journal and MLflow", "      MLflow start_run", "      MLflow log_trial", "      MLflow log_texts", "      MLflow finish",
    "the report (built, attached, figures on the runs)",
]


def many_launch(workdir: Path, label: str, trials: int, extra: list[str], source: Path | None) -> dict[str, float]:
    """One sweep of ``trials`` threading trials under the timers: seconds per part, and the total."""
    out = workdir / f"{label}.json"
    arguments = [
        "-m", "backend=threading", f"workers={','.join(str(w) for w in range(1, trials + 1))}", "n=1000", "repeats=1", "warmup=0",
        "quiet=true", f"tracking.uri=sqlite:///{workdir / label}.db", f"hydra.sweep.dir={workdir / label}", *extra,
    ]
    env = {**clean_env(workdir), "BREAKDOWN_JSON": str(out)}
    if source is not None:
        env["BREAKDOWN_SOURCE"] = str(source)
    done = subprocess.run([sys.executable, "-c", CHILD, str(trials), *arguments], cwd=workdir, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"{label}: parsweep failed\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    figures = json.loads(out.read_text())
    return {"total (the whole process)": figures["total"], **figures["spent"]}


def many(rounds: int, extra: list[str], against: Path | None) -> int:
    """Issue 21's per-trial row taken apart (see the module docstring)."""
    print(f"parsweep overhead breakdown: {MANY} tiny threading trials against 1, per part, (41 - 1) / {MANY - 1}")
    print("\n".join(machine_lines()))
    print(f"overrides    {' '.join(extra) or '(none: every trust feature on)'}")
    sides: dict[str, Path | None] = {"this": None}
    if against is not None:
        sides["against"] = against.resolve()
        print(f"against      {against} (alternated with this checkout, round by round)")
    per: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    with scratch_dir("parsweep-breakdown-") as workdir:
        for round_ in range(rounds):
            for side in turn_order(list(sides), round_):
                big = many_launch(workdir, f"{side}-{round_}-many", MANY, extra, sides[side])
                small = many_launch(workdir, f"{side}-{round_}-one", 1, extra, sides[side])
                per[side].append({part: (big.get(part, 0.0) - small.get(part, 0.0)) / (MANY - 1) for part in big})
            print(f"round {round_ + 1}: " + ", ".join(f"{side} {per[side][-1]['total (the whole process)'] * 1e3:.0f} ms a trial" for side in sides)
                  + f"; load {load_average()}", flush=True)
    header = f"{'part (ms per trial: median of ' + str(rounds) + ' rounds)':58s} {'this':>7s}"
    if against is not None:
        header += f" {'against':>8s}"
    print("\n" + header)
    for part in MANY_ORDER:
        line = f"{part:58s} {statistics.median(r.get(part, 0.0) for r in per['this']) * 1e3:7.1f}"
        if against is not None:
            line += f" {statistics.median(r.get(part, 0.0) for r in per['against']) * 1e3:8.1f}"
        print(line)
    if against is not None:
        ratios = [a["total (the whole process)"] / b["total (the whole process)"] for a, b in zip(per["this"], per["against"])]
        print(f"\nthis / against, whole process per trial, paired by round: {' '.join(f'{r:.2f}' for r in ratios)} "
              f"(median {statistics.median(ratios):.2f})")
    print(f"load average at the end {load_average()}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--many", action="store_true", help=f"issue 21's shape: {MANY} threading trials against 1, per trial")
    parser.add_argument("--rounds", type=int, default=3, help="--many: rounds (each: 41 trials and 1, each checkout), default 3")
    parser.add_argument("--against", type=Path, help="--many: another checkout timed alongside (e.g. a git archive of an older commit)")
    parser.add_argument("--extra", nargs="*", default=[], help="--many: overrides added to every sweep (e.g. interference.retries=0)")
    options = parser.parse_args()
    if options.many:
        return many(options.rounds, options.extra, options.against)
    print("parsweep overhead breakdown: timers around the parts of one sweep of 29 tiny trials")
    print("\n".join(machine_lines()))
    with scratch_dir("parsweep-breakdown-") as workdir:
        arguments = [
            "-m", f"backend={BACKENDS}", "workers=1,2,3,4,5,6,7", "n=1000", "repeats=1", "warmup=0",
            "interference.retries=0", "quiet=true", f"tracking.uri=sqlite:///{workdir / 'store.db'}",
            f"hydra.sweep.dir={workdir / 'multirun'}",
        ]
        done = subprocess.run([sys.executable, "-c", CHILD, "29", *arguments], cwd=workdir, env=clean_env(workdir),
                              capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        return 1
    table = done.stdout[done.stdout.index("part "):]
    print()
    print(table.rstrip())
    print(f"\nload average at the end {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
