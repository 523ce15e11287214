"""What the machine's CPUs are doing, read from /proc: busy time, process trees, run-queue waits.

Sources, each skipped quietly where the platform lacks it (psutil is the fallback where
/proc is missing, and is optional):

* ``/proc/stat``: busy CPU time per CPU (everything but idle and iowait; steal included, since
  a hypervisor taking the CPU is interference too). The kernel reports it in clock ticks
  (10 ms), so a window shorter than :data:`MIN_WINDOW_S` says little.
* the process's CPU-time clock (``clock_gettime`` on the clock id of ``pid``, Linux): its
  threads' run time, ended ones included, to the nanosecond;
* ``/proc/<pid>/stat``: a process's CPU time and that of the children it has reaped, in ticks;
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
    return process_cpu(pid)[0]


def process_cpu(pid: int) -> tuple[float, int]:
    """:func:`process_cpu_s`, and how many of its counters came cut down to a whole clock tick.

    The kernel gives a process's user and system time, and its reaped children's, in 10 ms
    ticks, each cut down when read: a process that ran 5 ms reads as 0, and a window's
    difference of two reads is off by up to a tick either way, per process (seen: +-10 ms per
    0.2 s window for a trial process running short-lived threads, so a group of 32 such trials
    could read as half a core of "other processes"). So a process's own time comes from its
    CPU-time clock (:func:`_process_clock_s`: every thread, ended ones included, to the
    nanosecond); where that clock cannot be read, from the larger of the ticks and the living
    threads' nanosecond counts (``/proc/<pid>/task/<tid>/schedstat``). Only the counters of the
    children it has reaped stay in ticks.
    """
    if not _PROC_STAT:
        import psutil

        t = psutil.Process(pid).cpu_times()
        values = [t.user, t.system, getattr(t, "children_user", 0.0), getattr(t, "children_system", 0.0)]
        return sum(values), 2 + sum(1 for v in values[2:] if v > 0)
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # after "pid (comm)", state is field 3; utime, stime, cutime, cstime are fields 14-17 (proc(5))
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    own, cut = (utime + stime) / _CLOCK_TICKS, 2
    clock = _process_clock_s(pid)
    exact = clock if clock is not None else _threads_runtime_s(pid)
    if exact is not None and (clock is not None or exact >= own):
        own, cut = exact, 0
    # children's counters: cut only matters once children were reaped (a zero is taken as none)
    return own + (cutime + cstime) / _CLOCK_TICKS, cut + (cutime > 0) + (cstime > 0)


def _process_clock_s(pid: int) -> float | None:
    """CPU seconds of every thread of ``pid``, ended ones included, from its CPU-time clock
    (Linux's clock id for a process: ``(~pid << 3) | CPUCLOCK_SCHED``, as glibc's
    ``clock_getcpuclockid`` makes it); None where the platform has no such clock."""
    if not _PROC_STAT or not hasattr(time, "clock_gettime"):
        return None
    try:
        return time.clock_gettime(((~pid) << 3) | 2)
    except (OSError, OverflowError):
        return None


def _threads_runtime_s(pid: int) -> float | None:
    """Seconds the living threads of ``pid`` have run, to the nanosecond (None where unknown)."""
    if not _SCHEDSTAT:
        return None
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                    total += int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                continue  # the thread ended since it was listed
    except OSError:
        return None
    return total / 1e9


def thread_wait_s() -> float:
    """Seconds the calling thread has spent runnable but waiting for a CPU (0.0 where unknown)."""
    if not _SCHEDSTAT:
        return 0.0
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def tick_error_cores(wall_s: float, cpus: int, extra_ticks: float = 0.0) -> float:
    """How far off a window's "other processes' cores" can be, from the kernel's 10 ms ticks alone.

    Every counter read is cut to a whole tick, so a difference is off by less than one tick per
    CPU (the machine's busy time) plus about two ticks for the processes counted as ours, plus
    ``extra_ticks`` (:attr:`CpuWindow.extra_error_ticks`: many processes of ours ran in it).
    """
    return (cpus + 2 + extra_ticks) / _CLOCK_TICKS / wall_s if wall_s > 0 else float("inf")


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
    extra_error_ticks: float = 0.0  # of the last window closed: see end()
    mine_s: float = 0.0  # of the last window closed: the CPU seconds counted as ours
    _mark: tuple[float, float, dict[int, tuple[float, int]]] | None = None

    def _read(self) -> tuple[float, float, dict[int, tuple[float, int]]] | None:
        if not self.available:
            return None
        try:
            mine: dict[int, tuple[float, int]] = {}
            pids = [*self.alone]
            for root in self.trees:
                pids += [root, *descendants(root)]
            for pid in pids:
                try:
                    mine[pid] = process_cpu(pid)
                except Exception:  # that process is gone: its last CPU time is lost to us
                    continue
            return time.perf_counter(), system_busy_s(self.cpus), mine
        except Exception:  # no /proc and no psutil: no figure rather than a failed trial
            self.available = False
            return None

    def begin(self) -> None:
        self._mark = self._read()

    def end(self) -> float | None:
        """Close the window; returns the other processes' average cores during it (None: unknown).

        A process of ours that started during the window is read once, and each of its counters
        that come in ticks (:func:`process_cpu`) is cut down to a whole tick: on average half a
        tick each is missing, which would count as other processes' (a group of 13 trials and
        their pool workers starting together read as 0.3 cores busy). That half tick is added
        back, and the window's ``extra_error_ticks`` says how far off the sum of those cuts may
        still be (two standard deviations of a sum of uniform errors).
        """
        now, mark = self._read(), self._mark
        self._mark = None
        if now is None or mark is None:
            return None
        wall = now[0] - mark[0]
        before, after = mark[2], now[2]
        # one that ended in the window was reaped by a parent of ours: its time moved to that parent's counters
        mine = sum(s for s, _ in after.values()) - sum(s for s, _ in before.values())
        born = sum(count for pid, (_, count) in after.items() if pid not in before)
        ran = sum(count for pid, (s, count) in after.items() if pid in before and s != before[pid][0])
        mine += 0.5 * born / _CLOCK_TICKS
        # a counter read once is off by U(0, 1) tick (variance 1/12), a difference of two by up to one either way (1/6)
        self.extra_error_ticks = 2 * (born / 12 + ran / 6) ** 0.5
        other = max(0.0, (now[1] - mark[1]) - mine)
        self.mine_s = mine
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
