"""What else the machine was doing during a trial, and the warnings that say a figure is shaky.

Sources, each skipped quietly where the platform lacks it:

* other processes' CPU use: system-wide busy CPU time on the CPUs this trial may run on
  (``psutil.cpu_times(percpu=True)``, steal included: a hypervisor taking the CPU is
  interference too) minus the CPU time of the trial's own process tree (the trial process,
  its live children, and the children it or they have reaped). Sampled just before the trial
  (a short idle window: "busy at start") and around every recorded repetition, outside
  the timed part. The 1-minute load average is reported with it but does not trigger a
  warning alone: in a sweep it mostly remembers the sweep's own previous trials.
* CPU frequency scaling: ``/sys/devices/system/cpu/cpu*/cpufreq`` (governor, current vs
  maximum clock right after the repetitions).

Warnings name the figure and say what to do, like pyperf's and hyperfine's.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from runner.trial.stats import Summary

MIN_MONITORED_S = 0.2  # CPU accounting ticks at 10 ms: shorter windows say little
OTHER_CPU_WARN_CORES = 0.25  # other processes keeping a quarter of a core busy, or more...
OTHER_CPU_WARN_SHARE = 0.05  # ...and 5% of the usable cores (a browser's hum on 32 cores is not news)
SPREAD_WARN_REL_STD = 0.10  # pyperf's threshold: std >= 10% of the mean
OUTLIER_FACTOR = 1.5  # slowest >= 1.5 x median, or fastest <= median / 1.5
SHORT_REPETITION_S = 1e-3
FREQ_WARN_RATIO = 0.8  # current clock under 80% of the maximum
TARGET_REPETITION_S = 0.01  # what "raise n" aims a repetition at


def usable_cpu_ids() -> list[int] | None:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def system_busy_s(cpus: Sequence[int] | None = None) -> float:
    """Busy CPU seconds so far, summed over ``cpus`` (all when None): everything but idle and iowait."""
    import psutil

    per_cpu = psutil.cpu_times(percpu=True)
    if cpus is not None and len(per_cpu) == (os.cpu_count() or 0):
        chosen = [per_cpu[c] for c in cpus if c < len(per_cpu)]
    else:
        chosen = per_cpu
    busy = 0.0
    for times in chosen:
        values = times._asdict()
        total = sum(v for k, v in values.items() if k not in ("guest", "guest_nice"))  # already in user/nice
        busy += total - values.get("idle", 0.0) - values.get("iowait", 0.0)
    return busy


def tree_cpu_s(pid: int | None = None) -> float:
    """CPU seconds of a process, its live descendants, and every child any of them has reaped."""
    pid = os.getpid() if pid is None else pid
    total = _cpu_s(pid)  # raises when there is no such process, or no way to read it
    for member in descendants(pid):
        try:
            total += _cpu_s(member)
        except Exception:  # gone since it was listed
            continue
    return total


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid`` (empty when it is gone).

    From each thread's ``/proc/<pid>/task/<tid>/children`` (Linux 3.5+): a few small reads,
    where psutil reads the ``stat`` of every process on the machine (~1 ms a call with 70
    processes; a trial looks four times). psutil where those files do not exist.
    """
    try:
        found = _proc_descendants(pid)
        if found is None:
            import psutil

            found = [child.pid for child in psutil.Process(pid).children(recursive=True)]
        return found
    except Exception:
        return []


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC_STAT = os.path.exists("/proc/self/stat")


def _proc_descendants(pid: int) -> list[int] | None:
    """``pid``'s live descendants from ``/proc``; None where its children files do not exist."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            threads = os.listdir(f"/proc/{parent}/task")
        except OSError:
            if parent == pid:
                return None
            continue
        for tid in threads:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", "rb") as f:
                    children = [int(c) for c in f.read().split()]
            except FileNotFoundError:
                if parent == pid and os.path.exists(f"/proc/{parent}/task/{tid}"):
                    return None  # a kernel without CONFIG_PROC_CHILDREN
                continue  # the thread or process ended since it was listed
            except OSError:
                continue
            found += children
            pending += children
    return found


def _cpu_s(pid: int) -> float:
    """user + system CPU seconds of ``pid`` and of the children it has reaped."""
    if not _PROC_STAT:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # after "pid (comm)", state is field 3; utime, stime, cutime, cstime are fields 14-17 (proc(5))
    return sum(int(v) for v in fields[11:15]) / _CLOCK_TICKS


@dataclass
class CpuMonitor:
    """Accumulates, over the windows between ``begin()`` and ``end()``, the wall time, the busy
    CPU time of the machine (on ``cpus``) and that of this process tree."""

    cpus: list[int] | None = field(default_factory=usable_cpu_ids)
    wall_s: float = 0.0
    system_s: float = 0.0
    own_s: float = 0.0
    available: bool = True
    _mark: tuple[float, float, float] | None = None

    def _read(self) -> tuple[float, float, float] | None:
        if not self.available:
            return None
        try:
            return time.perf_counter(), system_busy_s(self.cpus), tree_cpu_s()
        except Exception:  # no psutil, no /proc: no figure rather than a failed trial
            self.available = False
            return None

    def begin(self) -> None:
        self._mark = self._read()

    def end(self) -> None:
        now, mark = self._read(), self._mark
        self._mark = None
        if now is None or mark is None:
            return
        self.wall_s += now[0] - mark[0]
        self.system_s += now[1] - mark[1]
        self.own_s += now[2] - mark[2]

    @property
    def other_cores(self) -> float | None:
        """Average number of cores other processes kept busy (None before anything was seen)."""
        if not self.available or self.wall_s <= 0:
            return None
        cores = max(0.0, (self.system_s - self.own_s) / self.wall_s)
        # CPU time is counted in 10 ms ticks: over short windows the difference can overshoot.
        return min(cores, float(len(self.cpus))) if self.cpus else cores

    @property
    def own_cores(self) -> float | None:
        if not self.available or self.wall_s <= 0:
            return None
        return self.own_s / self.wall_s


def load_1m() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def frequency_state(cpus: list[int] | None = None, root: Path | None = None) -> tuple[list[str], float | None]:
    """Governors in use and current / maximum clock (summed over ``cpus``), from cpufreq in sysfs."""
    from runner.host.facts import CPU_SYSFS, cpu_frequencies

    entries = cpu_frequencies(root or CPU_SYSFS)
    if cpus is not None:
        entries = [e for e in entries if e["cpu"] in cpus] or entries
    governors = sorted({e["governor"] for e in entries if "governor" in e})
    clocked = [e for e in entries if e.get("cur_khz") and e.get("max_khz")]
    ratio = sum(e["cur_khz"] for e in clocked) / sum(e["max_khz"] for e in clocked) if clocked else None
    return governors, ratio


# -- warnings ------------------------------------------------------------------------------


def seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} us"


def spread_warnings(summary: Summary, auto: bool = False) -> list[str]:
    """Repetitions that disagree: std >= 10% of the mean, or the slowest/fastest far from the median."""
    out = []
    figures = f"min {seconds(summary.min)}, median {seconds(summary.median)}, max {seconds(summary.max)}"
    if summary.count >= 2 and summary.mean > 0 and summary.std / summary.mean >= SPREAD_WARN_REL_STD:
        out.append(
            f"unstable timings: std {seconds(summary.std)} is {summary.std / summary.mean:.0%} of the mean "
            f"{seconds(summary.mean)} over {summary.count} repetitions ({figures}); quiet the machine, "
            + ("raise warmup" if auto else "raise warmup, or use repeats=auto")
        )
    elif summary.count >= 3 and (summary.max >= OUTLIER_FACTOR * summary.median or summary.min * OUTLIER_FACTOR <= summary.median):
        far = "slowest" if summary.max / summary.median >= summary.median / summary.min else "fastest"
        value = summary.max if far == "slowest" else summary.min
        out.append(
            f"outlier: the {far} repetition ({seconds(value)}) is {abs(value / summary.median - 1):.0%} away from the "
            f"median {seconds(summary.median)} ({figures}); something else ran meanwhile or the first runs were "
            "cold: raise warmup or repeats"
        )
    return out


def suggested_n(n: int, median_s: float) -> int:
    """A power of ten that would bring a repetition to about 10 ms."""
    if median_s <= 0:
        return n * 1000
    wanted = n * TARGET_REPETITION_S / median_s
    return 10 ** max(1, math.ceil(math.log10(max(wanted, 1))))


def short_repetition_warnings(summary: Summary, n: int) -> list[str]:
    if summary.median >= SHORT_REPETITION_S:
        return []
    suggestion = suggested_n(n, summary.median)
    return [
        f"repetitions take {seconds(summary.median)} (median), under 1 ms: too short to time well, and "
        f"start-up and dispatch dominate; raise n (try n=1e{round(math.log10(suggestion))}: 10 ms or more per repetition)"
    ]


def other_cpu_threshold(usable: int) -> float:
    """How many cores' worth of other processes' CPU use is worth a warning."""
    return max(OTHER_CPU_WARN_CORES, OTHER_CPU_WARN_SHARE * usable)


def busy_at_start_warnings(busy_cores: float | None, load: float | None, usable: int) -> list[str]:
    if busy_cores is None or busy_cores < other_cpu_threshold(usable):
        return []
    load_text = f", load average {load:.2f}" if load is not None else ""
    return [
        f"the machine was already busy at start: other processes kept {busy_cores:.2f} cores busy (of the {usable} "
        f"this trial may use){load_text}; wait for them to finish (or stop them) and run again"
    ]


def other_processes_warnings(other_cores: float | None, own_cores: float | None, monitored_s: float, usable: int) -> list[str]:
    if other_cores is None or monitored_s < MIN_MONITORED_S or other_cores < other_cpu_threshold(usable):
        return []
    own = f" while the trial itself used {own_cores:.2f}" if own_cores is not None else ""
    return [
        f"other processes used CPU during the trial: {other_cores:.2f} cores on average (of the {usable} this trial "
        f"may use){own}; "
        "they compete with the workers and slow them unevenly: stop them and run again"
    ]


def frequency_warnings(governors: Sequence[str], ratio: float | None) -> list[str]:
    out = []
    scaling = [g for g in governors if g != "performance"]
    if scaling:
        out.append(
            f"CPU frequency scaling is on (governor {', '.join(scaling)}): the clock follows the load, so timings "
            "drift; set the 'performance' governor (e.g. sudo cpupower frequency-set -g performance)"
        )
    if ratio is not None and ratio < FREQ_WARN_RATIO:
        out.append(
            f"the CPU clock ran at {ratio:.0%} of its maximum after the repetitions: power saving or thermal "
            "throttling slows the trial; use the 'performance' governor and let the machine cool"
        )
    return out


def auto_repeats_warnings(stop_rule: str | None, summary: Summary, target_rel_ci: float) -> list[str]:
    if stop_rule in (None, "target_rel_ci"):
        return []
    reached = f"±{summary.rel_ci_half_width:.1%}" if summary.ci_reaches_confidence else "not yet defined (needs 6 repetitions)"
    return [
        f"repeats=auto stopped by {stop_rule} after {summary.count} repetitions with the median's 95% CI at {reached}, "
        f"short of target_rel_ci={target_rel_ci:g}; raise {stop_rule}, quiet the machine, or accept a wider target"
    ]


def chunk_warnings(chunks: int, workers: int) -> list[str]:
    if chunks >= workers:
        return []
    return [f"chunks={chunks} is fewer than workers={workers}: {workers - chunks} workers have nothing to do; raise chunks"]


def collect(spec: Any, result: Any, usable: int) -> list[str]:
    """Every warning a finished trial deserves (``spec``: TrialSpec, ``result``: TrialResult)."""
    if not result.wall_times_s:
        return []
    from runner.trial.stats import summarize

    summary = summarize(result.wall_times_s)
    out: list[str] = []
    out += short_repetition_warnings(summary, spec.n)
    out += spread_warnings(summary, spec.auto_repeats)
    if spec.auto_repeats:
        out += auto_repeats_warnings(result.repeats_stop, summary, spec.target_rel_ci)
    out += busy_at_start_warnings(result.busy_cores_at_start, result.load_1m_at_start, usable)
    out += other_processes_warnings(result.other_cpu_cores, result.own_cpu_cores, result.monitored_s, usable)
    out += frequency_warnings(result.cpu_governors, result.cpu_freq_ratio)
    if spec.workers > 1:
        out += chunk_warnings(spec.chunk_count, spec.workers)
    return out
