"""The plan before the run: every trial of a sweep and about how long it will take.

``parsweep -m ... --dry-run`` prints it and runs nothing (no MLflow run, no output folder);
every sweep prints its estimate as it starts. The estimate is a model, said to be one: the
pure-Python loop's cost per item is measured here in a few milliseconds, then scaled by n,
the repetitions and how many workers can really run at once (one for threads under a GIL,
up to the usable CPUs otherwise), plus each backend's usual start-up.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

from runner.host.facts import usable_cpu_count
from runner.trial.units import format_n
from runner.ui.progress import format_clock
from runner.ui.terminal import trial_name

PER_TRIAL_S = 0.15  # process, tracking, the run's files; each backend adds its own (Backend.startup_s, per_repetition_s)


@functools.lru_cache(maxsize=1)
def loop_cost_s() -> float:
    """Seconds per item of the classic pure-Python loop, measured now (about 5 ms)."""
    from runner.trial.workloads.sum_range import sum_range_chunk

    began = time.perf_counter()
    sum_range_chunk(0, 200_000)
    return (time.perf_counter() - began) / 200_000


def item_cost_s(spec: Any) -> float | None:
    """Seconds one item of ``spec``'s workload costs one worker (None: unknown, a custom function):
    what the workload says of itself (``Workload.item_cost_s``), in units of the classic loop."""
    from runner.trial.workloads import get

    return get(spec.workload).item_cost_s(spec.n, spec.workload_options, loop_cost_s)


def parallel(spec: Any, gil_enabled: bool) -> float:
    """How many workers of ``spec`` really run at once (what the backend and the workload say of themselves)."""
    from runner.trial.backends import get
    from runner.trial.workloads import get as workload

    if spec.backend == "serial":
        return 1.0
    work = workload(spec.workload)
    if not work.holds_cpu:
        return float(spec.workers)
    if get(spec.backend).threads_of_one_interpreter and gil_enabled and not work.releases_gil:
        return 1.0
    return float(max(1, min(spec.workers, usable_cpu_count())))


def estimate_s(trial: Any) -> float | None:
    """About how long one planned trial takes, or None when its workload's cost is unknown. With
    ``repeats=auto`` it is the most the trial may take (``max_repeats`` repetitions, or its
    repetitions' ``max_time_s``): how many it needs depends on the machine's noise, known only as it runs."""
    spec = trial.spec
    cost = item_cost_s(spec)
    if cost is None:
        return None
    gil = bool(trial.interpreter.facts.get("gil_enabled", True))
    from runner.trial.backends import get

    backend = get(spec.backend)
    per_rep = spec.n * cost / parallel(spec, gil) + backend.per_repetition_s * spec.workers
    planned = spec.max_repeats if spec.auto_repeats else int(spec.repeats)
    if spec.auto_repeats and spec.max_time_s is not None and per_rep > 0:
        planned = min(planned, math.ceil(spec.max_time_s / per_rep) + 1)
    # each of the trial's processes starts its backend and warms up (repeats_per_process)
    processes = trial.policy.processes(planned, backend.fresh_processes)
    return PER_TRIAL_S + processes * (backend.startup_s + spec.warmup * per_rep) + planned * per_rep


def estimate_text(trials: list[Any]) -> str:
    """``about 1:05``, with the waits it can foresee: ``+ up to 1:00 waiting for a quiet machine
    (interference.budget_s)`` when repetitions may be measured again, and ``after the host lock:
    another parsweep is timing a trial (...)`` when one holds it now. A custom workload's cost is
    unknown until it runs: its trials are said to be left out of the figure, never counted as 0."""
    from runner.host.lock import held_by

    known = [estimate_s(trial) for trial in trials]
    total = sum(s for s in known if s is not None)
    unknown = sum(s is None for s in known)
    policy = trials[0].policy if trials else None
    auto = next((trial.spec for trial in trials if trial.spec.auto_repeats), None)
    if trials and unknown == len(trials):
        text = "duration unknown: a custom workload's cost is known only once it runs"
    elif unknown:
        text = f"at least {format_clock(total)}, and {unknown} custom-workload trial{'s' if unknown != 1 else ''} not estimated"
    elif auto is not None:
        # repeats=auto: how many rounds the speedups need depends on the machine's noise; say the bound
        budget = policy.sweep_budget_s if policy is not None else None
        bound = total if budget is None else min(total, budget)
        text = (f"up to {format_clock(bound)} (repeats=auto: until each speedup is known within +-{auto.target_speedup_ci:.0%}"
                + (f"; sweep_budget_s={budget:g})" if budget is not None else ")"))
    else:
        text = f"about {format_clock(total)}"
    if policy is not None and policy.retries > 0 and policy.budget_s > 0:
        text += f" + up to {format_clock(policy.budget_s)} waiting for a quiet machine (interference.budget_s)"
    holder = held_by()
    if holder:
        text += f", after the host lock: another parsweep is timing a trial ({holder})"
    return text


def print_plan(plan: Any) -> None:
    """The dry run: each trial to run, the count and the estimate; nothing runs."""
    trials = plan.to_run
    print(f"parsweep: dry run: {len(trials)} trials, {estimate_text(trials)} (nothing runs, no MLflow run is created)")
    if plan.skipped:
        print(f"  resume: {len(plan.skipped)} trials of the resumed sweep are FINISHED already and are left out")
    width = len(str(len(trials)))
    names = [trial_name(trial.spec) for trial in trials]
    name_width = max((len(name) for name in names), default=10)
    for number, (trial, name) in enumerate(zip(trials, names), start=1):
        seconds = estimate_s(trial)
        took = f"~{format_clock(seconds)}" if seconds is not None and seconds >= 1 else ("~<0:01" if seconds is not None else "?")
        print(f"  [{number:>{width}}/{len(trials)}] {name:<{name_width}}  {took:>7}  python {trial.interpreter.label}"
              f"  ({' '.join(trial.overrides) or 'defaults'})")
    sizes = sorted({trial.spec.n for trial in trials})
    if sizes:
        print(f"  n: {', '.join(format_n(n) for n in sizes)}; schedule: {trials[0].policy.schedule}")
