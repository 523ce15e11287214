"""When each repetition runs, and what happens to the ones other processes disturbed.

A speedup is the ratio of two measurements; if the machine changes between them (another
program starts, the CPU warms up, caches go cold) the ratio is biased. So, by default
(``schedule=interleaved``), the trials that share a baseline (same workload and n) are
measured **together, in rounds**: each trial's process starts and its backend gets ready
(a pool is created once), then every round runs one repetition of each trial, in an order
shuffled with a seed that is logged (``parsweep.schedule_seed``); warm-up repetitions come in
rounds of their own first. Between its turns a trial's process waits, idle, with its pool up.
Whatever the machine does during the sweep then lands on the baseline and its contenders
alike. This is google/benchmark's random interleaving applied to a sweep. It costs memory
(every trial of a (workload, n) has its processes up at once: at most :data:`MAX_LIVE`
trials, larger groups are measured in batches that each take the serial baselines along)
and nothing in time. ``schedule=sequential`` runs each trial whole, one after another
(the classic order, and what a remote launcher's jobs do).

Interference is measured, not guessed: around the repetitions the launcher reads how much
CPU the machine's other processes used on the usable CPUs (a *window* of at least
:data:`~runner.host.proc.MIN_WINDOW_S`: one round, or several short ones), and each chunk
reports how long its thread waited for a CPU. A repetition is **marked** when other processes
used ``interference.threshold`` of the usable CPUs or more during its window, or when its
threads spent :data:`WAIT_SHARE` of their time waiting for a CPU (not counted for a trial
whose workers take every usable CPU: there its own helper threads make it wait). Marked repetitions are **measured
again** once the machine is quiet: up to ``interference.retries`` rounds, all within
``interference.budget_s`` seconds per launch (waiting for quiet included). A clean
repetition replaces a marked one; the figures use the clean ones, the run records how many
were discarded and why, and a marked repetition that could not be replaced stays, flagged
(trust ``interference``).

A trial's process runs ``repeats_per_process`` recorded repetitions, then hands over to a fresh
one, started and warmed up as the first was, between rounds (cluster backends keep theirs):
a process keeps a speed of its own for its whole life, which pairing cannot cancel and
several processes average out (:mod:`runner.trial.stats`). Each repetition records its process.

Each trial keeps its own ``timeout_s``: its start plus its own repetitions, not the others'
turns. Trials of one host queue on the host lock (:mod:`runner.host.lock`) one group at a
time. Ctrl-C, SIGTERM, a crash or a timeout kill every trial process of the group whole.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.execute.interpreters import Interpreter
from runner.execute.processes import TrialCrashed, TrialProcess, close_fork_servers, fork_server, fork_server_pids
from runner.execute.signals import check_interrupted
from runner.host.facts import usable_cpu_count
from runner.host.lock import LockWait, host_lock
from runner.host.proc import MIN_WINDOW_S, CpuWindow, other_cores_now, tick_error_cores, usable_cpu_ids
from runner.trial import backends
from runner.trial.bench import FinishInfo, StartInfo, assemble
from runner.trial.measure import (
    LIMIT_RULES,
    MIN_COUPLES,
    TARGET_SPEEDUP_RULE,
    AutoRepeats,
    AutoTrial,
    Repetition,
    decide_stops,
    repeat_plan,
    rounds_left,
)
from runner.trial.results import TrialResult
from runner.trial.spec import Policy, TrialSpec

MAX_LIVE = 32  # trials with processes up at once; a larger group is measured in batches
WAIT_SHARE = 0.10  # chunk threads waiting this share of their time for a CPU mark the repetition...
MIN_WAIT_S = 0.001  # ...and at least this long (scheduler latency on tiny chunks is not interference)
QUIET_PROBE_S = 0.5  # a quiet machine is one whose other processes use under the threshold for this long
FINISH_TIMEOUT_S = 60.0


@dataclass
class Job:
    """One trial to measure: its key in the launch (the job number), its spec and interpreter."""

    key: int
    spec: TrialSpec
    interpreter: Interpreter
    name: str = ""
    cwd: str | None = None  # where the trial runs (None: the launcher's current directory)


class Observer(Protocol):
    """Who is told how the measurement goes (the sweep's display)."""

    def measuring(self, jobs: Sequence[Job], rounds: int, interleaved: bool) -> None: ...

    def repetition(self, job: Job, done: int, total: int, wall_s: float) -> None: ...

    def note(self, text: str) -> None: ...


class Silent:
    """An observer that shows nothing."""

    def measuring(self, jobs: Sequence[Job], rounds: int, interleaved: bool) -> None:
        pass

    def repetition(self, job: Job, done: int, total: int, wall_s: float) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class Budget:
    """Seconds a launch may still spend on interference clean-up (waiting for quiet included)."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def spend(self, seconds: float) -> None:
        self.left = max(0.0, self.left - seconds)


@dataclass
class Live:
    """A trial being measured, launcher side."""

    job: Job
    process: TrialProcess | None = None
    start: StartInfo | None = None
    finish: FinishInfo | None = None
    reps: list[Repetition] = field(default_factory=list)  # recorded, in order, marked ones included
    discarded: list[Repetition] = field(default_factory=list)
    warmups_done: int = 0
    error: str | None = None
    stop_rule: str | None = None
    paired_rel_ci: float | None = None  # repeats=auto, a contender: its paired speedup's last half-width
    contenders_short: int = 0  # repeats=auto, a baseline a limit stopped: its contenders not known within their target
    active_s: float = 0.0  # its own start and repetitions, what timeout_s bounds
    started_at: float = 0.0  # time.time()
    began: float = 0.0  # perf_counter
    done: bool = False  # no more recorded repetitions wanted
    result: TrialResult | None = None
    busy_at_start: float | None = None
    window_wall_s: float = 0.0
    window_other_s: float = 0.0
    lock_wait: LockWait | None = None
    # repeats_per_process: which of the trial's processes is running (0, 1, ...), the recorded
    # repetitions it has run, and every process's backend start-up time
    process_index: int = 0
    in_process: int = 0
    startups_s: list[float] = field(default_factory=list)

    @property
    def spec(self) -> TrialSpec:
        return self.job.spec

    @property
    def failed(self) -> bool:
        return self.error is not None

    def deadline(self) -> float | None:
        if self.spec.timeout_s is None:
            return None
        return time.monotonic() + max(0.0, self.spec.timeout_s - self.active_s)


class InFlight:
    """The trials being measured, or measured (``result`` set) but not yet recorded: what Ctrl-C
    must record (a measured trial keeps its numbers, one being measured becomes a KILLED run that
    says what it was). The launch owns one (``runner.app.launch.Launch.in_flight``) and hands it to
    its schedulers; a scheduler given none keeps its own."""

    def __init__(self) -> None:
        self._lives: list[Live] = []

    def add(self, lives: Sequence[Live]) -> None:
        self._lives.extend(lives)

    def handed_over(self, job: Job) -> None:
        """``job``'s trial has been recorded: it is no longer in flight."""
        self._lives[:] = [live for live in self._lives if live.job is not job]

    def __iter__(self) -> Iterator[Live]:
        return iter(list(self._lives))  # a copy: recording a trial hands it over while iterating


class Windows:
    """Other processes' CPU use around repetitions, in windows of at least MIN_WINDOW_S.

    A window opens with a round and closes at the end of the first round that makes it long
    enough; every recorded repetition measured inside it gets its figure. A last window that
    stays short (the phase ended) gets the figure of itself and the window before it, or none
    when there was none: over less than ``MIN_WINDOW_S`` the kernel's 10 ms ticks say little.
    """

    def __init__(self, cpus: list[int] | None, usable: int) -> None:
        self.cpus, self.usable = cpus, usable
        self.window: CpuWindow | None = None
        self.opened = 0.0
        self.reps: list[tuple[Live, Repetition]] = []
        self.previous: tuple[float, float, float] | None = None  # other CPU seconds, wall seconds, extra error ticks

    def _new(self) -> CpuWindow:
        return CpuWindow(self.cpus, trees=fork_server_pids(), alone=[os.getpid()])

    def open(self) -> None:
        if self.window is None:
            self.window = self._new()
            self.window.begin()
            self.opened = time.perf_counter()

    def add(self, live: Live, rep: Repetition) -> None:
        self.reps.append((live, rep))

    def close(self, force: bool = False) -> list[tuple[Live, Repetition, float | None, float]]:
        """Close the window if it is long enough (or ``force``); what it covered, with its figure
        and how far off that figure may be (:func:`~runner.host.proc.tick_error_cores`)."""
        if self.window is None:
            return []
        short = time.perf_counter() - self.opened < MIN_WINDOW_S
        if short and not force:
            return []
        window, self.window = self.window, None
        other = window.end()
        wall, extra = window.wall_s, window.extra_error_ticks
        if short:
            if self.previous and other is not None:
                other = (self.previous[0] + window.other_s) / (self.previous[1] + window.wall_s)
                wall += self.previous[1]
                extra += self.previous[2]
            else:
                other = None
        elif other is not None:
            self.previous = (window.other_s, window.wall_s, window.extra_error_ticks)
        covered, self.reps = self.reps, []
        error = tick_error_cores(wall, len(self.cpus) if self.cpus else self.usable, extra)
        return [(live, rep, other, error) for live, rep in covered]

    def new_phase(self) -> None:
        """The machine may have changed (we waited for it to get quiet): forget the last window."""
        self.previous = None

    def quiet_probe(self, seconds: float) -> float | None:
        """Other processes' cores over the next ``seconds`` (every trial idle)."""
        return other_cores_now(self._new(), seconds)


class Scheduler:
    """Measures jobs under a :class:`Policy`; see the module docstring."""

    def __init__(
        self, policy: Policy, observer: Observer | None = None, budget: Budget | None = None, in_flight: InFlight | None = None
    ) -> None:
        self.policy = policy
        self.in_flight = in_flight if in_flight is not None else InFlight()
        self.observer = observer or Silent()
        self.budget = budget if budget is not None else Budget(policy.budget_s)
        self.cpus = usable_cpu_ids()
        self.usable = usable_cpu_count()
        self.threshold_cores = policy.threshold * self.usable
        self.seed = policy.seed if policy.seed is not None else random.SystemRandom().randrange(2**31)
        self.rng = random.Random(self.seed)
        self.windows = Windows(self.cpus, self.usable)
        self._groups_measured = 0
        # The group being measured: when it began (time.monotonic) and its recorded rounds so far,
        # what each repetition's round and start are counted from (interleaved only).
        self._group_began = 0.0
        self._rounds = 0
        self._round_index: int | None = None
        # repeats=auto: the sweep's time budget (policy.sweep_budget_s), shared out among the groups left
        self._began: float | None = None
        self._groups_left = 0
        self._group_deadline: float | None = None
        self._round_ends: list[float] = []  # when each of the group's recorded rounds ended (time.monotonic)

    @property
    def interleaved(self) -> bool:
        return self.policy.schedule == "interleaved"

    # -- the plan ------------------------------------------------------------------------------

    def trial_cpus(self, spec: TrialSpec) -> list[int] | None:
        """The CPUs ``spec``'s trial is pinned to (``affinity=true``), None to leave it as it is.

        Trials that are compared run on the same CPUs: serial and 1-worker trials on one, the
        last usable CPU (CPU 0 takes most of the machine's interrupts), so that a contender and
        its baseline see the same virtual CPU's speed; a trial of k workers on the last k usable
        CPUs, the same set for every trial of that size. Cluster backends are left alone: their
        workers are not the trial's processes.
        """
        from runner.trial import backends

        if not self.policy.affinity or not self.cpus:
            return None
        backend = backends.get(spec.backend)
        if not backend.workers_in_process_tree:
            return None
        count = min(spec.workers, len(self.cpus)) if backend.uses_workers else 1
        return self.cpus[-count:]

    def groups(self, jobs: Sequence[Job]) -> list[list[Job]]:
        """Jobs measured together: one group per (workload, n) when interleaved, else one per job."""
        if not self.interleaved:
            return [[job] for job in jobs]
        grouped: dict[tuple[Any, ...], list[Job]] = {}
        for job in jobs:
            grouped.setdefault((job.spec.workload_identity, job.spec.n), []).append(job)
        return list(grouped.values())

    def measure(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, TrialResult]]:
        """Measure every job; yields each job with its result, a group at a time."""
        groups = self.groups(jobs)
        self._groups_left = len(groups)
        for group in groups:
            yield from self.measure_group(group)
            self._groups_left = max(0, self._groups_left - 1)

    # -- one group -----------------------------------------------------------------------------

    def measure_group(self, group: list[Job]) -> Iterator[tuple[Job, TrialResult]]:
        """Measure ``group`` together (see the module docstring); yields each job with its result."""
        lives = [Live(job) for job in group]
        self._groups_measured += 1
        group_id = f"{self.seed:x}-{self._groups_measured}" if self.interleaved else None
        self.in_flight.add(lives)
        try:
            label = group[0].name if len(group) == 1 else f"{len(group)} trials of {group[0].name}"
            with host_lock(label, check=check_interrupted, say=self.observer.note) as waited:
                self._group_began, self._rounds, self._round_ends = time.monotonic(), 0, []
                self._group_deadline = self._share_of_budget()
                baselines = [live for live in lives if live.spec.backend == "serial"]
                others = [live for live in lives if live.spec.backend != "serial"]
                size = max(1, MAX_LIVE - len(baselines))
                batches = [baselines + others[i : i + size] for i in range(0, len(others), size)] or [baselines]
                self.observer.measuring(group, max(live.spec.repeats_planned for live in lives), self.interleaved)
                for number, batch in enumerate(batches):
                    last = number == len(batches) - 1
                    self._run_batch(batch, keep=[] if last else baselines)
            for live in lives:
                live.lock_wait = waited
                live.result = self._result(live)
                live.result.group = group_id
        except BaseException:
            for live in lives:
                self._kill(live)
            raise
        for live in lives:
            assert live.result is not None
            yield live.job, live.result

    def _run_batch(self, batch: list[Live], keep: list[Live]) -> None:
        """Start, warm up, measure in rounds, clean up and finish ``batch`` (``keep``: left running)."""
        fresh = [live for live in batch if live.process is None and not live.failed]
        window = self._start(fresh)
        for _ in range(max((live.spec.warmup for live in fresh), default=0)):
            self._round([live for live in fresh if live.warmups_done < live.spec.warmup], recorded=False)
        # "Busy at start": other processes' use while the trials started and warmed up (long enough to tell).
        busy = window.end()
        if busy is not None and window.wall_s >= MIN_WINDOW_S:
            # what the kernel's ticks cannot explain (many processes of ours start in this window)
            error = tick_error_cores(window.wall_s, len(self.windows.cpus) if self.windows.cpus else self.usable, window.extra_error_ticks)
            for live in fresh:
                live.busy_at_start = max(0.0, busy - error)
            self.windows.previous = (window.other_s, window.wall_s, window.extra_error_ticks)  # what a short first round is judged with
        targets = {id(live): len(live.reps) + live.spec.repeats_planned for live in batch}
        for live in batch:
            live.done = False
            live.stop_rule = None
        while True:
            wanted = [live for live in batch if not live.done and not live.failed and len(live.reps) < targets[id(live)]]
            if not wanted:
                break
            self._rotate(wanted)
            self._round(wanted, recorded=True)
            self._stop_auto(batch)
        for live in batch:  # ran every planned repetition (some marked as disturbed) before a rule said stop
            if live.spec.auto_repeats and live.stop_rule is None and not live.failed and len(live.reps) >= targets[id(live)]:
                live.stop_rule = "max_repeats"
        self._left_short(batch)
        self._mark_all(self.windows.close(force=True))
        self._clean_up(batch)
        for live in batch:
            if live not in keep:
                self._finish(live)

    def _start(self, lives: list[Live]) -> CpuWindow:
        """Start each trial's process and backend, one at a time; returns the open window that
        watches the machine from the start (the warm-up closes it)."""
        for live in lives:  # the fork servers first: their own start is not the machine being busy
            with contextlib.suppress(Exception):
                fork_server(live.job.interpreter.executable, live.job.interpreter.gil)
        window = self.windows._new()
        window.begin()
        for live in lives:
            check_interrupted()
            live.started_at, live.began = time.time(), time.perf_counter()
            self._start_process(live)
        return window

    def _start_process(self, live: Live) -> None:
        """Fork ``live``'s trial process and start its backend (a failure ends the trial)."""
        began = time.monotonic()
        try:
            live.process = TrialProcess(live.job.interpreter.executable, live.job.interpreter.gil)
            live.process.send(("spec", live.spec, live.job.cwd or os.getcwd(), self.trial_cpus(live.spec)))
            answer = live.process.receive(live.deadline())
        except TrialCrashed as exc:
            live.error = str(exc)
            self._kill(live)
            return
        finally:
            live.active_s += time.monotonic() - began
        if answer is None:
            self._timed_out(live)
        elif answer[0] == "error":
            live.error = str(answer[1])
            self._kill(live)
        else:
            live.start = live.start or answer[1]  # the first process's facts; every process's start-up time
            live.startups_s.append(answer[1].startup_s)

    def _rotate(self, lives: list[Live]) -> None:
        """Hand each of ``lives`` whose process has run ``repeats_per_process`` recorded repetitions
        to a fresh process, started and warmed up as its first was (see runner.trial.stats: what
        stays the same for a process's life averages out over several)."""
        every = self.policy.repeats_per_process
        if every is None:
            return
        due = [live for live in lives if live.in_process >= every and backends.get(live.spec.backend).fresh_processes]
        if not due:
            return
        self._mark_all(self.windows.close(force=True))  # a process's start is no repetition's window
        started = []
        for live in due:
            check_interrupted()
            self._finish(live)
            if live.failed:
                continue
            live.process_index, live.in_process = live.process_index + 1, 0
            self._start_process(live)
            if not live.failed:
                started.append(live)
        warmed = {id(live): live.warmups_done + live.spec.warmup for live in started}
        for _ in range(max((live.spec.warmup for live in started), default=0)):
            self._round([live for live in started if live.warmups_done < warmed[id(live)]], recorded=False)

    def _round(self, lives: list[Live], recorded: bool) -> None:
        """One repetition of each of ``lives``, in shuffled order when interleaved."""
        order = [live for live in lives if not live.failed]
        if self.interleaved and len(order) > 1:
            self.rng.shuffle(order)
        if recorded:
            self.windows.open()
            # warm-up rounds are not counted; a retry round gets an index of its own
            self._round_index, self._rounds = self._rounds, self._rounds + 1
        try:
            for live in order:
                rep = self._repetition(live, recorded)
                if rep is not None and recorded:
                    self.windows.add(live, rep)
        finally:
            self._round_index = None
        if recorded:
            self._mark_all(self.windows.close())
            self._round_ends.append(time.monotonic())

    def _repetition(self, live: Live, recorded: bool) -> Repetition | None:
        assert live.process is not None
        began = time.monotonic()
        try:
            live.process.send(("rep", recorded))
            answer = live.process.receive(live.deadline())
        except TrialCrashed as exc:
            live.error = str(exc)
            self._kill(live)
            return None
        finally:
            live.active_s += time.monotonic() - began
        if answer is None:
            self._timed_out(live)
            return None
        if answer[0] == "error":
            live.error = str(answer[1])
            self._kill(live)
            return None
        rep: Repetition = answer[1]
        if recorded and self.interleaved and self._round_index is not None:
            rep.round, rep.started_s = self._round_index, began - self._group_began
        if not recorded:
            live.warmups_done += 1
        else:
            rep.process = live.process_index
            live.in_process += 1
            live.reps.append(rep)
        done = live.warmups_done + len(live.reps) + len(live.discarded)
        total = max(done, self._planned_warmups(live.spec) + live.spec.repeats_planned + len(live.discarded))
        self.observer.repetition(live.job, done, total, rep.wall_s)
        return rep

    def _planned_warmups(self, spec: TrialSpec) -> int:
        """Warm-up repetitions a trial runs if it runs every planned repetition: each process's."""
        return spec.warmup * self.policy.processes(spec.repeats_planned, backends.get(spec.backend).fresh_processes)

    # -- repeats=auto ----------------------------------------------------------------------------

    def _share_of_budget(self) -> float | None:
        """When the group starting now must stop its repeats=auto rounds: an equal share of what
        is left of ``sweep_budget_s`` for each group still to measure (None: no budget)."""
        budget = self.policy.sweep_budget_s
        now = time.monotonic()
        if self._began is None:
            self._began = now
        if budget is None:
            return None
        left = max(0.0, budget - (now - self._began))
        return now + left / max(1, self._groups_left)

    def _stop_auto(self, batch: list[Live]) -> None:
        """After a round: which repeats=auto trials need no more (:func:`~runner.trial.measure.decide_stops`).

        Interleaved, a contender is paired with the serial trial of its group that ran under the
        same interpreter; its repetitions and the baseline's meet in the rounds both ran in.
        """
        autos = [live for live in batch if live.spec.auto_repeats and not live.failed]
        if not autos:
            return
        baselines = {(live.spec.python, live.spec.gil): live for live in autos if live.spec.backend == "serial"}
        spread = self.policy.repeats_per_process is not None
        trials = []
        for live in autos:
            plan = repeat_plan(live.spec)
            assert isinstance(plan, AutoRepeats)
            base = baselines.get((live.spec.python, live.spec.gil)) if self.interleaved and live.spec.backend != "serial" else None
            usable = [(rep.round if rep.round is not None else i, rep) for i, rep in enumerate(live.reps) if not rep.interfered]
            samples = [(index, rep.wall_s) for index, rep in usable]
            processes = {index: rep.process for index, rep in usable if rep.process is not None}
            couples = MIN_COUPLES if spread and base is not None and all(
                backends.get(side.spec.backend).fresh_processes for side in (live, base)) else 1
            trials.append(AutoTrial(id(live), plan, samples, id(base) if base is not None else None, live.spec.target_speedup_ci,
                                    stop=live.stop_rule, processes=processes, couples=couples))
        spent = self._group_deadline is not None and time.monotonic() >= self._group_deadline
        decide_stops(trials, budget_spent=spent, rounds_left=self._rounds_left())
        for live, trial in zip(autos, trials):
            if trial.paired is not None:
                live.paired_rel_ci = trial.paired.rel_half_width
            if trial.stop != live.stop_rule:  # stopped now, or (a stop on the target read again) running again
                live.stop_rule, live.done = trial.stop, trial.stop is not None

    def _rounds_left(self) -> float | None:
        """The rounds that fit in what is left of the group's share of ``sweep_budget_s``
        (:func:`runner.trial.measure.rounds_left`)."""
        return rounds_left(self._round_ends, self._group_deadline, time.monotonic(), last_group=self._groups_left <= 1)

    def _left_short(self, batch: list[Live]) -> None:
        """repeats=auto, interleaved: each baseline a limit stopped counts the contenders paired with
        it that it left short of their target, so that its warning names the target that was missed
        (theirs), not its own median's."""
        if not self.interleaved:
            return
        for base in batch:
            if base.spec.backend != "serial" or not base.spec.auto_repeats or base.stop_rule not in LIMIT_RULES:
                continue
            base.contenders_short += sum(
                1 for live in batch
                if live.spec.backend != "serial" and live.spec.auto_repeats and not live.failed
                and (live.spec.python, live.spec.gil) == (base.spec.python, base.spec.gil) and live.stop_rule != TARGET_SPEEDUP_RULE
            )

    def _mark_all(self, covered: list[tuple[Live, Repetition, float | None, float]]) -> None:
        """Give each repetition its window's figure, and mark the ones others disturbed (beyond
        what the kernel's ticks could make up)."""
        for live, rep, other, error in covered:
            rep.other_cores = other
            if other is not None:
                live.window_other_s += other * rep.wall_s
                live.window_wall_s += rep.wall_s
            if other is not None and other - error >= self.threshold_cores:
                rep.interfered = f"other processes used {other:.2f} cores (of {self.usable}) during it"
            elif rep.wait_share >= WAIT_SHARE and rep.wait_s >= MIN_WAIT_S and self._leaves_a_cpu_free(live.spec):
                rep.interfered = f"its threads waited {rep.wait_share:.0%} of their time for a CPU"

    def _leaves_a_cpu_free(self, spec: TrialSpec) -> bool:
        """Whether the trial's workers leave a usable CPU idle: only then is a wait for a CPU
        someone else's doing (with every CPU taken, the backend's own threads, a pool's queue
        feeder say, make its workers wait too)."""
        return spec.backend == "serial" or spec.workers < self.usable

    # -- interference clean-up -------------------------------------------------------------------

    def _clean_up(self, batch: list[Live]) -> None:
        """Measure marked repetitions again once the machine is quiet (retries, within the budget)."""
        for _ in range(self.policy.retries):
            needing = [live for live in batch if not live.failed and any(rep.interfered for rep in live.reps)]
            if not needing or self.budget.left <= 0:
                return
            began = time.monotonic()
            count = sum(sum(1 for rep in live.reps if rep.interfered) for live in needing)
            quiet = self._wait_for_quiet(count)
            if quiet:
                self._measure_again(needing)
            self.budget.spend(time.monotonic() - began)
            if not quiet:
                return

    def _wait_for_quiet(self, count: int) -> bool:
        """Sample the machine until other processes use less than the threshold, within the budget."""
        deadline = time.monotonic() + self.budget.left
        said = False
        while True:
            check_interrupted()
            other = self.windows.quiet_probe(QUIET_PROBE_S)
            error = tick_error_cores(QUIET_PROBE_S, len(self.cpus) if self.cpus else self.usable)
            if other is None or other - error < self.threshold_cores:
                self.windows.new_phase()
                return True
            if not said:
                self.observer.note(
                    f"parsweep: other processes use {other:.2f} cores (of {self.usable}); waiting up to "
                    f"{max(0.0, deadline - time.monotonic()):.0f} s for a quiet machine to measure {count} "
                    f"repetition{'s' if count != 1 else ''} again (interference.budget_s)"
                )
                said = True
            if time.monotonic() + QUIET_PROBE_S > deadline:
                return False

    def _measure_again(self, lives: list[Live]) -> None:
        """One more repetition per marked one, in interleaved rounds; a clean one takes the place of
        the oldest marked one, which is discarded (so is a new one that was disturbed too)."""
        wanted = {id(live): sum(1 for rep in live.reps if rep.interfered) for live in lives}
        fresh: dict[int, list[Repetition]] = {id(live): [] for live in lives}
        while True:
            due = [live for live in lives if wanted[id(live)] > 0 and not live.failed]
            if not due:
                break
            counts = {id(live): len(live.reps) for live in due}
            self._round(due, recorded=True)
            for live in due:
                wanted[id(live)] -= 1
                if len(live.reps) > counts[id(live)]:
                    fresh[id(live)].append(live.reps.pop())
        self._mark_all(self.windows.close(force=True))
        for live in lives:
            for rep in fresh[id(live)]:
                if rep.interfered:
                    live.discarded.append(rep)
                    continue
                index = next((i for i, old in enumerate(live.reps) if old.interfered), None)
                if index is None:
                    live.discarded.append(rep)
                    continue
                live.discarded.append(live.reps[index])
                rep.replaces = index
                live.reps[index] = rep

    # -- the end of a trial -------------------------------------------------------------------------

    def _finish(self, live: Live) -> None:
        if live.process is None:
            return
        if not live.failed:
            try:
                live.process.send(("finish",))
                answer = live.process.receive(time.monotonic() + FINISH_TIMEOUT_S)
                if answer is not None and answer[0] == "finished":
                    live.finish = answer[1]
                elif answer is not None and answer[0] == "error":
                    live.error = str(answer[1])
            except TrialCrashed as exc:
                live.error = str(exc)
        live.process.stop()

    def _kill(self, live: Live) -> None:
        if live.process is not None:
            live.process.kill()

    def _timed_out(self, live: Live) -> None:
        live.error = f"timed out after {live.spec.timeout_s:g} s (timeout_s): every process and thread of the trial was stopped"
        self._kill(live)

    def _result(self, live: Live) -> TrialResult:
        other = live.window_other_s / live.window_wall_s if live.window_wall_s > 0 else None
        if live.start is not None and len(live.startups_s) > 1:  # the backend started once per process
            live.start = dataclasses.replace(live.start, startup_s=statistics.median(live.startups_s))
        result = assemble(
            live.spec, live.start, live.reps, live.finish, usable=self.usable, threshold_cores=self.threshold_cores,
            error=live.error, repeats_stop=live.stop_rule, discarded=live.discarded, other_cpu_cores=other,
            busy_cores_at_start=live.busy_at_start, paired_rel_ci=live.paired_rel_ci, contenders_short=live.contenders_short,
        )
        result.started_at = live.started_at or None
        result.python = result.python or dict(live.job.interpreter.facts)
        result.schedule = self.policy.schedule
        result.schedule_seed = self.seed if self.interleaved else None
        result.duration_s = time.perf_counter() - live.began if live.began else 0.0
        if live.lock_wait is not None and (live.lock_wait.holder or live.lock_wait.waited_s >= 1.0):
            result.warnings.append(live.lock_wait.message())
        return result


def run_isolated(spec: TrialSpec, policy: Policy | None = None, observer: Observer | None = None) -> TrialResult:
    """Measure one trial in a trial process of its own (``schedule`` does not matter for one).

    Its interpreter is resolved first (:class:`~runner.trial.values.ConfigError` when it cannot
    be used); failures of the trial itself come back in the result.
    """
    from runner.execute.interpreters import resolve, workload_imports
    from runner.ui.terminal import trial_name

    job = Job(0, spec, resolve(spec.python, spec.gil, workload_imports(spec)), trial_name(spec))
    for _, result in Scheduler(policy or Policy(schedule="sequential"), observer).measure([job]):
        return result
    raise AssertionError("a job was measured without a result")


__all__ = ["Job", "Scheduler", "Budget", "Observer", "Silent", "InFlight", "run_isolated", "close_fork_servers"]
