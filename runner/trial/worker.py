"""The trial process: one trial's bench, driven repetition by repetition by the launcher.

The launcher (``runner.execute``) starts this process, sends it the trial's spec and then one
command per repetition; the process answers each with what it measured. Between commands it
waits, idle, with its backend's workers up (a pool stays started), so the trials of a sweep can
take turns. The conversation, over two one-way :class:`multiprocessing.connection.Connection`
pipes (objects pickled, protocol 4 or the interpreters' shared default)::

    launcher                          trial process
    ("spec", TrialSpec, cwd, cpus) -> shift its layout, pin to cpus (None: as is), start the backend
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
import random
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

# shift_layout: at most this many padding blocks, each at most this many bytes (1 MB in all), and
# this many Python calls of depth
PAD_BLOCKS_MAX = 2000
PAD_BLOCK_MAX = 512
PAD_DEPTH_MAX = 60
LAYOUT_SHIFT_ENV = "PARSWEEP_LAYOUT_SHIFT"  # 0: no shift (every process keeps the fork server's layout)


def _describe(exc: BaseException) -> str:
    from runner.trial.backends.base import describe_exception

    return describe_exception(exc)


def serve(commands: Connection, replies: Connection) -> None:
    """Run one trial as the launcher commands, then return."""
    try:
        message = commands.recv()  # a process started ahead of its trial waits here, idle
    except (EOFError, OSError):
        return  # never needed: the launcher finished, or is gone
    # this process's own heap and stack offsets, for its whole life (see shift_layout)
    if os.environ.get(LAYOUT_SHIFT_ENV) == "0":  # for benchmarks/noisy_vm.py's side-by-side figures
        _serve(message, commands, replies)
        return
    padding = shift_layout(random.Random(int.from_bytes(os.urandom(8), "little")))
    at_depth(padding.depth, lambda: _serve(message, commands, replies))


@dataclass
class Padding:
    """What :func:`shift_layout` allocated (kept alive for the process's life) and the call depth
    the trial runs at."""

    blocks: list[bytearray]
    depth: int


def shift_layout(rng: random.Random) -> Padding:
    """Move where this trial process's objects and frames land by a random amount.

    Every trial process is forked from one fork server, so each starts with the same memory
    layout, and what a layout costs the work (a few percent on this VM: README, "Several
    processes per trial") would be the same for every process of every trial: a lean that
    spreading repetitions over processes cannot average out. So, as the Stabilizer tool does,
    each process first allocates a random number of blocks of random sizes (up to 1 MB; the
    heap's next objects land elsewhere) and runs its trial a random number of Python calls deep
    (its frames land elsewhere); the workers it starts inherit its layout. The offsets become
    each process's own, and average out with the others.
    """
    blocks = [bytearray(rng.randint(1, PAD_BLOCK_MAX)) for _ in range(rng.randint(0, PAD_BLOCKS_MAX))]
    return Padding(blocks, rng.randint(0, PAD_DEPTH_MAX))


def at_depth(depth: int, then: Callable[[], None]) -> None:
    """Call ``then`` ``depth`` Python calls deeper than here."""
    if depth <= 0:
        then()
        return
    at_depth(depth - 1, then)


def _serve(message: Any, commands: Connection, replies: Connection) -> None:
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
