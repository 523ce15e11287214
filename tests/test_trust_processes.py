"""A trial's repetitions in several processes, and an interval that sees what a process keeps
(issue 17).

Two processes running the same loop on the same CPU differ by a few percent for their whole
life (``benchmarks/process_offset.py``), which pairing in time cannot cancel. So a trial hands
over to a fresh process every ``repeats_per_process`` recorded repetitions, each sample says
which process measured it (``parsweep.sample_processes``), and the paired interval is the
cluster-robust one over the couples of processes (``runner.trial.stats.log_mean_interval``).
Real sweeps in a real store; the statistics on synthetic samples with known offsets.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

from conftest import all_runs, run_parsweep, runs_with_role, sqlite_uri
from runner.trial.measure import AutoRepeats, AutoTrial, decide_stops
from runner.trial.stats import log_mean_interval, paired_ratio

PID_MODULE = '''
import os


def work(start, end):
    with open(os.environ["PARSWEEP_TEST_PIDS"], "a") as out:
        out.write(f"{os.getpid()}\\n")
    return sum(range(start, end))


def where(start, end):  # how deep in calls this process runs its work
    import inspect

    with open(os.environ["PARSWEEP_TEST_PIDS"], "a") as out:
        out.write(f"{os.getpid()}:{len(inspect.stack(0))}\\n")
    return sum(range(start, end))
'''


def _pid_sweep(launch_dir: Path, *extra: str, function: str = "work", backends: str = "serial,threading"
               ) -> tuple[list[dict[str, str]], Counter[str]]:
    (launch_dir / "pid_code.py").write_text(PID_MODULE)
    pids = launch_dir / "pids.txt"
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(
        ["-m", f"backend={backends}", "workers=1", "n=2e4", "repeats=6", "warmup=1", "interference.retries=0",
         "workload=custom", f"workload.function=pid_code:{function}", "workload.allow=[pid_code]", *extra],
        launch_dir, uri=uri, env={"PARSWEEP_TEST_PIDS": str(pids)},
    )
    assert launch.returncode == 0, launch.explain()
    tags = [run.data.tags for run in runs_with_role(all_runs(uri), "trial")]
    return tags, Counter(pids.read_text().split())


def test_a_trial_hands_over_to_fresh_processes(launch_dir: Path) -> None:
    """repeats_per_process=2, 6 repetitions: three processes per trial, each warmed up as the
    first (one warm-up, two recorded), and every sample names its process."""
    tags, calls = _pid_sweep(launch_dir, "repeats_per_process=2")
    assert len(tags) == 2
    for trial in tags:
        assert trial["parsweep.sample_processes"] == "0,0,1,1,2,2", trial
    # serial and threading x1 run the chunk in the trial process itself: 2 trials x 3 processes
    assert len(calls) == 6 and set(calls.values()) == {3}, calls


def test_each_trial_process_has_a_layout_of_its_own(launch_dir: Path) -> None:
    """Forked from one fork server, every trial process would start with the same layout: each
    shifts its heap and runs its trial a random number of calls deep first
    (runner.trial.worker.shift_layout). Six processes of one trial: their work does not run at
    one and the same depth (without the shift it always does; with it, all six alike has odds
    of 1 in 61**5)."""
    _, calls = _pid_sweep(launch_dir, "repeats_per_process=1", function="where", backends="serial")
    depth: dict[str, int] = {}
    for call in calls:  # pid:depth, in the order they were made
        pid, frames = call.split(":")
        depth.setdefault(pid, int(frames))
    assert len(depth) == 6, calls  # one process per recorded repetition
    assert len(set(depth.values())) > 1, depth


def test_one_process_for_the_whole_trial_when_asked(launch_dir: Path) -> None:
    tags, calls = _pid_sweep(launch_dir, "repeats_per_process=null")
    for trial in tags:
        assert trial["parsweep.sample_processes"] == "0,0,0,0,0,0", trial
    assert len(calls) == 2 and set(calls.values()) == {7}, calls


def test_the_plan_and_the_scheduler_count_processes_alike() -> None:
    """One rule (``Policy.processes``) for the scheduler's warm-up count and the plan's estimate: a
    process per ``repeats_per_process`` recorded repetitions, the last one partly filled; one for a
    backend that keeps its process (a cluster) or with ``repeats_per_process=null``."""
    from runner.trial.spec import Policy

    every_five = Policy(repeats_per_process=5)
    assert [every_five.processes(r) for r in (1, 5, 6, 10, 11, 100)] == [1, 1, 2, 2, 3, 20]
    assert every_five.processes(100, fresh_processes=False) == 1
    assert Policy(repeats_per_process=None).processes(100) == 1


def test_a_bad_repeats_per_process_is_one_line_naming_the_key(launch_dir: Path) -> None:
    launch = run_parsweep(["repeats_per_process=0"], launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"))
    assert launch.returncode == 2, launch.explain()
    assert launch.stderr.strip().splitlines()[-1] == (
        "parsweep: error: repeats_per_process=0: must be a whole number >= 1, or null for one process for the whole trial"
    )


# -- the interval over couples of processes: known answers ------------------------------------------


def _experiment(rng: random.Random, couples: int, per_couple: int, offset_sd: float, noise_sd: float) -> tuple[list[float], list[float], list[int]]:
    """An A/A experiment (true ratio 1): each process has a lasting offset, each round a drift
    both sides share (it cancels in the pair) and noise of its own."""
    base, other, labels = [], [], []
    for couple in range(couples):
        base_offset, other_offset = rng.gauss(0, offset_sd), rng.gauss(0, offset_sd)
        for _ in range(per_couple):
            drift = rng.gauss(0, 0.2)  # the VM's speed this round: +-20%, on both sides
            base.append(math.exp(drift + base_offset + rng.gauss(0, noise_sd)))
            other.append(math.exp(drift + other_offset + rng.gauss(0, noise_sd)))
            labels.append(couple)
    return base, other, labels


def test_the_interval_over_processes_covers_what_the_per_pair_one_misses() -> None:
    """Offsets of 3% per process and 5% noise per repetition, 8 couples of 10 pairs: the
    per-pair interval, blind to the offsets, holds the true 1.00 far less than 95% of the time;
    the interval over couples holds it about 95% of the time."""
    rng = random.Random(17)
    runs = 400
    per_pair = over_couples = 0
    for _ in range(runs):
        base, other, labels = _experiment(rng, couples=8, per_couple=10, offset_sd=0.03, noise_sd=0.05)
        blind = paired_ratio(base, other)
        seen = paired_ratio(base, other, clusters=labels)
        assert blind is not None and seen is not None and seen.clusters == 8
        assert seen.low <= blind.low and seen.high >= blind.high  # never narrower than the per-pair interval
        per_pair += blind.low <= 1 <= blind.high
        over_couples += seen.low <= 1 <= seen.high
    assert per_pair / runs < 0.75, per_pair / runs
    assert 0.90 <= over_couples / runs <= 0.99, over_couples / runs


def test_without_offsets_the_interval_over_processes_costs_little() -> None:
    """No lasting offsets: the two intervals agree within the t quantiles' difference."""
    rng = random.Random(5)
    widths = []
    for _ in range(200):
        base, other, labels = _experiment(rng, couples=8, per_couple=10, offset_sd=0.0, noise_sd=0.05)
        blind, seen = paired_ratio(base, other), paired_ratio(base, other, clusters=labels)
        assert blind is not None and seen is not None
        widths.append(seen.rel_half_width / blind.rel_half_width)
    assert sorted(widths)[len(widths) // 2] < 1.35, sorted(widths)[len(widths) // 2]


def test_one_couple_of_processes_gives_the_per_pair_interval() -> None:
    logs = [0.01, -0.02, 0.03, 0.0, 0.015]
    assert log_mean_interval(logs, [7] * len(logs)) == log_mean_interval(logs)


def test_repeats_auto_does_not_stop_on_pairs_of_one_couple_that_differ_by_process() -> None:
    """Tight pairs within each couple of processes, but the couples disagree by +-6%: the stopping
    rule keeps going where the per-pair interval alone would have stopped it."""
    rules = AutoRepeats(0.02, 100, None)
    base = [(i, 1.0) for i in range(12)]
    offsets = [1.06, 0.94, 1.06, 0.94]  # four processes of the contender, three rounds each
    contender = [(i, offsets[i // 3] * (1.0 + 0.001 * (i % 3))) for i in range(12)]
    processes = {i: i // 3 for i in range(12)}

    def trials(with_processes: bool) -> list[AutoTrial]:
        return [
            AutoTrial(1, rules, base, processes=dict.fromkeys(range(12), 0) if with_processes else {}),
            AutoTrial(2, rules, contender, baseline=1, target=0.05, processes=processes if with_processes else {}),
        ]

    blind = trials(False)
    decide_stops(blind)
    assert blind[1].paired is not None and blind[1].paired.clusters == 1
    seen = trials(True)
    decide_stops(seen)
    assert seen[1].paired is not None and seen[1].paired.clusters == 4
    assert seen[1].paired.rel_half_width > blind[1].paired.rel_half_width
    assert seen[1].stop is None  # +-6% between processes: not known within 5% yet


def test_repeats_auto_waits_for_three_couples_of_processes() -> None:
    """Pairs that agree within one couple of processes may not stop a contender: the interval
    cannot see a couple's lasting offset until there are several."""
    rules = AutoRepeats(0.02, 100, None)
    base = [(i, 1.0) for i in range(10)]
    contender = [(i, 0.5 * (1.0 + 0.001 * (i % 2))) for i in range(10)]

    def decided(processes: dict[int, int]) -> AutoTrial:
        trials = [AutoTrial(1, rules, base, processes=processes),
                  AutoTrial(2, rules, contender, baseline=1, target=0.05, processes=processes, couples=3)]
        decide_stops(trials)
        return trials[1]

    assert decided(dict.fromkeys(range(10), 0)).stop is None  # one couple: tight, but blind to its offset
    assert decided({i: i // 5 for i in range(10)}).stop is None  # two
    three = decided({i: min(i // 4, 2) for i in range(10)})
    assert three.paired is not None and three.paired.clusters == 3 and three.stop == "target_speedup_ci"
