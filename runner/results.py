"""What one trial produced, and the figures the spec names, computed from it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class TrialResult:
    """Raw per-repetition samples of one trial plus its outcome.

    ``startup_s`` follows the spec: for pools, the one-off pool start-up outside the timed
    repetitions; for backends that create workers in every repetition, the median time from
    dispatch until the last worker began its chunk (a part of ``wall_time_s``).
    """

    wall_times_s: list[float] = field(default_factory=list)
    cpu_times_s: list[float] = field(default_factory=list)
    dispatch_s: list[float] = field(default_factory=list)
    startup_s: float | None = None
    correct: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def wall_time_s(self) -> float | None:
        return statistics.median(self.wall_times_s) if self.wall_times_s else None

    @property
    def spread(self) -> float | None:
        """Standard deviation of the repetitions relative to their median (0.0 with one)."""
        if not self.wall_times_s:
            return None
        return _stdev(self.wall_times_s) / statistics.median(self.wall_times_s)

    def metrics(self) -> dict[str, float]:
        """The spec's trial metrics (those that can be computed), by their exact names."""
        out: dict[str, float] = {"correct": 1.0 if self.correct and not self.failed else 0.0}
        if self.startup_s is not None:
            out["startup_s"] = self.startup_s
        if self.wall_times_s:
            wall = statistics.median(self.wall_times_s)
            cpu = statistics.median(self.cpu_times_s)
            out.update(
                wall_time_s=wall,
                wall_time_min_s=min(self.wall_times_s),
                wall_time_mean_s=statistics.mean(self.wall_times_s),
                wall_time_std_s=_stdev(self.wall_times_s),
                cpu_time_s=cpu,
                cpu_utilization=cpu / wall if wall > 0 else 0.0,
                dispatch_s=statistics.median(self.dispatch_s),
            )
        out["repeats_done"] = float(len(self.wall_times_s))
        out["trial_duration_s"] = self.duration_s
        return out


def _stdev(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0
