"""What the machine's CPUs are doing, read from /proc: busy time, process trees, run-queue waits.

Sources, each skipped quietly where the platform lacks it (psutil is the fallback where
/proc is missing, and is optional):

* ``/proc/stat``: busy CPU time per CPU (everything but idle and iowait; steal included, since
  a hypervisor taking the CPU is interference too). The kernel reports it in clock ticks
  (10 ms), so a window shorter than :data:`MIN_WINDOW_S` says little.
* ``/proc/<pid>/stat``: a process's CPU time and that of the children it has reaped;
  ``/proc/<pid>/task/<tid>/children``: its process tree.
* ``/proc/thread-self/schedstat``: how long the calling thread was runnable but waiting for a
  CPU (nanoseconds): the direct sign that something else held the CPU it needed.

Standard library only: the trial process imports this under any CPython >= 3.10.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

MIN_WINDOW_S = 0.2  # CPU time comes in 10 ms ticks: shorter windows say too little (see tick_error_cores)

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC_STAT = os.path.exists("/proc/self/stat")
_SCHEDSTAT = os.path.exists("/proc/thread-self/schedstat")


def usable_cpu_ids() -> list[int] | None:
    """The CPUs this process may run on (its affinity), or None where that cannot be asked."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def system_busy_s(cpus: Sequence[int] | None = None) -> float:
    """Busy CPU seconds so far, summed over ``cpus`` (all when None): everything but idle and iowait."""
    if not os.path.exists("/proc/stat"):
        return _psutil_busy_s(cpus)
    wanted = set(cpus) if cpus is not None else None
    busy_ticks = 0
    with open("/proc/stat", "rb") as f:
        for line in f:
            if not line.startswith(b"cpu") or line.startswith(b"cpu "):
                continue
            name, *values = line.split()
            if wanted is not None and int(name[3:]) not in wanted:
                continue
            # user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
            ticks = [int(v) for v in values[:8]]
            busy_ticks += sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
    return busy_ticks / _CLOCK_TICKS


def _psutil_busy_s(cpus: Sequence[int] | None) -> float:
    import psutil

    per_cpu = psutil.cpu_times(percpu=True)
    chosen = [per_cpu[c] for c in cpus if c < len(per_cpu)] if cpus is not None else per_cpu
    busy = 0.0
    for times in chosen:
        values = times._asdict()  # psutil's namedtuple: _asdict is its public API
        total = sum(v for k, v in values.items() if k not in ("guest", "guest_nice"))
        busy += total - values.get("idle", 0.0) - values.get("iowait", 0.0)
    return busy


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid`` (empty when it is gone).

    From each thread's ``/proc/<pid>/task/<tid>/children`` (Linux 3.5+): a few small reads,
    where psutil reads the ``stat`` of every process on the machine. psutil where those files
    do not exist.
    """
    try:
        found = _proc_descendants(pid)
        if found is None:
            import psutil

            found = [child.pid for child in psutil.Process(pid).children(recursive=True)]
        return found
    except Exception:
        return []


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


def process_cpu_s(pid: int) -> float:
    """user + system CPU seconds of ``pid`` and of the children it has reaped."""
    if not _PROC_STAT:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # after "pid (comm)", state is field 3; utime, stime, cutime, cstime are fields 14-17 (proc(5))
    return sum(int(v) for v in fields[11:15]) / _CLOCK_TICKS


def tree_cpu_s(pid: int | None = None) -> float:
    """CPU seconds of a process, its live descendants, and every child any of them has reaped."""
    pid = os.getpid() if pid is None else pid
    total = process_cpu_s(pid)  # raises when there is no such process, or no way to read it
    for member in descendants(pid):
        try:
            total += process_cpu_s(member)
        except Exception:  # gone since it was listed
            continue
    return total


def thread_wait_s() -> float:
    """Seconds the calling thread has spent runnable but waiting for a CPU (0.0 where unknown)."""
    if not _SCHEDSTAT:
        return 0.0
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def tick_error_cores(wall_s: float, cpus: int) -> float:
    """How far off a window's "other processes' cores" can be, from the kernel's 10 ms ticks alone.

    Every counter read is cut to a whole tick, so a difference is off by less than one tick per
    CPU (the machine's busy time) plus about two ticks for the processes counted as ours.
    """
    return (cpus + 2) / _CLOCK_TICKS / wall_s if wall_s > 0 else float("inf")


def load_1m() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


@dataclass
class CpuWindow:
    """Other processes' CPU use on ``cpus`` while a window is open: the machine's busy time
    minus that of the processes we account for: ``trees`` (pids whose whole process trees are
    ours) and ``alone`` (pids counted without their children)."""

    cpus: list[int] | None = field(default_factory=usable_cpu_ids)
    trees: Sequence[int] = ()
    alone: Sequence[int] = ()
    wall_s: float = 0.0
    other_s: float = 0.0
    available: bool = True
    _mark: tuple[float, float, float] | None = None

    def _read(self) -> tuple[float, float, float] | None:
        if not self.available:
            return None
        try:
            mine = 0.0
            for pid, read in [(p, tree_cpu_s) for p in self.trees] + [(p, process_cpu_s) for p in self.alone]:
                try:
                    mine += read(pid)
                except Exception:  # that process is gone: its last CPU time is lost to us
                    continue
            return time.perf_counter(), system_busy_s(self.cpus), mine
        except Exception:  # no /proc and no psutil: no figure rather than a failed trial
            self.available = False
            return None

    def begin(self) -> None:
        self._mark = self._read()

    def end(self) -> float | None:
        """Close the window; returns the other processes' average cores during it (None: unknown)."""
        now, mark = self._read(), self._mark
        self._mark = None
        if now is None or mark is None:
            return None
        wall = now[0] - mark[0]
        other = max(0.0, (now[1] - mark[1]) - (now[2] - mark[2]))
        self.wall_s += wall
        self.other_s += other
        if wall <= 0:
            return None
        cores = other / wall
        return min(cores, float(len(self.cpus))) if self.cpus else cores

    @property
    def other_cores(self) -> float | None:
        """Average cores other processes kept busy over every closed window (None before any)."""
        if not self.available or self.wall_s <= 0:
            return None
        cores = self.other_s / self.wall_s
        return min(cores, float(len(self.cpus))) if self.cpus else cores


def other_cores_now(window: CpuWindow, window_s: float = MIN_WINDOW_S) -> float | None:
    """Other processes' average cores over the next ``window_s`` seconds (this thread sleeps)."""
    window.begin()
    time.sleep(window_s)
    return window.end()
