"""One timed repetition: dispatch, combine, check, record; and when repetitions may stop (repeats=auto)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runner.trial.backends.base import Backend, ChunkFunction, ChunkResult
from runner.trial.stats import CoupleSpread, PairedRatio, couple_spread, more_to_target, pair_by_round, paired_ratio, pool_offsets, summarize
from runner.trial.workloads.base import Workload

if TYPE_CHECKING:
    from runner.trial.spec import TrialSpec

#: The machine-speed probe: a fixed piece of pure-Python work (the classic loop over PROBE_N
#: values), timed whole. About 1.2 ms on a quiet 2026 cloud vCPU. What it sees is how fast the
#: calling thread gets work done at that moment: a VM's virtual CPU that slows down for seconds
#: (host neighbours, clock changes) and another process sharing that CPU alike. It is timed
#: whole, not as the fastest of several short runs: a busy process on the same CPU takes turns
#: with it in slices of a few ms, which a sub-ms run slips between (benchmarks/probe.py: the
#: fastest of 3 x 0.5 ms read 0.95x with such a process, one 1.7 ms run 2.6x).
PROBE_N = 50_000
PROBE_RUNS = 1


def speed_probe(n: int = PROBE_N, runs: int = PROBE_RUNS) -> float:
    """Seconds the fixed probe work takes now on this thread's CPU (the fastest of ``runs``)."""
    best = math.inf
    for _ in range(runs):
        began = time.perf_counter()
        total = 0
        for i in range(n):
            total += i
        best = min(best, time.perf_counter() - began)
    return best


class WrongAnswer(RuntimeError):
    """A repetition's combined result is not the workload's exact answer."""


@dataclass
class Repetition:
    """What one repetition measured.

    ``wall_s`` runs from dispatch to the combined result (``time.perf_counter``); ``cpu_s`` is
    the CPU the workers spent on their chunks; ``dispatch_s`` the time until the last worker
    began its first chunk; ``busy_s`` each worker's busy time, busiest first (idle workers
    count 0); ``wait_s`` how long the chunks' threads were runnable but waiting for a CPU, out
    of ``work_s`` seconds of chunk work. The launcher adds ``other_cores`` (other processes'
    CPU use around it) and, when the repetition is not to be trusted, ``interfered`` (why);
    in an interleaved schedule also ``round`` (the recorded round of its group it was measured
    in, from 0; a repetition measured again gets its retry round's own index) and ``started_s``
    (when it was dispatched, launcher's ``time.monotonic`` relative to the group's start): what
    pairs a contender's repetition with the baseline's measured at the same moment. ``probe_s``:
    the :func:`speed_probe` run in the trial process right before and right after it (their
    mean): how fast this CPU was then, outside the timed region.
    """

    wall_s: float
    cpu_s: float
    dispatch_s: float
    busy_s: list[float]
    wait_s: float = 0.0
    work_s: float = 0.0
    recorded: bool = True
    other_cores: float | None = None
    interfered: str | None = None
    replaces: int | None = None  # the index of the interfered repetition this one was measured for
    round: int | None = None  # interleaved: the group's recorded round it ran in (from 0)
    started_s: float | None = None  # interleaved: dispatched this long after the group's start
    probe_s: float | None = None  # the speed probe's time, mean of one right before and one right after
    process: int | None = None  # which of the trial's processes measured it (0, 1, ...: repeats_per_process)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def wait_share(self) -> float:
        """The share of the chunks' work time spent waiting for a CPU (0.0 when unknown)."""
        return self.wait_s / self.work_s if self.work_s > 0 else 0.0


def busy_by_worker(parts: Sequence[ChunkResult], workers: int) -> list[float]:
    """Each worker's busy time in one repetition, busiest first; workers that got no chunk count 0."""
    busy: dict[str, float] = {}
    for part in parts:
        busy[part.worker] = busy.get(part.worker, 0.0) + part.wall_s
    values = sorted(busy.values(), reverse=True)
    return values + [0.0] * max(0, workers - len(values))


def dispatch_delay(parts: Sequence[ChunkResult], t0: float) -> float:
    """From dispatch until the last worker began its first chunk."""
    first: dict[str, float] = {}
    for part in parts:
        first[part.worker] = min(first.get(part.worker, part.began_at), part.began_at)
    return max(first.values()) - t0


def run_repetition(
    backend: Backend, workload: Workload, fn: ChunkFunction, n: int, chunks: Sequence[tuple[int, int]], recorded: bool = True
) -> Repetition:
    """One repetition of ``chunks`` on ``backend``, checked against the workload's exact answer.

    Raises :class:`WrongAnswer` when the combined result is wrong (and whatever the backend
    raises when a worker fails).
    """
    t0 = time.perf_counter()
    parts = backend.run(fn, chunks)
    total = workload.combine([part.value for part in parts])
    wall = time.perf_counter() - t0
    problem = workload.check(total, n)
    if problem:
        raise WrongAnswer(problem)
    workers = backend.workers if backend.uses_workers else 1
    return Repetition(
        wall_s=wall,
        cpu_s=sum(part.cpu_s for part in parts),
        dispatch_s=dispatch_delay(parts, t0),
        busy_s=busy_by_worker(parts, workers),
        wait_s=sum(part.wait_s for part in parts),
        work_s=sum(part.wall_s for part in parts),
        recorded=recorded,
    )


@dataclass(frozen=True)
class AutoRepeats:
    """``repeats=auto``: record repetitions until one of three rules says stop.

    After each recorded repetition, in this order:

    1. ``target_rel_ci``: the median's 95% CI half-width is within this fraction of the
       median (needs 6 repetitions, see :mod:`runner.trial.stats`);
    2. ``max_repeats``: this many have been recorded;
    3. ``max_time_s``: another repetition of median length would take the trial's recorded
       repetitions past this many seconds (their own time: in an interleaved schedule the
       other trials' turns do not count).
    """

    target_rel_ci: float
    max_repeats: int
    max_time_s: float | None

    def stop_rule(self, wall_times_s: Sequence[float]) -> str | None:
        summary = summarize(wall_times_s)
        if summary.ci_reaches_confidence and summary.rel_ci_half_width <= self.target_rel_ci:
            return "target_rel_ci"
        return self.limit(wall_times_s)

    def limit(self, wall_times_s: Sequence[float]) -> str | None:
        """``max_repeats`` or ``max_time_s`` when one of them ends the trial, else None."""
        if len(wall_times_s) >= self.max_repeats:
            return "max_repeats"
        if self.max_time_s is not None and sum(wall_times_s) + statistics.median(wall_times_s) > self.max_time_s:
            return "max_time_s"
        return None


def repeat_plan(spec: TrialSpec) -> int | AutoRepeats:
    """A count of repetitions, or the rules that end ``repeats=auto``."""
    if spec.auto_repeats:
        return AutoRepeats(spec.target_rel_ci, spec.max_repeats, spec.max_time_s)
    return int(spec.repeats)


# -- repeats=auto in an interleaved group: precision of the speedups as the stopping rule ----------
#
# A speedup is baseline / contender. Measured in the same rounds, the pair's ratio cancels the
# machine's drift (runner.trial.stats.paired_ratio), so what decides how many rounds a group
# needs is how well each contender's paired speedup is known, not each trial's own median. After
# every round: a contender whose paired speedup's 95% interval is within target_speedup_ci
# (half-width, relative) stops; the baseline (serial, same workload, n and interpreter) goes on
# as long as one of its contenders does, so that every round a contender runs in has its pair;
# a trial without a partner (a serial alone, a contender without a baseline in its group) keeps
# the median rule (target_rel_ci). max_repeats and max_time_s still bound each trial, and a
# sweep's time budget (sweep_budget_s) bounds them all.
#
# A stop on the target is not final. With repeats_per_process the interval reads the group's
# pooled offsets (runner.trial.stats.pool_offsets), which move as the other contenders add
# couples of processes; and a contender checked after every round can stop on an interval that
# came out narrow by luck from a few couples. So after every round the contenders stopped on
# their target are read again with what the group knows now; one no longer within its target
# runs again (and its baseline with it), until its figure holds or a limit ends it. In a quick
# sweep (2026-12-04, max_repeats=150) a process_pool x1 row stopped at 20 pairs within +-5% and
# the report, reading the same pairs with the final pool, gave it +-10.5%.
#
# A target out of reach stops early. When the rounds a contender's interval still needs (about
# pairs x ((width / target)^2 - 1): runner.trial.stats.more_to_target) are more than
# OUT_OF_REACH_MARGIN times the rounds that fit in what is left of its group's share of
# sweep_budget_s, it stops at once with the rule sweep_budget_s (the budget is what it cannot
# get there within, and the key to raise), instead of spending the group's share on rounds that
# cannot bring it to its target: on a drifting minute the groups after it get that time (the
# last group has no one to leave it to, and its rows run on to their limits). The
# margin and the pairs it waits for (OUT_OF_REACH_MIN_PAIRS) are there because a width read
# from a few pairs is itself uncertain. The width is taken with the normal quantile in place of
# the Student's t it was read with (PairedRatio.asymptotic_half_width): at 30 pairs from 6
# couples of processes that t is 2.57, and the rounds still needed came out 1.7 times too many.
# The rounds that fit are counted like the group's recent ones, but the other contenders still
# running take their turns in them only until they reach their own targets: each counts for the
# rounds it still needs, at its turn's share of a round (turn_shares), and the row judged for
# all of its own with its baseline's turn.
# In a quick sweep on the noisy VM (2026-12-04 18:38) the n=5e5 group's 2-worker rows, at
# +-6-9% after their 100 pairs, took the group's whole share and left the next group short. On
# 2026-12-05 16:47, before both readings above, the first group's process_pool x2 was stopped
# at 30 pairs (+-18%, 6 couples), judged with t and as if the rows beside it (which stopped at
# 54-77 pairs) ran to the end: the sweep ended in 33 s with 57 s of its budget unspent and that
# row untrusted.

#: Pairs a paired speedup needs before it may stop a contender: fewer say too little of the spread
#: (with 2 or 3 nearly equal ratios, a t interval can come out narrow by luck).
MIN_PAIRS = 5
#: With repeats_per_process, the couples of processes (baseline's, contender's) a speedup's pairs
#: must come from before it may stop: the pairs of one couple share its lasting offset, and the
#: interval can tell that offset from noise only across couples (runner.trial.stats).
MIN_COUPLES = 3
#: A contender stops as out of reach only when the rounds it still needs are more than this many
#: times the rounds left in its group's share of the budget (see above)...
OUT_OF_REACH_MARGIN = 1.5
#: ...and only after this many pairs, so that its width is not read from a handful.
OUT_OF_REACH_MIN_PAIRS = 30

TARGET_SPEEDUP_RULE = "target_speedup_ci"  # a contender: its paired speedup is known well enough
CONTENDERS_KNOWN_RULE = "contenders_stopped"  # a baseline: every contender paired with it has stopped
SWEEP_BUDGET_RULE = "sweep_budget_s"  # the sweep's time budget for repeats=auto is spent
#: The rules that end repeats=auto short of its target (the others say it got there).
LIMIT_RULES = ("max_repeats", "max_time_s", SWEEP_BUDGET_RULE)


@dataclass
class AutoTrial:
    """One trial of a group as the stopping rule sees it: ``samples`` are its usable recorded
    repetitions as ``(round, wall)``; ``baseline`` the key of the trial it is paired with (None:
    it is a baseline, or has none); ``stop`` the rule that stopped it (None: still running);
    ``processes`` which of the trial's processes measured each round (pairs of one couple of
    processes are one cluster: :func:`runner.trial.stats.log_mean_interval`)."""

    key: int
    rules: AutoRepeats
    samples: list[tuple[int, float]]
    baseline: int | None = None
    target: float = 0.03
    stop: str | None = None
    paired: PairedRatio | None = None
    processes: dict[int, int] = field(default_factory=dict)  # round -> which of the trial's processes ran it
    couples: int = 1  # couples of processes its paired speedup needs before it may stop (MIN_COUPLES when spread)


def _pairs(trial: AutoTrial, base: AutoTrial) -> tuple[list[float], list[float], list[tuple[int | None, int | None]] | None]:
    """A contender's pairs with its baseline (baseline's walls, its walls) and each pair's couple
    of processes (None when neither recorded its processes)."""
    numerators, denominators = pair_by_round(base.samples, trial.samples)
    if not (base.processes or trial.processes):
        return numerators, denominators, None
    mine = {index for index, _ in trial.samples}
    rounds = [index for index, _ in base.samples if index in mine]
    return numerators, denominators, [(base.processes.get(index), trial.processes.get(index)) for index in rounds]


def _spread(numerators: list[float], denominators: list[float], clusters: list[tuple[int | None, int | None]] | None) -> CoupleSpread | None:
    if clusters is None or len(numerators) < 2 or min(numerators + denominators) <= 0:
        return None
    return couple_spread([math.log(a / b) for a, b in zip(numerators, denominators)], clusters)


ROUNDS_PACED = 10  # the recent rounds whose pace says how many more fit in the budget


def rounds_left(round_ends: Sequence[float], deadline: float | None, now: float, last_group: bool) -> float | None:
    """About how many more rounds fit before ``deadline`` (the group's share of ``sweep_budget_s``,
    on the clock of ``now`` and ``round_ends``), at the pace of the last ROUNDS_PACED rounds: a
    change of pace (a process's start and warm-up every ``repeats_per_process``, a slower phase
    of the machine) counts once it is recent. None without a deadline, before two rounds have
    ended, and in the last group, which has nobody to leave its time to (its rows run on to their
    limits); 0 once the deadline has passed."""
    ends = list(round_ends[-ROUNDS_PACED - 1 :])
    if deadline is None or len(ends) < 2 or last_group:
        return None
    pace = (ends[-1] - ends[0]) / (len(ends) - 1)
    return max(0.0, deadline - now) / pace if pace > 0 else None


def out_of_reach(paired: PairedRatio | None, target: float, rounds_left: float | None,
                 cost: float = 1.0, others: Sequence[tuple[int, float]] = ()) -> bool:
    """Whether ``paired`` needs more rounds to reach ``target`` than can fit in ``rounds_left``
    (with OUT_OF_REACH_MARGIN; never before OUT_OF_REACH_MIN_PAIRS pairs, nor without a budget).

    ``rounds_left`` counts rounds like the group's recent ones. ``cost``: the share of such a
    round that this contender's turn and its baseline's take; ``others``: for each other
    contender still running, the rounds it still needs itself and the share its turn takes. An
    other contender takes its turns only until it reaches its own target, so a row that needs
    many rounds is not judged as if the whole group ran beside it to the end (with every row
    running as long as this one, the rule is the plain one: more rounds than fit)."""
    if paired is None or rounds_left is None or paired.pairs < OUT_OF_REACH_MIN_PAIRS:
        return False
    more = rounds_to_target(paired, target)
    if more is None:
        return False
    needed = more * cost + sum(min(theirs, more) * share for theirs, share in others)
    return needed > OUT_OF_REACH_MARGIN * rounds_left


def rounds_to_target(paired: PairedRatio, target: float) -> int | None:
    """About how many more rounds bring ``paired`` to ``target`` (None: it is there), its width
    read at the normal quantile (:meth:`~runner.trial.stats.PairedRatio.asymptotic_half_width`)."""
    return more_to_target(paired.asymptotic_half_width(), paired.pairs, target)


def turn_shares(trials: Sequence[AutoTrial]) -> dict[int, float]:
    """Each trial's turn as a share of the group's recent rounds (the last ROUNDS_PACED rounds
    any trial ran in): its median wall over those rounds' total wall per round. The rounds' own
    overhead (dispatch, probes, a process's start) is taken to grow with the work."""
    ends = [index for trial in trials for index, _ in trial.samples]
    if not ends:
        return {}
    recent = set(range(max(ends) - ROUNDS_PACED + 1, max(ends) + 1))
    walls = {trial.key: [wall for index, wall in trial.samples if index in recent] for trial in trials}
    rounds = {index for trial in trials for index, _ in trial.samples if index in recent}
    per_round = sum(sum(values) for values in walls.values()) / max(1, len(rounds))
    if per_round <= 0:
        return {}
    return {key: statistics.median(values) / per_round for key, values in walls.items() if values}


def other_turns(trial: AutoTrial, judged: Sequence[AutoTrial], needs: dict[int, int], shares: dict[int, float]
                ) -> list[tuple[int, float]]:
    """What runs beside ``trial`` in the rounds it still needs: each other contender of
    ``judged`` for the rounds it needs itself, at its turn's share, and the baseline of another
    interpreter's contenders for as long as the neediest of them runs (``trial``'s own baseline
    is its cost, not another's turn)."""
    others = [(needs[other.key], shares.get(other.key, 0.0)) for other in judged if other is not trial]
    for base in {other.baseline for other in judged if other.baseline not in (None, trial.baseline)}:
        others.append((max(needs[other.key] for other in judged if other.baseline == base), shares.get(base, 0.0)))
    return others


def decide_stops(trials: Sequence[AutoTrial], budget_spent: bool = False, rounds_left: float | None = None) -> None:
    """Set ``stop`` on each running trial of a group that needs no more rounds (see above), and
    ``paired`` on each contender; clear it on a contender stopped on its target that no longer
    is within it, and on its baseline (see above). ``rounds_left``: about how many more rounds
    fit in the group's share of ``sweep_budget_s`` (None: no budget). A pure function of the
    samples (tested on synthetic drift)."""
    by_key = {trial.key: trial for trial in trials}
    partners: dict[int, list[AutoTrial]] = {}
    for trial in trials:
        if trial.baseline is not None and trial.baseline in by_key:
            partners.setdefault(trial.baseline, []).append(trial)
    pairs = {trial.key: _pairs(trial, by_key[trial.baseline]) for trial in trials
             if trial.baseline is not None and trial.baseline in by_key and trial.samples}
    # every contender's couples, the stopped ones' too: the group's offsets, pooled (runner.trial.stats)
    pool = pool_offsets([_spread(*paired) for paired in pairs.values()])
    judged = []  # contenders still running after their target and limits: is the target in reach?
    for trial in trials:  # contenders first: a baseline's fate depends on theirs
        if trial.key not in pairs or trial.stop not in (None, TARGET_SPEEDUP_RULE):
            continue  # a stop on the target is read again (above); a limit is final
        walls = [wall for _, wall in trial.samples]
        numerators, denominators, clusters = pairs[trial.key]
        trial.paired = paired_ratio(numerators, denominators, clusters=clusters, pool=pool)
        if (trial.paired is not None and trial.paired.pairs >= MIN_PAIRS and trial.paired.clusters >= trial.couples
                and trial.paired.rel_half_width <= trial.target):
            trial.stop = TARGET_SPEEDUP_RULE
        else:
            spent = budget_spent and len(walls) >= MIN_PAIRS
            trial.stop = trial.rules.limit(walls) or (SWEEP_BUDGET_RULE if spent else None)
            if trial.stop is None:
                judged.append(trial)
    if rounds_left is not None and judged:
        shares = turn_shares(trials)
        needs = {trial.key: (rounds_to_target(trial.paired, trial.target) or 0) if trial.paired is not None else 0
                 for trial in judged}
        reach = {}
        for trial in judged:
            assert trial.baseline is not None
            cost = shares.get(trial.key, 0.0) + shares.get(trial.baseline, 0.0)
            others = other_turns(trial, judged, needs, shares)
            reach[trial.key] = not out_of_reach(trial.paired, trial.target, rounds_left, cost or 1.0, others)
        for trial in judged:  # decided together: one row's stop does not change another's reading this round
            if not reach[trial.key]:
                trial.stop = SWEEP_BUDGET_RULE
    for trial in trials:
        if trial.stop not in (None, CONTENDERS_KNOWN_RULE) or (trial.baseline is not None and trial.baseline in by_key):
            continue
        trial.stop = None  # a baseline goes on while one of its contenders does (again)
        walls = [wall for _, wall in trial.samples]
        if not walls:
            continue
        contenders = partners.get(trial.key, [])
        if contenders:
            if all(contender.stop is not None for contender in contenders):
                trial.stop = CONTENDERS_KNOWN_RULE
            elif trial.rules.limit(walls) is not None:
                trial.stop = trial.rules.limit(walls)
        else:
            trial.stop = trial.rules.stop_rule(walls)
            if trial.stop is None and budget_spent and len(walls) >= MIN_PAIRS:
                trial.stop = SWEEP_BUDGET_RULE
    for trial in trials:  # a baseline that reached its own limit leaves its contenders without pairs
        baseline = by_key.get(trial.baseline) if trial.baseline is not None else None
        if trial.stop is None and baseline is not None and baseline.stop is not None:
            trial.stop = baseline.stop
