"""The trial process: one trial's bench, driven repetition by repetition by the launcher.

The launcher (``runner.execute``) starts this process, sends it the trial's spec and then one
command per repetition; the process answers each with what it measured. Between commands it
waits, idle, with its backend's workers up (a pool stays started), so the trials of a sweep can
take turns. The conversation, over two one-way :class:`multiprocessing.connection.Connection`
pipes (objects pickled, protocol 4 or the interpreters' shared default)::

    launcher                          trial process
    ("spec", TrialSpec, cwd, cpus) -> pin to cpus (None: as is), start the backend
                                <-    ("ready", StartInfo)       or ("error", text)
    ("rep", recorded)           ->    one repetition
                                <-    ("rep", Repetition)        or ("error", text), then it ends
    ("finish",)                 ->    close the backend
                                <-    ("finished", FinishInfo), then it ends

The end of the command pipe (the launcher is gone) closes the backend and ends the process.
This module runs under whatever interpreter the trial asked for (``python=...``): it imports
only the standard library and ``runner.trial`` / ``runner.host``, never Hydra or MLflow.
Started under another interpreter, its entry point is :func:`main` (``-c`` bootstrap, with the
two pipe descriptors as arguments).
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any


def _describe(exc: BaseException) -> str:
    from runner.trial.backends.base import describe_exception

    return describe_exception(exc)


def serve(commands: Connection, replies: Connection) -> None:
    """Run one trial as the launcher commands, then return."""
    try:
        message = commands.recv()  # a process started ahead of its trial waits here, idle
    except (EOFError, OSError):
        return  # never needed: the launcher finished, or is gone
    _, spec, cwd, cpus = message
    from runner.trial.bench import TrialBench

    bench = None
    try:
        if cwd and os.getcwd() != cwd:  # the launcher's, now (it may change per job: hydra.job.chdir)
            os.chdir(cwd)
        if cpus:  # before the backend starts: its threads and processes inherit the affinity
            pin(cpus)
        bench = TrialBench(spec)
        replies.send(("ready", bench.start()))
    except Exception as exc:
        _send(replies, ("error", _describe(exc)))
        if bench is not None:
            bench.finish()
        return
    while True:
        try:
            command = commands.recv()
        except (EOFError, OSError):
            bench.finish()
            return
        if command[0] == "rep":
            try:
                replies.send(("rep", bench.repetition(bool(command[1]))))
            except Exception as exc:
                _send(replies, ("error", _describe(exc)))
                bench.finish()
                return
        elif command[0] == "finish":
            _send(replies, ("finished", bench.finish()))
            return


def pin(cpus: list[int]) -> None:
    """Run this process (and what it starts from now on) on ``cpus`` only, where the platform
    allows; the trial records the CPUs it really had (``parsweep.cpus``)."""
    try:
        os.sched_setaffinity(0, cpus)
    except (AttributeError, OSError, ValueError):
        pass  # no affinity here, or those CPUs are gone: the trial runs where it may


def _send(replies: Connection, message: Any) -> None:
    try:
        replies.send(message)
    except OSError:  # the launcher stopped listening (it is killing this trial)
        pass


def main(argv: list[str] | None = None) -> None:
    """Entry point under another interpreter: ``argv`` = [command pipe fd, reply pipe fd]."""
    args = sys.argv[1:] if argv is None else argv
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    commands = Connection(int(args[0]), writable=False)
    replies = Connection(int(args[1]), readable=False)
    try:
        serve(commands, replies)
    finally:
        replies.close()
        commands.close()
