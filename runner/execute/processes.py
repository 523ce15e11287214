"""Trial processes, from one fork server per interpreter, and how they are stopped whole.

Threads cannot be stopped from inside a process, and worker processes can outlive a crashed
parent. So every trial runs in a process of its own that leads its own process group, forked
from a fork server (:mod:`runner.trial.forkserver`) running under the trial's interpreter;
whatever happens (result, crash, timeout, Ctrl-C), the launcher finally kills the whole group
and any descendant that left it, so nothing of a trial outlives it.

The fork servers import the trial code from a directory of their own that holds only a link to
the ``runner`` package (:func:`trial_code_path`): an interpreter other than parsweep's own
sees parsweep's trial code and its own site-packages, never parsweep's (compiled for another
Python). One server starts per (interpreter, ``PYTHON_GIL``) the first time a trial needs it,
and ends with the launcher.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from runner.host.proc import descendants
from runner.trial.forkserver import preload

EXIT_GRACE_S = 10.0
SERVER_START_TIMEOUT_S = 60.0
BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[2]); from runner.trial.forkserver import main; main()"


class TrialCrashed(RuntimeError):
    """The trial process ended before answering; ``str()`` says how."""


_CODE_PATH: str | None = None


def trial_code_path() -> str:
    """A directory holding only a link to the ``runner`` package: the trial interpreters' path."""
    global _CODE_PATH
    if _CODE_PATH is None or not Path(_CODE_PATH).is_dir():
        import runner
        from runner.host.leftovers import make_temp_dir

        # Removed at exit once the fork servers that import from it have ended (_at_exit); after
        # a kill -9, by the next launch.
        directory = make_temp_dir("trial-code", remove_at_exit=False)
        os.symlink(Path(runner.__file__).resolve().parent, directory / "runner")
        _CODE_PATH = str(directory)
    return _CODE_PATH


def trial_environment(gil: int | None) -> dict[str, str]:
    """The environment of a trial interpreter: ours, plus ``PYTHON_GIL`` when the trial sets it."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # another interpreter must not see parsweep's own packages
    env.pop("PYTHONHOME", None)
    if gil is None:
        env.pop("PYTHON_GIL", None)
    else:
        env["PYTHON_GIL"] = str(gil)
    return env


class ForkServer:
    """A fork server running under ``executable`` (with ``PYTHON_GIL=gil`` when set)."""

    def __init__(self, executable: str, gil: int | None = None) -> None:
        self.executable, self.gil = executable, gil
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [executable, "-c", BOOTSTRAP, str(theirs.fileno()), trial_code_path(), ",".join(preload())],
                pass_fds=[theirs.fileno()],
                env=trial_environment(gil),
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self.exits: dict[int, int] = {}
        self.forked = False

    def fork(self) -> tuple[int, Connection, Connection]:
        """A new trial process: its pid, the pipe to send it commands and the pipe it answers on."""
        commands_r, commands_w = os.pipe()
        replies_r, replies_w = os.pipe()
        self.forked = True
        try:
            socket.send_fds(self.sock, [json.dumps({"fork": 1}).encode()], [commands_r, replies_w])
        except OSError as exc:
            for fd in (commands_r, commands_w, replies_r, replies_w):
                os.close(fd)
            raise TrialCrashed(f"the fork server of {self.executable} is gone ({exc})") from None
        finally:
            with contextlib.suppress(OSError):
                os.close(commands_r)
                os.close(replies_w)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            message = self._read(deadline - time.monotonic())
            if message is None:
                os.close(commands_w)
                os.close(replies_r)
                raise TrialCrashed(f"the fork server of {self.executable} did not answer")
            if "pid" in message:
                return int(message["pid"]), Connection(commands_w, readable=False), Connection(replies_r, writable=False)

    def _read(self, timeout_s: float) -> dict[str, Any] | None:
        """The next message from the server, None if none comes in time. Exit notices are
        filed in ``exits`` as well as returned."""
        if timeout_s <= 0 or not wait([self.sock], timeout_s):
            return None
        data = self.sock.recv(4096)
        if not data:
            return None
        message = json.loads(data)
        if "exit" in message:
            self.exits[int(message["exit"])] = int(message["code"])
        return message

    def exit_code(self, pid: int, timeout_s: float = EXIT_GRACE_S) -> int | None:
        """The exit code of trial process ``pid`` (negative: killed by that signal), once it has ended."""
        deadline = time.monotonic() + timeout_s
        while pid not in self.exits:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if self._read(min(left, 0.25)) is None and self.process.poll() is not None:
                return None  # the server is gone: nobody will tell
        return self.exits.pop(pid)

    def close(self) -> None:
        """End the server (its trial processes end as their command pipes close).

        A server that never forked holds nothing, and may still be booting (a launch that
        stops at a bad store): it is killed, so that the launch ends at once and the server
        prints nothing on the way out."""
        with contextlib.suppress(OSError):
            self.sock.close()
        if not self.forked:
            self.process.kill()
        try:
            self.process.wait(EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_SERVERS: dict[tuple[str, int | None], ForkServer] = {}


def fork_server(executable: str, gil: int | None) -> ForkServer:
    """The fork server of this interpreter and GIL setting, started the first time it is needed."""
    key = (executable, gil)
    server = _SERVERS.get(key)
    if server is None or server.process.poll() is not None:
        server = _SERVERS[key] = ForkServer(executable, gil)
    return server


def start_fork_servers(interpreters: Iterable[tuple[str, int | None]]) -> None:
    """Start the fork server of each ``(executable, gil)`` now, without waiting for it.

    A fork server's own start (its interpreter, then the trial code it preloads: about 0.12 s
    on the 2-core VM of 2026-12-04) otherwise happens when the first trial forks from it, under
    the host lock, where every other launch on the host waits for it. Started as soon as the
    plan is known, it boots while the launcher opens the store and creates its runs. One that
    cannot start is left to :func:`fork_server` to start (and report) when a trial needs it.
    """
    for executable, gil in interpreters:  # fork_server starts each once
        with contextlib.suppress(Exception):
            fork_server(executable, gil)


def fork_server_pids() -> list[int]:
    """The running fork servers: their process trees hold every trial process."""
    return [server.process.pid for server in _SERVERS.values() if server.process.poll() is None]


def close_fork_servers() -> None:
    while _SERVERS:
        _, server = _SERVERS.popitem()
        server.close()


def _at_exit() -> None:
    """The fork servers end before the folder they import the trial code from goes."""
    close_fork_servers()
    if _CODE_PATH is not None:
        shutil.rmtree(_CODE_PATH, ignore_errors=True)


atexit.register(_at_exit)


def kill_group(pgid: int, also: list[int] | None = None) -> None:
    """SIGKILL every process left in a trial's process group, and ``also`` (none left is fine)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in also or []:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class TrialProcess:
    """One trial's process: send it commands, receive its answers, stop it whole."""

    def __init__(self, executable: str, gil: int | None = None) -> None:
        self.server = fork_server(executable, gil)
        self.pid, self.commands, self.replies = self.server.fork()
        self.stopped = False

    def send(self, message: Any) -> None:
        try:
            self.commands.send(message)
        except OSError:
            raise TrialCrashed(self._how_it_ended()) from None

    def receive(self, deadline: float | None) -> Any | None:
        """The trial's next answer; None when ``deadline`` (``time.monotonic()``) passes first.

        Raises :class:`TrialCrashed` when the process ended without answering.
        """
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not wait([self.replies], min(timeout, 0.25) if timeout is not None else 0.25):
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                from runner.execute.signals import check_interrupted

                check_interrupted()
                continue
            try:
                return self.replies.recv()
            except (EOFError, OSError):
                raise TrialCrashed(self._how_it_ended()) from None

    def _how_it_ended(self) -> str:
        code = self.server.exit_code(self.pid)
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        elif code is None:
            how = "ended"
        else:
            how = f"exited with code {code}"
        return f"the trial process {how} before reporting a result"

    def stop(self, grace_s: float = EXIT_GRACE_S) -> None:
        """Let the process end (it has answered ``finish``), then kill what is left of its group."""
        if self.stopped:
            return
        self.stopped = True
        with contextlib.suppress(OSError):
            self.commands.close()
        if grace_s > 0:
            self.server.exit_code(self.pid, grace_s)
        # Descendants that left the group (setsid) are found through the process tree while the
        # trial process lives; the group kill reaches the rest.
        kill_group(self.pid, descendants(self.pid))
        with contextlib.suppress(OSError):
            self.replies.close()

    def kill(self) -> None:
        """Stop it now, whole (timeout, Ctrl-C, a failure)."""
        self.stop(grace_s=0)
