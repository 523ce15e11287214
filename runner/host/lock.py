"""One trial at a time per host: a host-wide lock, so concurrent launchers never time each other.

Two sweeps started at once, or a launcher that runs jobs side by side (joblib, a local Ray
cluster), would otherwise run trials at the same time and slow each other down unseen.
Every trial takes an exclusive ``fcntl.flock`` on one file before it starts and releases it
when its processes are gone; the others queue. The kernel drops the lock when its holder
dies, so a crashed launcher never leaves it stuck.

The file is ``$PARSWEEP_LOCK_FILE`` if set (``off`` disables the lock), else
``<temp dir>/parsweep-host.lock``, shared by every user of the host. Its content says who
holds it, for the line a waiting trial prints.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

LOCK_ENV = "PARSWEEP_LOCK_FILE"
DISABLED = ("off", "none", "0", "false")
POLL_S = 0.05
SAY_WAITING_AFTER_S = 0.2  # a lock released at once is not worth a line


def lock_path() -> Path | None:
    """Where the host lock lives; None when ``PARSWEEP_LOCK_FILE=off``."""
    configured = os.environ.get(LOCK_ENV, "").strip()
    if configured.lower() in DISABLED:
        return None
    if configured:
        return Path(configured).expanduser()
    return Path(tempfile.gettempdir()) / "parsweep-host.lock"


@dataclass
class LockWait:
    """How long a trial waited for the host lock, and for whom."""

    waited_s: float = 0.0
    holder: str = ""

    def message(self) -> str:
        who = f" ({self.holder})" if self.holder else ""
        return f"waited {self.waited_s:.1f} s for another parsweep trial on this host to finish{who}"


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    with contextlib.suppress(OSError):  # let other users' launchers queue on it too
        os.fchmod(fd, 0o666)
    return fd


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 400, 0).decode(errors="replace").strip()
    except OSError:
        return ""


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def held_by() -> str | None:
    """Who holds the host lock now (its line, or ``another parsweep``), else None: for the estimate,
    which says a sweep will first wait. Takes the lock for an instant when it is free."""
    path = lock_path()
    if path is None or not path.exists():
        return None
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: never blocks a trial for long
        except BlockingIOError:
            return _holder(fd) or "another parsweep"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def host_lock(
    what: str,
    timeout_s: float | None = None,
    check: Callable[[], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> Iterator[LockWait]:
    """Hold the host lock for the duration of the block; yields how long it took to get.

    Says one line when the trial has to queue, and one when it got the lock (``say``; default:
    stderr). ``timeout_s`` (None: forever) bounds the wait; past it the block runs anyway, with
    the wait reported. ``check`` is called while waiting (it may raise to give up, e.g. on Ctrl-C).
    """
    say = say or _to_stderr
    wait = LockWait()
    path = lock_path()
    if path is None:
        yield wait
        return
    import fcntl

    try:
        fd = _open(path)
    except OSError as exc:  # an unusable lock file must not stop the measurement
        print(f"  warning: host lock {path} unusable ({exc}); trials of concurrent launchers may overlap", file=sys.stderr)
        yield wait
        return
    began = time.monotonic()
    said = False
    locked = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                break
            except BlockingIOError:
                waited = time.monotonic() - began
                if not said and waited >= SAY_WAITING_AFTER_S:
                    wait.holder = _holder(fd)
                    say(f"parsweep: waiting for the host lock {path}: another trial is running ({wait.holder or 'unknown'})")
                    said = True
                if timeout_s is not None and waited >= timeout_s:
                    break
                if check is not None:
                    check()
                time.sleep(POLL_S)
        wait.waited_s = time.monotonic() - began
        if locked:
            stamp = dt.datetime.now().isoformat(timespec="seconds")
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()}: {what}, since {stamp}\n".encode(), 0)
        if said:
            say(f"parsweep: {wait.message()}")
        yield wait
    finally:
        if locked:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
