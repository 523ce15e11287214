"""What one trial produced, and the figures the spec names, computed from it."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.trial.measure import Repetition
from runner.trial.stats import summarize


@dataclass
class TrialResult:
    """Raw per-repetition samples of one trial plus its outcome.

    ``startup_s`` follows the spec: for pools, the one-off pool start-up outside the timed
    repetitions; for backends that create workers in every repetition, the median time from
    dispatch until the last worker began its first chunk (a part of ``wall_time_s``).

    ``busy_s`` holds, per recorded repetition, every worker's busy time (the wall time it
    spent on its chunks), busiest first; idle pool workers count as 0. The machine's state:
    ``busy_cores_at_start`` (other processes' CPU use while the backend started and warmed up),
    ``other_cpu_cores`` (their average CPU use around the recorded repetitions),
    ``cpu_governors`` and ``cpu_freq_ratio`` (clock / maximum after the repetitions) where the
    host shows them. Interference: ``reps_discarded`` repetitions were measured again because
    other processes used the CPUs during them (``discarded`` says why); ``reps_interfered`` of
    the kept ones could not be measured again in time. ``trust`` lists why the figures are not
    to be trusted (empty: ok; see :mod:`runner.trial.quality`). ``python`` holds the facts of the
    interpreter the trial ran under.
    """

    wall_times_s: list[float] = field(default_factory=list)
    cpu_times_s: list[float] = field(default_factory=list)
    dispatch_s: list[float] = field(default_factory=list)
    busy_s: list[list[float]] = field(default_factory=list)
    startup_s: float | None = None
    close_s: float | None = None  # closing the backend once the repetitions are done
    correct: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)  # extra run tags (cluster.*)
    repeats_stop: str | None = None  # repeats=auto: the rule that stopped it (runner.trial.measure)
    paired_rel_ci: float | None = None  # repeats=auto, a contender: its paired speedup's 95% CI half-width when it stopped
    contenders_short: int = 0  # repeats=auto, a baseline a limit stopped: its contenders it left short of their target
    busy_cores_at_start: float | None = None
    load_1m_at_start: float | None = None
    other_cpu_cores: float | None = None
    own_cpu_cores: float | None = None
    monitored_s: float = 0.0
    cpu_governors: list[str] = field(default_factory=list)
    cpu_freq_ratio: float | None = None
    reps_discarded: int = 0
    reps_interfered: int = 0
    discarded: list[str] = field(default_factory=list)
    trust: list[str] = field(default_factory=list)
    python: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None  # time.time() when the trial's process was asked to start
    schedule: str | None = None  # interleaved or sequential
    schedule_seed: int | None = None
    group: str | None = None  # trials measured together, in rounds
    # interleaved: per recorded sample (same order as wall_times_s), its round in the group and
    # its dispatch time after the group's start; empty for a sequential schedule
    sample_rounds: list[int] = field(default_factory=list)
    sample_starts: list[float] = field(default_factory=list)
    cpus: list[int] | None = None  # the CPUs the trial process and its workers could run on (affinity)
    sample_probes: list[float] = field(default_factory=list)  # per sample, the speed probe around it (s)
    sample_processes: list[int] = field(default_factory=list)  # per sample, which of the trial's processes ran it

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def wall_time_s(self) -> float | None:
        return statistics.median(self.wall_times_s) if self.wall_times_s else None

    @property
    def spread(self) -> float | None:
        """Standard deviation of the repetitions relative to their mean (0.0 with one): the one
        definition of spread, the one the spread warning and the report's ``± std`` use."""
        if not self.wall_times_s:
            return None
        return _stdev(self.wall_times_s) / statistics.fmean(self.wall_times_s)

    def keep(self, repetitions: Sequence[Repetition]) -> None:
        """Take ``repetitions`` (recorded, in order) as this trial's samples."""
        for rep in repetitions:
            self.wall_times_s.append(rep.wall_s)
            self.cpu_times_s.append(rep.cpu_s)
            self.dispatch_s.append(rep.dispatch_s)
            self.busy_s.append(list(rep.busy_s))
        if repetitions and all(rep.probe_s is not None for rep in repetitions):
            self.sample_probes.extend(float(rep.probe_s) for rep in repetitions if rep.probe_s is not None)
        if repetitions and all(rep.process is not None for rep in repetitions):
            self.sample_processes.extend(int(rep.process) for rep in repetitions if rep.process is not None)
        if repetitions and all(rep.round is not None and rep.started_s is not None for rep in repetitions):
            self.sample_rounds.extend(int(rep.round) for rep in repetitions if rep.round is not None)
            self.sample_starts.extend(float(rep.started_s) for rep in repetitions if rep.started_s is not None)

    def worker_busy_s(self) -> list[float]:
        """Per worker rank (0 = busiest), the median over repetitions of its busy time."""
        if not self.busy_s:
            return []
        ranks = max(len(rep) for rep in self.busy_s)
        padded = [rep + [0.0] * (ranks - len(rep)) for rep in self.busy_s]
        return [statistics.median(rep[rank] for rep in padded) for rank in range(ranks)]

    def load_imbalance(self) -> float | None:
        """Median over repetitions of max / mean worker busy time (1.0: perfectly even)."""
        ratios = []
        for rep in self.busy_s:
            mean = sum(rep) / len(rep) if rep else 0.0
            if mean > 0:
                ratios.append(max(rep) / mean)
        return statistics.median(ratios) if ratios else None

    def metrics(self) -> dict[str, float]:
        """The spec's trial metrics (those that can be computed), by their exact names, and more."""
        out: dict[str, float] = {"correct": 1.0 if self.correct and not self.failed else 0.0}
        if self.startup_s is not None:
            out["startup_s"] = self.startup_s
        if self.close_s is not None:
            out["close_s"] = self.close_s
        if self.wall_times_s:
            wall = summarize(self.wall_times_s)
            cpu = statistics.median(self.cpu_times_s)
            out.update(
                wall_time_s=wall.median,
                wall_time_min_s=wall.min,
                wall_time_max_s=wall.max,
                wall_time_mean_s=wall.mean,
                wall_time_std_s=wall.std,
                wall_time_iqr_s=wall.iqr,
                wall_time_ci_low_s=wall.ci_low,
                wall_time_ci_high_s=wall.ci_high,
                wall_time_ci_level=wall.ci_level,
                cpu_time_s=cpu,
                cpu_utilization=cpu / wall.median if wall.median > 0 else 0.0,
                dispatch_s=statistics.median(self.dispatch_s),
            )
        busy = self.worker_busy_s()
        if busy:
            out["worker_busy_max_s"] = busy[0]
            out["worker_busy_mean_s"] = sum(busy) / len(busy)
        imbalance = self.load_imbalance()
        if imbalance is not None:
            out["load_imbalance"] = imbalance
        for name in ("busy_cores_at_start", "other_cpu_cores", "own_cpu_cores", "cpu_freq_ratio"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["repeats_done"] = float(len(self.wall_times_s))
        out["reps_discarded"] = float(self.reps_discarded)
        out["reps_interfered"] = float(self.reps_interfered)
        out["trial_duration_s"] = self.duration_s
        return out

    def series(self) -> dict[str, list[float]]:
        """Metrics with a step: ``rep_wall_time_s`` (step = repetition), ``worker_busy_s`` (step = worker rank)."""
        out = {"rep_wall_time_s": list(self.wall_times_s)}
        busy = self.worker_busy_s()
        if busy:
            out["worker_busy_s"] = busy
        return out


def _stdev(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0
