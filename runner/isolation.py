"""Run each trial in its own process group, so that a trial can always be stopped whole.

Threads cannot be stopped from inside a process, and worker processes can outlive a
crashed parent. So every trial runs in a child process that leads its own process group;
the launcher waits for its result with a deadline and, whatever happens (result, crash,
timeout, Ctrl-C), finally kills the whole group, so nothing of a trial outlives it.

Children come from a fork server that has preloaded only :mod:`runner.trial` (no Hydra,
no MLflow, no sqlite connections, no threads): forking from it is cheap (a few ms) and
safe, and the trial starts from the same clean state every time.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from runner.measure import RepetitionHook
from runner.results import TrialResult
from runner.spec import TrialSpec

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["runner.trial"])
EXIT_GRACE_S = 10.0


def _trial_main(spec: TrialSpec, conn: Connection) -> None:
    os.setpgid(0, 0)  # lead a new process group: the launcher can kill the trial whole
    from runner.trial import run_trial

    def report(done: int, total: int, wall_s: float) -> None:
        conn.send(("repetition", done, total, wall_s))

    result = run_trial(spec, on_repetition=report)
    conn.send(("result", result))
    conn.close()


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in a trial's process group (none left is fine)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_isolated(spec: TrialSpec, on_repetition: RepetitionHook | None = None) -> TrialResult:
    """Run ``spec`` in a fresh trial process; always returns, with ``error`` set on failure.

    ``spec.timeout_s`` bounds the whole trial. KeyboardInterrupt and SystemExit still
    propagate, after the trial's processes are gone.
    """
    began = time.perf_counter()
    deadline = None if spec.timeout_s is None else began + spec.timeout_s
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_trial_main, args=(spec, sender), name="parsweep-trial")
    process.start()
    sender.close()
    pgid = process.pid
    try:
        result = _receive(receiver, process, deadline, on_repetition)
        if result is None:
            result = TrialResult(error=f"timed out after {spec.timeout_s:g} s (timeout_s)")
        elif not result.failed:
            wait([process.sentinel], EXIT_GRACE_S)  # let it exit on its own before the sweep
    finally:
        kill_group(pgid)
        process.join()
        receiver.close()
    if not result.duration_s:
        result.duration_s = time.perf_counter() - began
    return result


def _receive(
    receiver: Connection, process: Any, deadline: float | None, on_repetition: RepetitionHook | None
) -> TrialResult | None:
    """Messages from the trial until its result; None on timeout; an error result on a crash."""
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
        ready = wait([receiver, process.sentinel], timeout)
        if not ready:
            return None
        if receiver in ready:
            try:
                message = receiver.recv()
            except EOFError:
                return _crashed(process)
            if message[0] == "result":
                return message[1]
            if on_repetition is not None:
                on_repetition(*message[1:])
        elif not receiver.poll():
            return _crashed(process)


def _crashed(process: Any) -> TrialResult:
    process.join(EXIT_GRACE_S)
    code = process.exitcode
    if code is not None and code < 0:
        how = f"was killed by {signal.Signals(-code).name}"
    else:
        how = f"exited with code {code}"
    return TrialResult(error=f"the trial process {how} before reporting a result")
