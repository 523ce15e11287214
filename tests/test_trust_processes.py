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

import pytest

from conftest import all_runs, run_parsweep, runs_with_role, sqlite_uri
from runner.trial.measure import (
    CONTENDERS_KNOWN_RULE,
    SWEEP_BUDGET_RULE,
    TARGET_SPEEDUP_RULE,
    AutoRepeats,
    AutoTrial,
    decide_stops,
)
from runner.trial.stats import couple_spread, log_mean_interval, paired_ratio, pool_offsets

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


def test_a_stop_on_the_target_is_read_again_after_every_round() -> None:
    """A contender that stopped within its target is read again with what the group knows now:
    still within it, it stays stopped (three contenders whose couples agree); no longer within it
    (one whose couples disagree by +-5%, which it did not show when it stopped), it runs again,
    and its baseline with it, until its figure holds or a limit ends it. A limit is final."""
    rules = AutoRepeats(0.02, 100, None)
    rounds = 12
    processes = {index: index // 4 for index in range(rounds)}
    base = [(index, 1.0) for index in range(rounds)]
    tight = [(index, 0.5 * (1.0 + 0.002 * (index % 2))) for index in range(rounds)]
    offsets = [1.05, 0.95, 1.05]
    wide = [(index, 0.5 * offsets[index // 4] * (1.0 + 0.002 * (index % 2))) for index in range(rounds)]

    def group(budget_spent: bool = False, wide_stop: str = TARGET_SPEEDUP_RULE) -> list[AutoTrial]:
        trials = [AutoTrial(1, rules, base, processes=processes, stop=CONTENDERS_KNOWN_RULE),
                  *(AutoTrial(key, rules, tight, baseline=1, target=0.05, processes=processes, couples=3, stop=TARGET_SPEEDUP_RULE)
                    for key in (2, 4, 5)),
                  AutoTrial(3, rules, wide, baseline=1, target=0.05, processes=processes, couples=3, stop=wide_stop)]
        decide_stops(trials, budget_spent=budget_spent)
        return [trials[0], trials[1], trials[-1]]

    serial, holds, moved = group()
    assert holds.stop == TARGET_SPEEDUP_RULE and holds.paired is not None and holds.paired.rel_half_width <= 0.05
    assert moved.stop is None and moved.paired is not None and moved.paired.rel_half_width > 0.05
    assert serial.stop is None  # the baseline goes on with it: every round it runs in has its pair

    serial, holds, moved = group(budget_spent=True)  # the sweep's budget is spent: it ends, and says why
    assert moved.stop == SWEEP_BUDGET_RULE and holds.stop == TARGET_SPEEDUP_RULE and serial.stop == CONTENDERS_KNOWN_RULE

    serial, _, moved = group(wide_stop="max_repeats")  # a limit is not read again
    assert moved.stop == "max_repeats" and serial.stop == CONTENDERS_KNOWN_RULE


# -- the offsets pooled over a group's rows: known answers ------------------------------------------


def _group(rng: random.Random, offsets: list[float], couples: int = 6, per_couple: int = 5, noise_sd: float = 0.13
           ) -> list[tuple[list[float], list[int]]]:
    """A group's rows of A/A log-ratios (true value 0): row ``r`` has couples whose lasting offsets
    spread ``offsets[r]``, and noise of ``noise_sd`` per pair (the quick sweep's shape)."""
    rows = []
    for spread in offsets:
        logs, labels = [], []
        for couple in range(couples):
            offset = rng.gauss(0, spread)
            logs += [offset + rng.gauss(0, noise_sd) for _ in range(per_couple)]
            labels += [couple] * per_couple
        rows.append((logs, labels))
    return rows


def test_pooling_the_offsets_over_a_group_narrows_its_intervals_at_their_coverage() -> None:
    """14 rows of 6 couples x 5 pairs, 13% noise per pair, 1.4% offsets (this VM's): the interval
    with the group's pooled offsets holds the truth about 95% of the time, as each row's own does,
    and is narrower: by 7% for the median row, and its median half-width by about 12% (the
    simulation in runner.trial.stats)."""
    rng = random.Random(23)
    own_width, pooled_width = [], []
    own_held = pooled_held = 0
    for _ in range(150):
        rows = _group(rng, [0.014] * 14)
        pool = pool_offsets([couple_spread(logs, labels) for logs, labels in rows])
        assert pool is not None and pool.rows == 14 and pool.df == 14 * 5
        for logs, labels in rows:
            mean, own, _ = log_mean_interval(logs, labels)
            mean, pooled, _ = log_mean_interval(logs, labels, pool=pool)
            own_held += abs(mean) <= own
            pooled_held += abs(mean) <= pooled
            own_width.append(own)
            pooled_width.append(pooled)
    count = len(own_width)
    assert 0.93 <= pooled_held / count <= 0.98, pooled_held / count
    assert 0.93 <= own_held / count <= 0.99, own_held / count
    ratio = sorted(p / o for p, o in zip(pooled_width, own_width))[count // 2]
    assert ratio <= 0.95, ratio
    medians = sorted(pooled_width)[count // 2] / sorted(own_width)[count // 2]
    assert medians <= 0.92, medians


def test_a_row_whose_couples_spread_more_than_the_pool_keeps_its_own_interval() -> None:
    """Thirteen rows without offsets and one whose couples sit at -12%, +12%, ...: the F test says
    the pool does not explain that row, and its interval is its own (not narrowed by the others);
    the quiet rows' intervals are the pooled ones."""
    rng = random.Random(3)
    rows = _group(rng, [0.0] * 13, noise_sd=0.05)
    odd = [(0.12 if couple % 2 else -0.12) + rng.gauss(0, 0.05) for couple in range(6) for _ in range(5)]
    labels = [couple for couple in range(6) for _ in range(5)]
    rows.append((odd, labels))
    pool = pool_offsets([couple_spread(logs, labels) for logs, labels in rows])
    assert pool is not None
    assert log_mean_interval(odd, labels, pool=pool) == log_mean_interval(odd, labels)
    quiet, quiet_labels = rows[0]
    assert log_mean_interval(quiet, quiet_labels, pool=pool) != log_mean_interval(quiet, quiet_labels)


def test_no_pool_without_two_rows_or_two_couples() -> None:
    """A row alone in its group has nothing to pool with; a row of one couple has no spread to
    give (its interval is the per-pair one); a row of single-pair couples cannot tell its noise."""
    rng = random.Random(9)
    (logs, labels), = _group(rng, [0.02])
    assert pool_offsets([couple_spread(logs, labels)]) is None
    assert couple_spread(logs, [0] * len(logs)) is None
    assert couple_spread(logs[:6], list(range(6))) is None


def test_repeats_auto_stops_on_the_pooled_interval() -> None:
    """A group of eight contenders, 30 rounds in six couples of processes each: the stopping rule
    reads each speedup with the group's pooled offsets (the same figure the report gives), which is
    narrower than the contender's own for most of them, and a contender stops exactly when that
    figure is within its target."""
    rng = random.Random(31)
    rules = AutoRepeats(0.02, 100, None)
    rounds = 30
    processes = {index: index // 5 for index in range(rounds)}
    base = [(index, 1.0) for index in range(rounds)]
    contenders = []
    for key in range(2, 10):
        offsets = [rng.gauss(0, 0.014) for _ in range(6)]
        samples = [(index, math.exp(offsets[index // 5] + rng.gauss(0, 0.08))) for index in range(rounds)]
        contenders.append(AutoTrial(key, rules, samples, baseline=1, target=0.045, processes=processes))
    trials = [AutoTrial(1, rules, base, processes=processes), *contenders]
    decide_stops(trials)
    labels = [(processes[index], processes[index]) for index in range(rounds)]
    spreads = [couple_spread([math.log(1.0 / wall) for _, wall in trial.samples], labels) for trial in contenders]
    pool = pool_offsets(spreads)
    narrower = 0
    for trial in contenders:
        walls = [wall for _, wall in trial.samples]
        expected = paired_ratio([1.0] * rounds, walls, clusters=labels, pool=pool)
        own = paired_ratio([1.0] * rounds, walls, clusters=labels)
        assert trial.paired == expected
        assert expected is not None and own is not None
        narrower += expected.rel_half_width < own.rel_half_width
        assert (trial.stop == "target_speedup_ci") == (expected.rel_half_width <= 0.045), (trial.stop, expected)
    assert narrower >= 6, narrower


def test_the_report_pools_the_offsets_of_a_groups_rows(tmp_path: Path) -> None:
    """A sweep in a real store: serial and six contenders at 1 worker, 30 rounds each in six
    processes of five rounds, 1.4% offsets per process and 8% noise per round. Each contender's
    interval in the report is the one the stopping rule computes, with the offsets pooled over
    the group's six rows; a second group in the same sweep pools its own."""
    from test_analysis_store import StoreBuilder

    from analysis.data.load import load_samples, load_sweep
    from analysis.report import build_report

    rng = random.Random(41)
    builder = StoreBuilder(tmp_path)
    sweep = builder.sweep()
    rounds, processes = list(range(30)), [index // 5 for index in range(30)]
    expected = {}
    for n, group in ((10**6, "g1"), (2 * 10**6, "g2")):
        drift = [math.exp(rng.gauss(0, 0.2)) for _ in rounds]
        serial = [0.1 * speed for speed in drift]
        builder.trial(sweep, "serial", 1, n, serial, usable=2, group=group, processes=processes)
        contenders = {}
        for backend in ("threading", "thread_pool", "multiprocessing", "process_pool", "interpreters", "dask"):
            offsets = [rng.gauss(0, 0.014) for _ in range(6)]
            walls = [0.1 * speed * math.exp(offsets[index // 5] + rng.gauss(0, 0.08)) for index, speed in enumerate(drift)]
            builder.trial(sweep, backend, 1, n, walls, usable=2, group=group, processes=processes)
            contenders[backend] = walls
        labels = [(index // 5, index // 5) for index in rounds]
        pool = pool_offsets([couple_spread([math.log(a / b) for a, b in zip(serial, walls)], labels) for walls in contenders.values()])
        assert pool is not None and pool.rows == 6
        for backend, walls in contenders.items():
            expected[(n, backend)] = (paired_ratio(serial, walls, clusters=labels, pool=pool), paired_ratio(serial, walls, clusters=labels))
    trials = load_sweep(builder.uri, sweep)
    table = build_report(trials, load_samples(builder.uri, trials)).table.set_index(["n", "backend"])
    differs = 0
    for key, (pooled, own) in expected.items():
        assert pooled is not None and own is not None
        row = table.loc[key]
        assert row["ci_method"] == "paired" and row["pairs"] == 30 and row["processes"] == 6
        assert (row["speedup_ci_low"], row["speedup_ci_high"]) == (pytest.approx(pooled.low), pytest.approx(pooled.high))
        differs += pooled.rel_half_width != pytest.approx(own.rel_half_width)
    assert differs >= 6, differs  # the pool is used (how much narrower it is on average: the test above)
