"""Overhead: what parsweep adds per trial (orchestration plus tracking), on a sqlite store.

Two launches of the real ``parsweep -m`` command, each with a fresh sqlite store in a temp
dir, measured from the outside:

* a sweep of 40+ tiny trials (n ~ 1e3, repeats=1, warmup=0; every local backend at 1 and
  2 workers over a few range sizes), and
* a sweep of one tiny trial (serial, n=1e3): the same fixed costs (interpreter, imports,
  the new store's schema, the parent run, the end-of-sweep table) and one trial.

    A. per-trial overhead = (sweep wall - one-trial wall) / (trials - 1)

and the same with the trials' own measured work (the sum of their recorded repetitions,
read back from the store) taken out first. The pair is launched ``--pairs`` times, order
alternating, and the medians are used. Goal (issue 2): at most 50 ms per trial.

A charges the trials with more than trials cost: what grows with the sweep's shape (Hydra
composes once per distinct backend/workload choice; the end-of-sweep plots draw a panel per
n and per backend) does not cancel against a one-trial run. So the goal is judged from
inside the sweep, on what parsweep adds around each trial's process (the process itself,
the backend's start, the repetitions and the backend's close, is the experiment):

    B. per trial = (last trial run's start - first's) / (trials - 1) - mean trial process
                   + each job's config (composed, with the others, before the first trial)

and printed with the repetitions alone taken out too.

Then a breakdown of where a trial's time goes: from the store (run start/end times and the
``trial_duration_s`` metric) and from one more, instrumented sweep that times parsweep's and
Hydra's steps from inside (composition, the isolated trial process, MLflow calls, the rest).

    .venv/bin/python benchmarks/overhead.py                 # 45 trials, 3 pairs (~1-2 min)
    .venv/bin/python benchmarks/overhead.py --trials 90 --pairs 1
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    clean_env,
    machine_lines,
    median,
    parsweep_command,
    run_parsweep,
    scratch_dir,
    store_overrides,
    table,
    trial_runs,
    verdict,
)

GOAL_S = 0.050
BACKENDS = "serial,threading,multiprocessing,thread_pool,process_pool"
TRIALS_PER_N = 1 + 4 * 2  # serial once, four parallel backends at workers 1 and 2
TINY = ["repeats=1", "warmup=0"]

# Runs `parsweep` in this process with timers around its steps; writes them as JSON. MLflow is
# timed at MlflowClient (whatever parsweep's own tracking code looks like), and every timer is
# filed under the step it ran in (a callback hook, plan_sweep, the launcher...).
INSTRUMENTED = textwrap.dedent(
    """\
    import functools, json, sys, time
    began = time.perf_counter()
    out_path, sys.argv = sys.argv[1], ["parsweep", *sys.argv[2:]]
    import hydra._internal.config_loader_impl as loader_impl
    import mlflow.tracking
    import runner.app.main, runner.app.callbacks, runner.app.plan, analysis.publish
    import hydra_plugins.parsweep_sweeper as parsweep_sweeper
    imported = time.perf_counter() - began
    timings, stack, trial_work = {}, [], []

    def record(label, seconds):
        entry = timings.setdefault(label, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds

    def wrap(owner, name, label, nested_label=None):
        original = getattr(owner, name)
        @functools.wraps(original)
        def timed(*args, **kwargs):
            if nested_label and any(s.startswith(nested_label) for s in stack):
                return original(*args, **kwargs)  # already timed by an outer call of its kind
            full = label if not nested_label else f"{label} in {next((s for s in reversed(stack) if s.startswith(('on_', 'publish_sweep'))), 'other')}"
            stack.append(full)
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                stack.pop()
                record(full, time.perf_counter() - t0)
        setattr(owner, name, timed)

    def timed_compose(owner, name, label):
        original = getattr(owner, name)
        def compose(self, *args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                outer = next((s for s in reversed(stack) if s in ("plan_sweep", "validate_batch_is_legal")), "launcher")
                record(f"{label} in {outer}", time.perf_counter() - t0)
        setattr(owner, name, compose)
    timed_compose(loader_impl.ConfigLoaderImpl, "load_sweep_config", "hydra compose")
    timed_compose(runner.app.plan.JobComposer, "compose", "job config")

    original_isolated = runner.app.main.run_isolated
    def isolated(spec, *args, **kwargs):
        t0 = time.perf_counter()
        result = None
        try:
            result = original_isolated(spec, *args, **kwargs)
            return result
        finally:
            record("run_isolated", time.perf_counter() - t0)
            if result is not None:
                trial_work.append([result.duration_s, sum(result.wall_times_s)])
    runner.app.main.run_isolated = isolated

    wrap(runner.app.callbacks, "plan_sweep", "plan_sweep")
    wrap(parsweep_sweeper.ParsweepSweeper, "validate_batch_is_legal", "validate_batch_is_legal")
    wrap(parsweep_sweeper, "run_trial_job", "run_job")
    for hook in ("on_multirun_start", "on_job_start", "on_job_end", "on_multirun_end"):
        wrap(runner.app.callbacks.TrackingCallback, hook, hook)
    client = mlflow.tracking.MlflowClient
    for name in [n for n, v in vars(client).items() if callable(v) and not n.startswith("_")] + ["__init__"]:
        wrap(client, name, "mlflow", nested_label="mlflow")
    wrap(analysis.publish, "publish_sweep", "publish_sweep")
    code = 0
    try:
        runner.app.main.main()
    except SystemExit as exc:
        code = exc.code or 0
    finally:
        total = time.perf_counter() - began
        with open(out_path, "w") as f:
            json.dump({"total": total, "imports": imported, "timings": timings, "trials": trial_work}, f)
    sys.exit(code)
    """
)


def sweep_arguments(trials: int, n: int) -> tuple[list[str], int]:
    """Overrides for a sweep of at least ``trials`` tiny trials, and how many it runs."""
    sizes = max(1, math.ceil(trials / TRIALS_PER_N))
    ns = ",".join(str(n + i) for i in range(sizes))
    return ["-m", f"backend={BACKENDS}", "workers=1,2", f"n={ns}", *TINY], sizes * TRIALS_PER_N


def one_trial_arguments(n: int) -> list[str]:
    return ["-m", "backend=serial", f"n={n}", *TINY]


def launch(arguments: list[str], workdir: Path, label: str, expected: int) -> dict:
    """One ``parsweep`` launch with a fresh store; its wall time and what its runs say."""
    db = workdir / f"{label}.db"
    db.unlink(missing_ok=True)
    started_epoch = time.time()
    wall = run_parsweep([*arguments, *store_overrides(workdir, label)], workdir)
    runs = trial_runs(f"sqlite:///{db}")
    if len(runs) != expected or any(r.info.status != "FINISHED" for r in runs):
        raise SystemExit(f"benchmark: {label}: expected {expected} finished trial runs, found {len(runs)}")
    work = [sum_repetitions(r) for r in runs]
    period = (runs[-1].info.start_time - runs[0].info.start_time) / 1000 / max(1, len(runs) - 1)
    process = [r.data.metrics["trial_duration_s"] for r in runs]
    return {
        "steady": period - sum(work[:-1]) / max(1, len(runs) - 1),
        "steady_outside": period - sum(process[:-1]) / max(1, len(runs) - 1),
        "wall": wall,
        "trials": len(runs),
        "work": sum(work),
        "trial_process": sum(r.data.metrics["trial_duration_s"] for r in runs),
        "runs": runs,
        "started_epoch": started_epoch,
        "ended_epoch": started_epoch + wall,
    }


def sum_repetitions(run) -> float:
    """A trial's own measured work: its recorded repetitions (median x repeats; repeats=1 here)."""
    repeats = int(run.data.params["repeats"]) + int(run.data.params["warmup"])
    return float(run.data.metrics["wall_time_s"]) * repeats


def store_breakdown(sweep: dict) -> list[list[str]]:
    """Per-trial time from the store's timestamps (ms resolution) and metrics."""
    runs = sweep["runs"]
    count = len(runs)
    in_run = [(r.info.end_time - r.info.start_time) / 1000 for r in runs]
    gaps = [(b.info.start_time - a.info.end_time) / 1000 for a, b in zip(runs, runs[1:])]
    trial_process = [r.data.metrics["trial_duration_s"] for r in runs]
    work = [sum_repetitions(r) for r in runs]
    first_start = runs[0].info.start_time / 1000 - sweep["started_epoch"]
    after_last = sweep["ended_epoch"] - runs[-1].info.end_time / 1000

    def ms(values: list[float]) -> str:
        return f"{1000 * sum(values) / len(values):8.1f} ms"

    return [
        ["trials' own work (recorded repetitions)", ms(work)],
        ["rest of the trial process (backend start/close, checks)", ms([p - w for p, w in zip(trial_process, work)])],
        ["in the run, outside the trial process (isolation)", ms([i - p for i, p in zip(in_run, trial_process)])],
        ["between runs (logging the last run; the next job config, .hydra/*.yaml)", ms(gaps) if gaps else "n/a"],
        [f"launch -> first trial run (imports, store, validating all {count} jobs)", f"{1000 * first_start:8.0f} ms"],
        ["last trial run -> exit (parent run, end-of-sweep table)", f"{1000 * after_last:8.0f} ms"],
    ]


def instrumented_breakdown(arguments: list[str], workdir: Path, trials: int) -> tuple[list[list[str]], float]:
    label = "instrumented"
    out = workdir / "timings.json"
    command = [sys.executable, "-c", INSTRUMENTED, str(out), *arguments, *store_overrides(workdir, label)]
    done = subprocess.run(command, cwd=workdir, env=clean_env(workdir), capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit("benchmark: the instrumented sweep failed")
    data = json.loads(out.read_text())
    t = {k: v[1] for k, v in data["timings"].items()}
    if len(data["trials"]) != trials:
        print(f"warning: the instrumented sweep ran {len(data['trials'])} trials, not {trials}", file=sys.stderr)
    work = sum(w for _, w in data["trials"])
    trial_process = sum(d for d, _ in data["trials"])
    hooks = t.get("on_job_start", 0.0) + t.get("on_job_end", 0.0)
    mlflow_per_trial = t.get("mlflow in on_job_start", 0.0) + t.get("mlflow in on_job_end", 0.0)
    per_trial_parts = {
        "trial process: the trials' own work": work,
        "trial process: the rest (set-up, backend start/close, checks)": trial_process - work,
        "isolation: fork-server child, host lock, pipe, exit wait": t.get("run_isolated", 0.0) - trial_process,
        "MLflow calls for the trial's run (MlflowClient)": mlflow_per_trial,
        "callback rest (build_spec, host facts, journal, terminal)": hooks - mlflow_per_trial,
        "job configs, in parsweep's plan_sweep (with Hydra's compose)": t.get("job config in plan_sweep", 0.0),
        "job configs, in the launcher (with Hydra's compose)": t.get("job config in launcher", 0.0),
        "Hydra: compose outside job configs (sweeper's validate_batch_is_legal)": t.get("hydra compose in validate_batch_is_legal", 0.0),
        "launcher: run_trial_job rest (output dir, .hydra/*.yaml)": t.get("run_job", 0.0) - hooks - t.get("run_isolated", 0.0),
    }
    rows = [[name, f"{1000 * seconds / trials:8.1f} ms"] for name, seconds in per_trial_parts.items()]
    composes = sum(v[0] for k, v in data["timings"].items() if k.startswith("hydra compose in "))
    rows.append(["Hydra composes (all of them, then per trial)", f"{composes}  ({composes / trials:.2f} per trial)"])
    calls = sum(data["timings"].get(f"mlflow in {hook}", [0, 0.0])[0] for hook in ("on_job_start", "on_job_end"))
    rows.append(["MLflow client calls per trial", f"{calls / trials:.2f}"])
    accounted = sum(per_trial_parts.values())
    mlflow_one_off = sum(v for k, v in t.items() if k.startswith("mlflow in ") and k != "mlflow in publish_sweep") - mlflow_per_trial
    one_off = {
        "imports (hydra, mlflow, runner, analysis)": data["imports"],
        "MLflow outside trials (open the store, parent run, end)": mlflow_one_off,
        "end of sweep: the table, reading the runs back": t.get("publish_sweep", 0.0),
    }
    rows += [[f"one-off: {name}", f"{1000 * seconds:8.0f} ms"] for name, seconds in one_off.items()]
    rest = data["total"] - accounted - sum(one_off.values())
    rows.append(["one-off: everything else (Hydra start-up, plan, display...)", f"{1000 * rest:8.0f} ms"])
    rows.append([f"total of the instrumented sweep ({trials} trials)", f"{1000 * data['total']:8.0f} ms"])
    planning = (t.get("job config in plan_sweep", 0.0) - t.get("hydra compose in plan_sweep", 0.0)) / trials
    return rows, planning


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=45, help="at least this many trials in the sweep (default 45)")
    parser.add_argument("--n", type=int, default=1000, help="range size of the tiny trials (default 1000)")
    parser.add_argument("--pairs", type=int, default=3, help="(one-trial, sweep) launch pairs; medians used (default 3)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the instrumented sweep")
    args = parser.parse_args()
    if args.trials < 2:
        parser.error("--trials must be at least 2")

    sweep_args, trials = sweep_arguments(args.trials, args.n)
    one_args = one_trial_arguments(args.n)
    print("parsweep overhead benchmark: per-trial cost of orchestration plus tracking (sqlite store)")
    for line in machine_lines():
        print(line)
    print(f"sweep        {' '.join(parsweep_command()[-1:] + sweep_args)}  ({trials} trials)")
    print(f"one trial    {' '.join(parsweep_command()[-1:] + one_args)}")
    print(f"pairs        {args.pairs} (fresh sqlite store per launch; order alternates)")
    print()

    began = time.perf_counter()
    sweeps, ones = [], []
    breakdown, planning = [], 0.0
    with scratch_dir("parsweep-overhead-") as workdir:
        for index in range(args.pairs):
            order = ["one", "sweep"] if index % 2 == 0 else ["sweep", "one"]
            for which in order:
                if which == "one":
                    ones.append(launch(one_args, workdir, f"one{index}", 1))
                else:
                    sweeps.append(launch(sweep_args, workdir, f"sweep{index}", trials))
            s, o = sweeps[-1], ones[-1]
            raw = (s["wall"] - o["wall"]) / (trials - 1)
            print(
                f"pair {index + 1}/{args.pairs}: one-trial {o['wall']:.2f} s | sweep {s['wall']:.2f} s "
                f"| per trial {1000 * raw:.1f} ms",
                flush=True,
            )
        if not args.no_breakdown:
            breakdown, planning = instrumented_breakdown(sweep_args, workdir, trials)

    sweep_wall = median([s["wall"] for s in sweeps])
    one_wall = median([o["wall"] for o in ones])
    sweep_work = median([s["work"] for s in sweeps])
    one_work = median([o["work"] for o in ones])
    sweep_process = median([s["trial_process"] for s in sweeps])
    one_process = median([o["trial_process"] for o in ones])
    steady = median([s["steady"] for s in sweeps])
    steady_outside = median([s["steady_outside"] for s in sweeps])
    raw = (sweep_wall - one_wall) / (trials - 1)
    net = ((sweep_wall - sweep_work) - (one_wall - one_work)) / (trials - 1)
    outside = ((sweep_wall - sweep_process) - (one_wall - one_process)) / (trials - 1)
    have_b = not args.no_breakdown
    marginal, marginal_outside = steady + planning, steady_outside + planning

    def b(value: float) -> str:
        return f"{value * 1000:.1f} ms" if have_b else "n/a"

    print()
    print(
        table(
            ["figure (medians over pairs)", "value", f"goal <= {GOAL_S * 1000:.0f} ms"],
            [
                ["one-trial sweep wall", f"{one_wall:.3f} s", ""],
                [f"{trials}-trial sweep wall", f"{sweep_wall:.3f} s", ""],
                ["trials' own work in the sweep (sum of repetitions)", f"{sweep_work * 1000:.1f} ms", ""],
                ["A. end to end: (sweep - one) / (trials - 1)", f"{raw * 1000:.1f} ms", ""],
                ["A. end to end, own work (repetitions) out", f"{net * 1000:.1f} ms", ""],
                ["A. end to end, whole trial process out", f"{outside * 1000:.1f} ms", ""],
                ["B. inside the sweep, own work (repetitions) out", b(marginal), ""],
                ["B. inside the sweep, whole trial process out", b(marginal_outside), verdict(marginal_outside <= GOAL_S) if have_b else ""],
                ["   of which: trial start to next trial start, process out", f"{steady_outside * 1000:.1f} ms", ""],
                ["   of which: its job config, composed before the first trial", b(planning), ""],
            ],
        )
    )
    print(
        "The trial process is the experiment itself: the backend's start (startup_s), the repetitions, the\n"
        "backend's close; what is left is orchestration plus tracking. A charges the trials with more than\n"
        "trials cost: what grows with the sweep's shape, not its trial count (a Hydra compose per distinct\n"
        "backend/workload choice; the end-of-sweep plots, a panel per n and per backend)."
    )
    print()
    print(f"where a trial's time goes, from the store (mean per trial, last {trials}-trial sweep):")
    print(table(["part", "time"], store_breakdown(sweeps[-1])))
    if not args.no_breakdown:
        print()
        print("where a trial's time goes, instrumented sweep (mean per trial, then one-off costs):")
        print(table(["part", "time"], breakdown))
    print()
    print(f"goal: at most {GOAL_S * 1000:.0f} ms per trial for orchestration plus tracking (sqlite store):")
    if have_b:
        print(f"  B. per trial inside the sweep, trial process out: {verdict(marginal_outside <= GOAL_S)} ({marginal_outside * 1000:.1f} ms)")
    print(f"  A. end to end against a one-trial run, for comparison: {outside * 1000:.1f} ms (trial process out), {net * 1000:.1f} ms (repetitions out)")
    print(f"load average at the end {machine_lines()[-1].split(None, 2)[2]}; benchmark took {time.perf_counter() - began:.0f} s")
    raise SystemExit(0 if have_b and marginal_outside <= GOAL_S else 1)


if __name__ == "__main__":
    main()
