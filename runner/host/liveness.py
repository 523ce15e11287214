"""Whether the process that started something on this host is still there.

A sweep's run records who launched it (host name, pid, boot id: :func:`launcher_identity`),
and temporary folders carry their creator's pid in their name. Only this host can tell
whether that process lives: :func:`process_gone` is True when the pid is not running, when
the host has rebooted since (another boot id), or when the pid now belongs to a process that
started after the thing it is said to own (the pid was reused). Anything else, on another
host included, is not known to be gone.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
CLOCK_SLACK_S = 2.0  # a process's start time is known to clock ticks; a folder's time to the file system's


def boot_id() -> str:
    """This boot's id (Linux), else an empty string."""
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""


def host_name() -> str:
    return socket.gethostname()


def launcher_identity() -> dict[str, str]:
    """Who is launching: host, pid, boot."""
    return {"host": host_name(), "pid": str(os.getpid()), "boot": boot_id()}


def on_this_host(host: str | None) -> bool:
    return bool(host) and host == host_name()


def process_gone(pid: int, since_s: float | None = None, boot: str | None = None) -> bool:
    """Whether process ``pid`` of this host, alive at time ``since_s`` (epoch seconds), is gone."""
    if boot and boot_id() and boot != boot_id():
        return True  # rebooted since: every process of then is gone
    try:
        import psutil

        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        started = process.create_time()
    except ImportError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    except Exception:  # psutil.NoSuchProcess and friends
        return True
    return since_s is not None and started > since_s + CLOCK_SLACK_S
