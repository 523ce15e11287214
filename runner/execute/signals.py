"""Ctrl-C and SIGTERM in the launcher: an exception at a safe point, never a half-logged trial.

SIGTERM would otherwise end the launcher on the spot, leaving the running trials' processes
(which lead their own process groups) behind and their runs RUNNING forever. With
:func:`install_signal_handlers`, both signals raise :class:`Interrupted` in the main thread;
:func:`signals_deferred` holds them back while a finished trial is being recorded.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the launcher; ``exit_code`` is 128 + the signal (130, 143)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(signal.Signals(signum).name)

    @property
    def reason(self) -> str:
        return "interrupted (Ctrl-C, SIGINT)" if self.signum == signal.SIGINT else f"stopped by {signal.Signals(self.signum).name}"


# Process-wide by nature: signal handlers are the process's, and Python calls them with no object of ours.
_deferring = 0
_received: int | None = None  # sticky: a signal raised inside a finalizer is swallowed by Python
_stopping = False


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
    """Make SIGINT and SIGTERM raise :class:`Interrupted` in the launcher (main thread only)."""
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
