"""Progress of a sweep whose jobs run elsewhere (``hydra/launcher=ray``, ``submitit_*``).

Jobs of a remote launcher run in other processes, often on other machines: each records its
trial in the tracking store, but none knows how many the others finished, and their output
goes to the launcher's logs or, prefixed and coloured, through Ray. So remote jobs print
nothing, and the launching process watches the store instead (:class:`RemoteProgress`, a
thread polling the sweep's trial runs once a second): one ``[k/N]`` line per trial as its run
ends, with its warnings under it, the same lines a local sweep prints.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any

from runner.tracking import names
from runner.trial.results import TrialResult
from runner.ui.terminal import trial_line

POLL_S = 1.0


def line_of(run: Any, done: int, total: int, extra: list[str]) -> tuple[str, list[str], bool]:
    """A trial run's terminal line, its warnings, and whether it failed."""
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    spec = types.SimpleNamespace(backend=params.get("backend", "?"), workers=int(params.get("workers", 1)), n=int(params.get("n", 0)))
    samples = tags.get(names.SAMPLES_TAG, "")
    result = TrialResult(wall_times_s=[float(v) for v in samples.split(",") if v])
    result.error = tags.get(names.ERROR_TAG) or (None if run.info.status == "FINISHED" else run.info.status)
    trust = tags.get(names.TRUST_TAG, "ok")
    result.trust = [] if trust == "ok" else trust.split("; ")
    result.reps_discarded = int(metrics.get(names.REPS_DISCARDED_METRIC, 0))
    warnings = [w for w in tags.get(names.WARNINGS_TAG, "").split("\n") if w]
    return trial_line(spec, result, done, total, extra), warnings, result.failed  # type: ignore[arg-type]


class RemoteProgress:
    """Prints each trial of the sweep as its run ends in the store (see the module docstring)."""

    def __init__(self, session: Any, show: Callable[..., None]) -> None:
        self.session, self.show = session, show
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="parsweep-remote-progress", daemon=True)

    def start(self) -> RemoteProgress:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching, after one last look (what ended meanwhile is printed too)."""
        self._stop.set()
        self._thread.join(30)
        self.poll()

    def _watch(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.poll()
            except Exception:  # the store hiccuped: the next look will tell
                continue

    def poll(self) -> None:
        session = self.session
        if not session.recorder.available():
            return
        runs = session.recorder.tracker.children(session.experiment_id, session.parent_run_id)
        for run in runs:
            if run.info.run_id in self.seen or run.info.status == "RUNNING" or (run.info.start_time or 0) < session.launched_ms:
                continue
            self.seen.add(run.info.run_id)
            extra = [f"{key}={run.data.params[key]}" for key in session.swept if key in run.data.params]
            line, warnings, failed = line_of(run, len(self.seen), session.total, extra)
            self.show(line, failed, warnings, trial=run.info.run_name)
