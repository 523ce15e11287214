"""What a launch records and how it ended: the store, the sweep's run, the trials counted.

The tracking callback (:mod:`runner.app.callbacks`) makes a session when a launch starts and puts
it on the launch (:attr:`runner.app.launch.Launch.session`); the report callback
(``runner.app.report_callback``) reads it there at the end to draw the table. The session travels
with the callback to a remote launcher's workers (it pickles without its MLflow client).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.tracking.recorder import Recorder


@dataclass
class Session:
    """What a launch needs to record its trials and end well."""

    uri: str
    experiment: str
    experiment_id: str
    recorder: Recorder
    total: int = 1
    quiet: bool = False
    plots: bool = True  # the sweep's report draws its plots (``plots``)
    multirun: bool = False
    parent_run_id: str | None = None
    resumed: bool = False
    sweep_dir: str | None = None
    swept: list[str] = field(default_factory=list)  # keys whose values differ between trials
    done: int = 0
    failures: list[str] = field(default_factory=list)
    last_line: str | None = None
    last_run_id: str | None = None
    finished: bool = False  # the sweep's run has ended (no KILLED on the way out)
    local: bool = True  # jobs run in this process (else a remote launcher's workers record them)
    launched_ms: int = 0  # when this launch began (a resumed sweep has older trials)
    settled: bool = False
    # (trial, warning) the sweep's display held back, said once each at its end (SweepProgress.held)
    held_warnings: list[tuple[str, str]] = field(default_factory=list)
    watcher: Any = None  # remote launchers: the RemoteProgress printing their trials (runner.app.remote)

    def __getstate__(self) -> dict[str, Any]:  # to a remote launcher's worker: no thread travels
        state = dict(self.__dict__)
        state["watcher"] = None
        return state

    def settle(self) -> None:
        """Count what this launch recorded. Jobs of a remote launcher were recorded by its
        workers, each with its own copy of this session: the store knows what they did."""
        if self.settled or self.local or not self.parent_run_id:
            return
        self.settled = True
        if self.watcher is not None:
            self.watcher.stop()  # every trial line before what comes after the sweep
        if not self.recorder.available():
            return
        from runner.tracking import names

        try:
            runs = self.recorder.tracker.children(self.experiment_id, self.parent_run_id)
        except Exception:  # the store went away: what this process saw is all there is
            return
        ours = [run for run in runs if (run.info.start_time or 0) >= self.launched_ms]
        self.done = len(ours)
        self.failures = [
            f"{run.info.run_name}: {run.data.tags.get(names.ERROR_TAG, run.info.status)}" for run in ours if run.info.status != "FINISHED"
        ]

