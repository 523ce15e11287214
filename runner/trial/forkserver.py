"""A fork server for trial processes, run under the interpreter the trials ask for.

The launcher starts one per interpreter (``python=current``, ``python3.13t``, ...) with
``-c`` and one end of a ``SOCK_SEQPACKET`` socket pair. It imports the trial code once
(no Hydra, no MLflow, no threads), then forks a trial process for each request: forking from
it costs a few milliseconds and every trial starts from the same clean state.

Requests and answers are small JSON messages; a request carries the two pipe descriptors
of the new trial (:mod:`runner.trial.worker` speaks over them)::

    launcher -> server   {"fork": 1} + [command pipe (read end), reply pipe (write end)]
    server -> launcher   {"pid": 1234}
    server -> launcher   {"exit": 1234, "code": -9}     whenever a trial process ends

Each trial process leads its own process group, so the launcher can kill it whole. The
server ends when the launcher's end of the socket closes (the launcher finished or died);
trial processes still running then see their command pipe close and end too.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import sys
from collections.abc import Sequence

# What every trial imports whatever its backend and workload, loaded once here.
TRIAL_CODE = ("runner.trial.worker", "runner.trial.bench")
MAX_MESSAGE = 4096


def _child(commands_fd: int, replies_fd: int) -> None:
    from multiprocessing.connection import Connection

    from runner.trial.worker import serve

    os.setpgid(0, 0)  # lead a new process group: the launcher can kill the trial whole
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    commands = Connection(commands_fd, writable=False)
    replies = Connection(replies_fd, readable=False)
    try:
        serve(commands, replies)
    finally:
        replies.close()
        commands.close()


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        try:
            sock.send(json.dumps({"exit": pid, "code": os.waitstatus_to_exitcode(status)}).encode())
        except OSError:
            return


def preload() -> list[str]:
    """What a fork server imports before forking: the trial code, then the backends and workloads
    that declare ``preload`` (their registries say which).

    Asked by the launcher, which passes the list to the server: to read a module's declaration
    is to import it, and a fork server must not import what it does not preload (NumPy, with
    ``numpy_sum``, would slow every forked worker).
    """
    from runner.trial import backends, workloads

    return [*TRIAL_CODE, *backends.preloaded(), *workloads.preloaded()]


def serve(sock: socket.socket, modules: Sequence[str] = TRIAL_CODE) -> None:
    """Import ``modules`` (:func:`preload`'s), then fork a trial process per request until the
    launcher's end of ``sock`` closes."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # a backend this interpreter cannot run: its trials will say why
            pass
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake select() through the pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the launcher's to handle
    while True:
        ready, _, _ = select.select([sock.fileno(), wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 512)
            _reap(sock)
        if sock.fileno() not in ready:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 2)
        except OSError:
            return
        if not data:
            return  # the launcher is gone
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(wake_r)
                os.close(wake_w)
                sock.close()
                _child(fds[0], fds[1])
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())


def main() -> None:
    """``python -c`` entry: ``argv[1]`` is the descriptor of the server's end of the socket pair,
    ``argv[3]`` the modules to preload, comma-separated (:func:`preload`; ``argv[2]`` is the trial code's path)."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    try:
        serve(sock, sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else TRIAL_CODE)
    finally:
        sock.close()
