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
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import clean_env, load_average, machine_lines, scratch_dir

BACKENDS = "serial,threading,multiprocessing,thread_pool,process_pool"

CHILD = r'''
import atexit, collections, functools, sys, time

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


atexit.register(report)
sys.argv = ["parsweep", *sys.argv[2:]]
app_main.main()
'''


def main() -> int:
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
