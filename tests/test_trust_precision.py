"""repeats=auto in an interleaved group: the precision of the paired speedups decides (issue 17).

Known-answer tests of the stopping rule on synthetic samples with drift (no machine timing):
a slow phase hits the baseline and its contender in the same rounds, as it does on a VM whose
CPU speed changes for seconds at a time. Then one real sweep, for the tags.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from conftest import all_runs, run_parsweep, runs_with_role, sqlite_uri
from runner.trial.measure import (
    CONTENDERS_KNOWN_RULE,
    MIN_PAIRS,
    OUT_OF_REACH_MARGIN,
    OUT_OF_REACH_MIN_PAIRS,
    ROUNDS_PACED,
    SWEEP_BUDGET_RULE,
    TARGET_SPEEDUP_RULE,
    AutoRepeats,
    AutoTrial,
    decide_stops,
    other_turns,
    out_of_reach,
    rounds_left,
    turn_shares,
)
from runner.trial.stats import PairedRatio, more_to_target, pair_by_round, paired_ratio, summarize, t_quantile

RULES = AutoRepeats(target_rel_ci=0.02, max_repeats=50, max_time_s=None)


def drift(rounds: int, seed: int = 1) -> list[float]:
    """The machine's speed factor per round: phases of 1.0 and 1.6 (a 60% slower CPU), a few rounds each."""
    rng = random.Random(seed)
    factors, slow = [], False
    while len(factors) < rounds:
        factors += [1.6 if slow else 1.0] * rng.randint(2, 5)
        slow = not slow
    return factors[:rounds]


def simulate(true_speedups: dict[str, float], noise: dict[str, float], rounds: int = 50, seed: int = 7,
             budget_after: int | None = None, budget_rounds: int | None = None) -> tuple[dict[str, AutoTrial], int]:
    """Rounds of a group (a serial baseline of 1.0 s and its contenders), each trial measured in
    a round only while it still runs; returns the trials and the rounds the group took.
    ``budget_after``: the budget is spent from that round on; ``budget_rounds``: the rounds its
    share holds (what the scheduler estimates from the rounds' pace)."""
    rng = random.Random(seed)
    factors = drift(rounds, seed)
    trials = {"serial": AutoTrial(0, RULES, [])}
    for key, name in enumerate(true_speedups, start=1):
        trials[name] = AutoTrial(key, RULES, [], baseline=0, target=0.03)
    taken = 0
    for index in range(rounds):
        running = [name for name, trial in trials.items() if trial.stop is None]
        if not running:
            break
        taken += 1
        for name in running:
            true = 1.0 / true_speedups.get(name, 1.0)
            jitter = math.exp(rng.gauss(0.0, noise.get(name, 0.005)))
            trials[name].samples.append((index, true * factors[index] * jitter))
        left = None if budget_rounds is None else max(0, budget_rounds - taken)
        decide_stops(list(trials.values()), budget_spent=budget_after is not None and taken >= budget_after, rounds_left=left)
    return trials, taken


def test_drift_that_hits_both_sides_cancels_and_stops_the_group_early() -> None:
    """A 60% slow phase in half the rounds: each trial's own median is wide (the old rule would run
    to max_repeats), but the paired speedups are known within 3% after a few rounds, right."""
    trials, taken = simulate({"threading": 1.0, "process_pool": 1.9}, {})
    assert taken < 15, taken
    assert summarize([w for _, w in trials["serial"].samples]).rel_ci_half_width > 0.1  # the drift, unpaired
    for name, truth in (("threading", 1.0), ("process_pool", 1.9)):
        trial = trials[name]
        assert trial.stop == TARGET_SPEEDUP_RULE and trial.paired is not None
        assert trial.paired.pairs >= MIN_PAIRS and trial.paired.rel_half_width <= 0.03
        assert trial.paired.low <= truth <= trial.paired.high  # unbiased: the truth is inside
    assert trials["serial"].stop == CONTENDERS_KNOWN_RULE


def test_rounds_go_only_to_the_contenders_that_still_need_them() -> None:
    """A noisy contender (10% of its own noise per repetition) keeps running with the baseline
    after the precise one has stopped; every one of its repetitions has the baseline's beside it."""
    trials, taken = simulate({"threading": 1.0, "process_pool": 1.9}, {"process_pool": 0.10}, rounds=50)
    precise, noisy, serial = trials["threading"], trials["process_pool"], trials["serial"]
    assert precise.stop == TARGET_SPEEDUP_RULE
    assert len(precise.samples) < len(noisy.samples) == len(serial.samples) == taken
    assert {r for r, _ in noisy.samples} <= {r for r, _ in serial.samples}
    assert noisy.stop in (TARGET_SPEEDUP_RULE, "max_repeats")
    assert serial.stop == CONTENDERS_KNOWN_RULE


def test_max_repeats_and_the_budget_still_end_the_group() -> None:
    rules = AutoRepeats(target_rel_ci=0.02, max_repeats=8, max_time_s=None)
    serial = AutoTrial(0, rules, [(i, 1.0 * (1.6 if i % 3 else 1.0)) for i in range(8)])
    noisy = AutoTrial(1, rules, [(i, (1.0 if i % 2 else 1.4)) for i in range(8)], baseline=0)
    decide_stops([serial, noisy])
    assert noisy.stop == "max_repeats" and serial.stop == CONTENDERS_KNOWN_RULE

    trials, taken = simulate({"process_pool": 1.9}, {"process_pool": 0.10}, budget_after=MIN_PAIRS + 1)
    assert taken == MIN_PAIRS + 1
    assert trials["process_pool"].stop == SWEEP_BUDGET_RULE and trials["serial"].stop == CONTENDERS_KNOWN_RULE


def test_a_target_out_of_reach_stops_early_and_leaves_the_budget_to_others() -> None:
    """A contender whose pairs are 15% noisy needs about 90 pairs for +-3%; with 50 rounds in its
    group's share it stops as soon as its width can be read (OUT_OF_REACH_MIN_PAIRS), by the
    budget's rule, not after spending the share; the group ends there. One that needs more
    pairs than that and has the rounds for them keeps going and gets there; without a budget
    (or in the last group) the noisy one runs on to max_repeats, as before."""
    trials, taken = simulate({"threading": 1.0, "process_pool": 1.9}, {"process_pool": 0.15}, budget_rounds=50)
    noisy, precise, serial = trials["process_pool"], trials["threading"], trials["serial"]
    assert noisy.stop == SWEEP_BUDGET_RULE and len(noisy.samples) == OUT_OF_REACH_MIN_PAIRS == taken
    assert noisy.paired is not None and noisy.paired.rel_half_width > 0.03
    assert precise.stop == TARGET_SPEEDUP_RULE and serial.stop == CONTENDERS_KNOWN_RULE

    reachable, taken = simulate({"process_pool": 1.9}, {"process_pool": 0.09}, budget_rounds=60, seed=6)
    trial = reachable["process_pool"]
    assert trial.stop == TARGET_SPEEDUP_RULE and trial.paired is not None
    assert OUT_OF_REACH_MIN_PAIRS < taken < RULES.max_repeats and trial.paired.low <= 1.9 <= trial.paired.high

    unbounded, taken = simulate({"process_pool": 1.9}, {"process_pool": 0.15})
    assert taken == RULES.max_repeats and unbounded["process_pool"].stop in ("max_repeats", TARGET_SPEEDUP_RULE)


def test_out_of_reach_reads_the_width_as_more_couples_would_narrow_it() -> None:
    """Known answer, the quick sweep of 2026-12-05 16:47: process_pool x2 at 30 pairs from 6
    couples, 1.45x (1.21-1.74), read with Student's t at 5 degrees of freedom (2.571). More rounds
    bring more couples, and t falls toward 1.96: the width they narrow is +-14.8%, not +-19.9%,
    and about 233 more pairs reach +-5%, not 446. With 200 rounds left in its group's share it
    goes on (the t width alone stopped it, and the sweep ended with 57 s of its budget unspent);
    with 100 it stops. A width read without a quantile (None) is taken as it is."""
    read = PairedRatio(ratio=1.45, low=1.21, high=1.74, pairs=30, clusters=6, quantile=t_quantile(0.975, 5))
    assert read.rel_half_width == pytest.approx(0.199, abs=1e-3)
    assert read.asymptotic_half_width() == pytest.approx(0.148, abs=1e-3)
    assert more_to_target(read.rel_half_width, 30, 0.05) > OUT_OF_REACH_MARGIN * 200 > more_to_target(read.asymptotic_half_width(), 30, 0.05)
    assert not out_of_reach(read, 0.05, rounds_left=200)
    assert out_of_reach(read, 0.05, rounds_left=100)
    unknown = PairedRatio(ratio=1.45, low=1.21, high=1.74, pairs=30, clusters=6)
    assert unknown.asymptotic_half_width() == unknown.rel_half_width and out_of_reach(unknown, 0.05, rounds_left=200)


def test_other_rows_count_only_for_the_rounds_they_still_need() -> None:
    """Known answer: at 30 pairs (+-8.3%, target +-3%) a noisy contender needs 201 more rounds,
    and 120 rounds like the group's recent ones fit in its share. Alone with its baseline (its
    turn and the baseline's the whole round) it is out of reach: 201 > 1.5 x 120. With three other contenders in those rounds,
    each a fifth of a round and 5 rounds from its own target, the rounds it needs cost
    201 x 2/5 + 3 x 5 x 1/5 = 83 rounds of today's: it goes on. If the others need as many rounds
    as it does, the whole round runs beside it to the end and it stops, as before."""
    read = PairedRatio(ratio=1.5, low=1.5 / 1.0831, high=1.5 * 1.0831, pairs=30, clusters=6)
    assert more_to_target(read.rel_half_width, 30, 0.03) == 201
    assert out_of_reach(read, 0.03, rounds_left=120)
    assert not out_of_reach(read, 0.03, rounds_left=120, cost=2 / 5, others=[(5, 1 / 5)] * 3)
    assert out_of_reach(read, 0.03, rounds_left=120, cost=2 / 5, others=[(400, 1 / 5)] * 3)


def test_what_runs_beside_a_row_is_each_other_row_for_its_own_need() -> None:
    """Known answer, a group with two interpreters' baselines (0 and 2): beside contender 1, its
    sibling 3 for the 5 rounds it needs, contender 4 of the other interpreter for its 40, and that
    interpreter's baseline for as long as its neediest contender (40). Its own baseline is not
    among them (it is the row's cost)."""
    one, three, four = (AutoTrial(1, RULES, [], baseline=0), AutoTrial(3, RULES, [], baseline=0),
                        AutoTrial(4, RULES, [], baseline=2))
    shares = {0: 0.3, 1: 0.1, 2: 0.25, 3: 0.15, 4: 0.2}
    assert sorted(other_turns(one, [one, three, four], {1: 100, 3: 5, 4: 40}, shares)) == [(5, 0.15), (40, 0.2), (40, 0.25)]
    assert sorted(other_turns(four, [one, three, four], {1: 100, 3: 5, 4: 40}, shares)) == [(5, 0.15), (100, 0.1), (100, 0.3)]


def test_a_turn_share_is_read_from_the_recent_rounds() -> None:
    """Known answers: a baseline of 1.0 s and a contender of 0.5 s in every round, a second
    contender of 0.5 s only in the first rounds: over the last ROUNDS_PACED rounds a round holds
    1.5 s, so the baseline's turn is 2/3 of it and the contender's 1/3; the one that stopped
    before them has no share."""
    rounds = range(3 * ROUNDS_PACED)
    base = AutoTrial(0, RULES, [(i, 1.0) for i in rounds])
    kept = AutoTrial(1, RULES, [(i, 0.5) for i in rounds], baseline=0)
    stopped = AutoTrial(2, RULES, [(i, 0.5) for i in rounds[:ROUNDS_PACED]], baseline=0)
    shares = turn_shares([base, kept, stopped])
    assert shares[0] == pytest.approx(2 / 3) and shares[1] == pytest.approx(1 / 3) and 2 not in shares


def test_a_paired_ratio_says_which_quantile_its_interval_used() -> None:
    """Unclustered pairs: Student's t with pairs - 1 degrees of freedom. Pairs from couples of
    processes whose sums spread: the cluster-robust t with couples - 1, which the interval took."""
    rng = random.Random(3)
    base = [math.exp(rng.gauss(0, 0.1)) for _ in range(30)]
    plain = paired_ratio(base, [1.0] * 30)
    assert plain is not None and plain.quantile == pytest.approx(t_quantile(0.975, 29))
    offsets = [0.3 * (couple % 2) for couple in range(6) for _ in range(5)]  # every other couple 35% off
    skewed = paired_ratio([b * math.exp(o) for b, o in zip(base, offsets)], [1.0] * 30, clusters=[i // 5 for i in range(30)])
    assert skewed is not None and skewed.clusters == 6 and skewed.quantile == pytest.approx(t_quantile(0.975, 5))
    assert skewed.asymptotic_half_width() < skewed.rel_half_width


def test_the_rounds_left_come_from_the_recent_pace() -> None:
    """Known answers: rounds of 1 s, then ROUNDS_PACED rounds of 0.5 s (a process started fewer
    times, a faster phase): the pace is the recent 0.5 s, so 10 s left hold 20 rounds; past the
    deadline none; no answer without a deadline, before two rounds, or in the last group."""
    ends = [float(t) for t in range(21)] + [20 + 0.5 * k for k in range(1, ROUNDS_PACED + 1)]
    now = ends[-1]
    assert rounds_left(ends, deadline=now + 10, now=now, last_group=False) == pytest.approx(20)
    assert rounds_left(ends[:11], deadline=10 + 10, now=10, last_group=False) == pytest.approx(10)  # 1 s a round
    assert rounds_left(ends, deadline=now - 1, now=now, last_group=False) == 0
    assert rounds_left(ends, deadline=None, now=now, last_group=False) is None
    assert rounds_left(ends[:1], deadline=now + 10, now=now, last_group=False) is None
    assert rounds_left(ends, deadline=now + 10, now=now, last_group=True) is None


def test_trials_without_a_partner_keep_the_median_rule() -> None:
    """A serial trial alone, and a contender whose baseline is not in the group, stop on their own median."""
    alone = AutoTrial(0, RULES, [(i, 1.0 + 0.001 * (i % 2)) for i in range(6)])
    orphan = AutoTrial(1, RULES, [(i, 0.5) for i in range(6)], baseline=99)
    decide_stops([alone, orphan])
    assert alone.stop == "target_rel_ci" and orphan.stop == "target_rel_ci"


def test_pairs_need_a_few_rounds_before_they_may_stop() -> None:
    """Two or three identical ratios give a zero-width interval: not a reason to stop."""
    serial = AutoTrial(0, RULES, [(0, 1.0), (1, 1.6), (2, 1.0)])
    same = AutoTrial(1, RULES, [(0, 1.0), (1, 1.6), (2, 1.0)], baseline=0)
    decide_stops([serial, same])
    assert same.stop is None and serial.stop is None
    ratio = paired_ratio(*pair_by_round(serial.samples, same.samples))
    assert ratio is not None and ratio.rel_half_width == 0.0


def test_an_auto_sweep_records_why_each_trial_stopped(launch_dir: Path) -> None:
    """A real interleaved sweep with repeats=auto: each trial says which rule stopped it."""
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "backend=serial,threading", "workers=1", "n=2e4", "repeats=auto", "max_repeats=8",
                           "target_speedup_ci=0.5", "warmup=0"], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    stops = {r.data.params["backend"]: r.data.tags["parsweep.repeats_stop"] for r in runs_with_role(all_runs(uri), "trial")}
    assert stops["threading"] in (TARGET_SPEEDUP_RULE, "max_repeats"), stops
    assert stops["serial"] in (CONTENDERS_KNOWN_RULE, "max_repeats"), stops


# alone: with other processes busy, every repetition can be marked as disturbed and none paired,
# and the contender's warning could not speak of its paired speedup.
@pytest.mark.alone
def test_a_baseline_a_limit_stopped_says_which_speedups_it_left_short(launch_dir: Path) -> None:
    """A target no speedup reaches: a limit (max_time_s or max_repeats) ends the group, and every
    trial of it stops on that limit. The baseline's warning speaks of the speedup paired with it,
    the target that was missed, not of its own median's target_rel_ci, which was not its rule;
    the contender's of its own speedup."""
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "backend=serial,process_pool", "workers=2", "workload=sleep", "n=10_000",
                           "workload.sleep_per_item_s=2e-6", "repeats=auto", "max_time_s=0.15", "target_speedup_ci=1e-6",
                           "warmup=0"], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    trials = {r.data.params["backend"]: r for r in runs_with_role(all_runs(uri), "trial")}
    # max_time_s, which counts the clean repetitions only; max_repeats when disturbed ones let the group run its planned count
    rule = trials["serial"].data.tags["parsweep.repeats_stop"]
    assert rule in ("max_time_s", "max_repeats") and trials["process_pool"].data.tags["parsweep.repeats_stop"] == rule
    serial = [w for w in trials["serial"].data.tags["parsweep.warnings"].splitlines() if "repeats=auto stopped" in w]
    assert len(serial) == 1 and serial[0].startswith(f"repeats=auto stopped by {rule} after "), serial
    assert serial[0].endswith(" repetitions with 1 of the speedups paired with it short of target_speedup_ci=1e-06; "
                              f"raise {rule}, quiet the machine, or accept a wider target"), serial
    pool = trials["process_pool"].data.tags["parsweep.warnings"]
    assert "the paired speedup's 95% CI at" in pool and "short of target_speedup_ci=1e-06" in pool
