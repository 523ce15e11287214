"""Run each trial in its own process group, so that a trial can always be stopped whole.

Threads cannot be stopped from inside a process, and worker processes can outlive a
crashed parent. So every trial runs in a child process that leads its own process group;
the launcher waits for its result with a deadline and, whatever happens (result, crash,
timeout, Ctrl-C, SIGTERM), finally kills the whole group and any descendant that left it,
so nothing of a trial outlives it.

Children come from a fork server that has preloaded only :mod:`runner.trial.run` (no Hydra,
no MLflow, no sqlite connections, no threads): forking from it is cheap (a few ms) and
safe, and the trial starts from the same clean state every time. In a sweep, the next
trial's process is started as a trial ends and waits idle for its spec
(:func:`expect_another_trial`).

Trials of one host queue on a host-wide lock (:mod:`runner.host.lock`), so that concurrent
launchers never time each other. Ctrl-C and SIGTERM become :class:`Interrupted` in the
launcher (see :func:`install_signal_handlers`), which stops the running trial on its way out.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any, Iterator

from runner.host.lock import host_lock
from runner.trial.measure import RepetitionHook
from runner.host.noise import descendants
from runner.trial.results import TrialResult
from runner.trial.spec import TrialSpec

_CONTEXT = multiprocessing.get_context("forkserver")
# Everything a trial imports, loaded once in the fork server rather than in every trial
# (importing psutil and the host facts alone cost a trial ~30 ms). The cluster backends stay
# out: Ray and Dask are heavy and only their own trials need them; so does numpy_sum, because
# importing NumPy (OpenBLAS) in the fork server slowed every forked worker's pure-Python loop
# by ~4% (measured: multiprocessing x2 at n=1e8, 1.27 s against 1.21 s). A module that cannot
# be imported is skipped by the fork server.
_PRELOAD = [
    "runner.trial.run",
    "runner.host.facts",
    "psutil",
    *(f"runner.trial.backends.{name}" for name in ("serial", "threading", "multiprocessing", "thread_pool", "process_pool")),
    *(f"runner.trial.workloads.{name}" for name in ("sum_range", "count_primes", "sleep", "custom")),
]
_CONTEXT.set_forkserver_preload(_PRELOAD)
EXIT_GRACE_S = 10.0


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the launcher; ``exit_code`` is 128 + the signal (130, 143)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(signal.Signals(signum).name)

    @property
    def reason(self) -> str:
        return "interrupted (Ctrl-C, SIGINT)" if self.signum == signal.SIGINT else f"stopped by {signal.Signals(self.signum).name}"


_deferring = 0
_received: int | None = None  # sticky: a signal raised inside a finalizer is swallowed by Python
_stopping = False
POLL_S = 0.25  # how often a waiting launcher looks for a signal that was swallowed


def _on_signal(signum: int, frame: Any) -> None:
    global _received
    _received = signum
    if not _deferring and not _stopping:
        raise Interrupted(signum)


def check_interrupted() -> None:
    """Raise :class:`Interrupted` if a signal came and was not acted on (call at safe points)."""
    if _received is not None and not _deferring and not _stopping:
        raise Interrupted(_received)


def stopping() -> None:
    """The launcher is cleaning up after an interrupt: no more :class:`Interrupted` from here on."""
    global _stopping
    _stopping = True


def install_signal_handlers() -> None:
    """Make SIGINT and SIGTERM raise :class:`Interrupted` in the launcher (main thread only).

    SIGTERM would otherwise end the launcher on the spot, leaving the running trial's
    processes (which lead their own process group) behind and its run RUNNING forever.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back SIGINT/SIGTERM for the block (e.g. while a finished trial is logged), then raise."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    check_interrupted()


def _trial_main(specs: Connection, conn: Connection) -> None:
    os.setpgid(0, 0)  # lead a new process group: the launcher can kill the trial whole
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    try:
        spec, cwd = specs.recv()  # a process started ahead of its trial waits here, idle
    except EOFError:
        return  # never needed: the launcher finished, or is gone
    specs.close()
    if os.getcwd() != cwd:  # the launcher's, now (it may change per job: hydra.job.chdir)
        os.chdir(cwd)
    from runner.trial.run import run_trial

    def report(done: int, total: int, wall_s: float) -> None:
        conn.send(("repetition", done, total, wall_s))

    result = run_trial(spec, on_repetition=report)
    conn.send(("result", result))
    conn.close()


class _TrialProcess:
    """A process from the fork server that runs one trial, once it is sent the trial's spec."""

    def __init__(self) -> None:
        self.results, sender = _CONTEXT.Pipe(duplex=False)
        specs, self.specs = _CONTEXT.Pipe(duplex=False)
        self.process = _CONTEXT.Process(target=_trial_main, args=(specs, sender), name="parsweep-trial")
        with _main_script_hidden():
            self.process.start()
        sender.close()
        specs.close()

    def start(self, spec: TrialSpec) -> bool:
        """Hand the trial over; False if this process can no longer take it."""
        try:
            self.specs.send((spec, os.getcwd()))
        except OSError:  # it died while waiting (BrokenPipeError)
            return False
        finally:
            self.specs.close()
        return True

    def discard(self) -> None:
        """Let an unused process go: it sees the end of its spec pipe and exits."""
        self.specs.close()
        self.results.close()
        self.process.join(EXIT_GRACE_S)
        if self.process.exitcode is None:
            kill_group(self.process.pid)
            self.process.join()


# The next trial's process, started as the previous trial ended (see `expect_another_trial`).
_next: _TrialProcess | None = None
_another_follows = False


def expect_another_trial(follows: bool) -> None:
    """Whether another trial will follow the next one in this launcher.

    When one does, each trial's successor process is started from the fork server as soon as
    the trial ends, while the launcher logs the results, and waits idle for its spec: the next
    trial starts ~4 ms sooner. ``False`` lets any waiting process go (a launcher says so when its
    last trial is under way, and when it stops for any reason); so does the launcher's exit,
    which ends the process's spec pipe. The successor boots (~3 ms of CPU) while the host lock
    is being released, never during a timed repetition of this launcher's trials.
    """
    global _another_follows, _next
    _another_follows = follows
    if not follows and _next is not None:
        waiting, _next = _next, None
        waiting.discard()


atexit.register(expect_another_trial, False)


def _trial_process() -> _TrialProcess:
    """The process started ahead for this trial if it is still fit for it, else a new one."""
    global _next
    ready, _next = _next, None
    if ready is not None:
        if ready.process.exitcode is None:
            return ready
        ready.discard()  # it died while waiting
    return _TrialProcess()


def kill_group(pgid: int, also: list[int] | None = None) -> None:
    """SIGKILL every process left in a trial's process group, and ``also`` (none left is fine)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in also or []:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def trial_label(spec: TrialSpec) -> str:
    return f"{spec.backend} workers={spec.workers} n={spec.n}"


def run_isolated(spec: TrialSpec, on_repetition: RepetitionHook | None = None) -> TrialResult:
    """Run ``spec`` in a fresh trial process; always returns, with ``error`` set on failure.

    Waits for the host lock first (the wait is reported as a warning of the result);
    ``spec.timeout_s`` bounds the trial itself. :class:`Interrupted` / KeyboardInterrupt and
    SystemExit still propagate, after the trial's processes are gone.
    """
    global _next
    check_interrupted()
    with host_lock(trial_label(spec), check=check_interrupted, say=_lock_note) as lock_wait:
        result = _run_in_child(spec, on_repetition)
        if _another_follows and _next is None:
            _next = _TrialProcess()
    if lock_wait.holder or lock_wait.waited_s >= 1.0:
        result.warnings.append(lock_wait.message())
    return result


def _lock_note(text: str) -> None:
    """The host lock's queueing lines: on the sweep's display (so not under quiet=true), else stderr."""
    from runner.ui import progress

    shown = progress.active()
    if shown is None:
        print(text, file=sys.stderr, flush=True)
    else:
        shown.note(text)


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Keep a new trial process from re-running the launcher's main script.

    multiprocessing re-executes ``__main__`` by path in every forkserver child; for the
    ``parsweep`` console script that imports Hydra and the whole runner, ~150 ms per trial,
    and breaks the clean state the fork server exists for. The trial needs nothing from it.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) if getattr(main, "__spec__", None) is None else None
    if path is None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _run_in_child(spec: TrialSpec, on_repetition: RepetitionHook | None) -> TrialResult:
    trial = _trial_process()
    if not trial.start(spec):
        trial.discard()
        trial = _TrialProcess()
        trial.start(spec)
    began = time.perf_counter()
    deadline = None if spec.timeout_s is None else began + spec.timeout_s
    process, receiver = trial.process, trial.results
    pgid = process.pid
    try:
        result = _receive(receiver, process, deadline, on_repetition)
        if result is None:
            result = TrialResult(error=f"timed out after {spec.timeout_s:g} s (timeout_s): every process and thread of the trial was stopped")
        elif not result.failed:
            wait([process.sentinel], EXIT_GRACE_S)  # let it exit on its own before the sweep
    finally:
        # Descendants that left the group (setsid) are found through the process tree, while
        # the trial process lives; once it has exited they belong to init and only the group
        # kill can reach those still in it (a scan of every process would only cost time).
        kill_group(pgid, descendants(pgid) if process.exitcode is None else [])
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
        check_interrupted()
        timeout = POLL_S if deadline is None else min(POLL_S, max(0.0, deadline - time.perf_counter()))
        ready = wait([receiver, process.sentinel], timeout)
        if not ready:
            if deadline is not None and time.perf_counter() >= deadline:
                return None
            continue
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
