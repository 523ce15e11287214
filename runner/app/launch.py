"""One launch: what its parts share, and the one door by which Hydra's parts reach it.

``parsweep`` (:func:`runner.app.main.main`) opens a :class:`Launch` once per launch, before Hydra
starts: whether it is a dry run. The tracking callback (:mod:`runner.app.callbacks`) adds the
launch's :class:`~runner.app.session.Session` once it has one, the sweep's plan once it is made
(:func:`runner.app.plan.plan_sweep`), and itself to :attr:`Launch.live` while its runs are open; the
sweeper and the launcher take the plan, the report callback (``runner.app.report_callback``) the
session, the launcher and the task hand their schedulers :attr:`Launch.in_flight`, and ``main``
itself marks the live runs KILLED on Ctrl-C (:meth:`Launch.abort_live_runs`), each callback
recording the trials in flight.

Hydra instantiates the callbacks, the sweeper and the launcher from the config, each by itself,
and they share nothing but the process: so the open launch is reachable through :func:`current`,
the Hydra app layer's one piece of process-wide state (``tests/test_layout.py``,
``GLOBALS_ALLOWED``). What the launch's parts hand each other is on this object, never in a module.
The session also travels on the tracking callback to a remote launcher's workers (pickled with
it); the launch stays in the launching process.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from runner.app.callbacks import TrackingCallback
    from runner.app.plan import Plan
    from runner.app.session import Session
    from runner.execute.schedule import InFlight


@dataclass
class Launch:
    """What the parts of one launch share (see the module docstring)."""

    dry_run: bool = False  # --dry-run: list the plan, run nothing (runner.app.main)
    session: Session | None = None  # opened by the tracking callback when the launch starts
    plan: Plan | None = None  # the sweep's plan, from on_multirun_start to on_multirun_end
    live: list[TrackingCallback] = field(default_factory=list)  # callbacks whose runs are open, for Ctrl-C
    _in_flight: InFlight | None = field(default=None, repr=False)

    @property
    def in_flight(self) -> InFlight:
        """The trials this launch's schedulers are measuring and have not handed over yet, for
        Ctrl-C (made on first use: a dry run measures nothing and need not import the scheduler)."""
        if self._in_flight is None:
            from runner.execute.schedule import InFlight

            self._in_flight = InFlight()
        return self._in_flight

    def plan_of(self, primary: DictConfig) -> Plan | None:
        """The plan of ``primary``'s sweep, if one was made (Hydra hands the callbacks, the sweeper
        and the launcher the very same primary config object)."""
        plan = self.plan
        return plan if plan is not None and plan.primary is primary else None

    def leave(self, callback: TrackingCallback) -> None:
        """``callback``'s runs are closed: Ctrl-C has nothing of its to mark KILLED."""
        self.live[:] = [c for c in self.live if c is not callback]

    def abort_live_runs(self, reason: str) -> None:
        """Mark this launch's running trials and sweep KILLED (``main`` calls it on Ctrl-C / SIGTERM)."""
        from runner.execute.signals import signals_deferred
        from runner.ui import progress, terminal

        with contextlib.suppress(Exception):
            progress.deactivate()
        with signals_deferred():
            while self.live:
                callback = self.live.pop()
                try:
                    callback.abort(reason)
                except Exception as exc:  # the exit code and the other callbacks still matter more
                    terminal.warn(f"could not mark the runs KILLED: {terminal.describe(exc)}")


_current: Launch | None = None


def open_launch(dry_run: bool = False) -> Launch:
    """The launch that starts now; the parts Hydra instantiates reach it through :func:`current`."""
    global _current
    _current = Launch(dry_run=dry_run)
    return _current


def current() -> Launch:
    """This process's launch. One Hydra started without ``parsweep``'s entry point (a test's own
    ``hydra.main``, a remote launcher's worker) gets one on first use: no dry run, nothing shared yet."""
    return _current if _current is not None else open_launch()
