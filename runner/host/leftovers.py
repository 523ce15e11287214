"""parsweep's temporary files: named after their owner, removed on the way out, swept up after a crash.

Every temporary folder parsweep makes is ``<temp dir>/parsweep-<kind>-<pid>-<random>``
(:func:`make_temp_dir`) and is removed when its process exits (``atexit``: a normal end, an
error, Ctrl-C and SIGTERM all pass there). What a ``kill -9`` leaves cannot be removed by the
process that made it, so every launch first removes the folders of this user's parsweep
processes that are gone (:func:`clean_stale`), and the store-opening lock files
(``parsweep-store-<hash>.lock``, see :mod:`runner.tracking.store`) that nobody holds.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from runner.host.liveness import process_gone

PREFIX = "parsweep-"
KINDS = ("trial-code", "logged", "artifacts")
_OWNED = re.compile(rf"^{PREFIX}(?:{'|'.join(KINDS)})-(\d+)-")
STORE_LOCK = re.compile(rf"^{PREFIX}store-[0-9a-f]+\.lock$")


def make_temp_dir(kind: str, remove_at_exit: bool = True) -> Path:
    """A new temporary folder ``parsweep-<kind>-<pid>-...``, removed when this process exits."""
    assert kind in KINDS, kind
    directory = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-{os.getpid()}-"))
    if remove_at_exit:
        atexit.register(shutil.rmtree, directory, True)
    return directory


def clean_stale(temp_dir: str | None = None) -> list[Path]:
    """Remove what parsweep processes of this user that are gone left in the temporary folder."""
    base = Path(temp_dir or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid != uid:
            continue
        match = _OWNED.match(entry.name)
        if match and entry.is_dir(follow_symlinks=False):
            if int(match.group(1)) != os.getpid() and process_gone(int(match.group(1)), since_s=info.st_mtime):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(Path(entry.path))
        elif STORE_LOCK.match(entry.name) and remove_unheld_lock(Path(entry.path)):
            removed.append(Path(entry.path))
    return removed


def remove_unheld_lock(path: Path) -> bool:
    """Remove the lock file ``path`` if nobody holds it (taking it first, so nobody can meanwhile)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # held: in use
        if not same_file(fd, path):
            return False
        with contextlib.suppress(OSError):
            path.unlink()
            return True
        return False
    finally:
        os.close(fd)


def same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a lock file removed and made again does not)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False
