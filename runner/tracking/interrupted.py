"""Sweeps whose launcher died: shown as interrupted, with the command that resumes them.

A sweep's run carries its launcher's host, pid and boot id (``parsweep.launcher.*``). A run
still RUNNING whose launcher is gone from this host (``kill -9``, a crash, a reboot:
:func:`runner.host.liveness.process_gone`) can never end by itself: the next ``parsweep`` on
this host marks it KILLED and says how to resume it, and ``parsweep-report`` says the same.
A RUNNING sweep launched on another host may be alive; it is only named as running there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.host.liveness import launcher_identity, on_this_host, process_gone
from runner.tracking import names

RESUME_COMMAND = "parsweep -m"


def launcher_tags() -> dict[str, str]:
    """The tags that say who runs a sweep (set when it starts and when it is resumed)."""
    identity = launcher_identity()
    return {names.LAUNCHER_HOST_TAG: identity["host"], names.LAUNCHER_PID_TAG: identity["pid"],
            names.LAUNCHER_BOOT_TAG: identity["boot"]}


def resume_command(run: Any) -> str:
    """The command that finishes ``run``'s sweep: its own overrides, plus ``resume=<its id>``."""
    overrides = [o for o in str(run.data.tags.get(names.OVERRIDES_TAG, "")).split() if not o.startswith("resume=")]
    return " ".join([RESUME_COMMAND, *overrides, f"resume={run.info.run_id}"])


@dataclass
class Abandoned:
    """A RUNNING sweep and what is known of its launcher."""

    run: Any
    host: str
    pid: int | None
    gone: bool  # known to be gone (its host is this one)

    @property
    def run_id(self) -> str:
        return str(self.run.info.run_id)

    @property
    def name(self) -> str:
        return str(self.run.info.run_name)

    def line(self) -> str:
        """One line for the user."""
        if self.gone:
            return (f"parsweep: sweep '{self.name}' ({self.run_id}) was interrupted: its launcher (pid {self.pid} on this host) "
                    f"is gone; resume it: {resume_command(self.run)}")
        if on_this_host(self.host) and self.pid is not None:
            return f"parsweep: sweep '{self.name}' ({self.run_id}) is running (pid {self.pid} on this host)"
        return (f"parsweep: sweep '{self.name}' ({self.run_id}) is RUNNING, launched on {self.host or 'an unknown host'}"
                f"{f' (pid {self.pid})' if self.pid else ''}; if that launcher is gone, resume it: {resume_command(self.run)}")


def judge(run: Any) -> Abandoned:
    """What is known of a RUNNING sweep's launcher."""
    tags = run.data.tags
    host = str(tags.get(names.LAUNCHER_HOST_TAG, ""))
    try:
        pid: int | None = int(tags.get(names.LAUNCHER_PID_TAG, ""))
    except ValueError:
        pid = None
    since = (run.info.start_time or 0) / 1000 or None
    gone = pid is not None and on_this_host(host) and process_gone(pid, since, tags.get(names.LAUNCHER_BOOT_TAG))
    return Abandoned(run, host, pid, gone)


def running_sweeps(tracker: Any, experiment_id: str) -> list[Abandoned]:
    """Every sweep of the experiment whose run is RUNNING, judged (this launch's own excluded by the caller)."""
    found = tracker.search(experiment_id, f"tags.`{names.ROLE_TAG}` = 'sweep' and attributes.status = 'RUNNING'")
    return [judge(run) for run in found]


def close_abandoned(tracker: Any, experiment_id: str, keep: str | None = None) -> list[Abandoned]:
    """Mark KILLED every RUNNING sweep whose launcher is gone from this host (and its trial runs
    left RUNNING, half-written when the launcher died); returns them. ``keep``: a run id left alone."""
    closed = []
    for sweep in running_sweeps(tracker, experiment_id):
        if not sweep.gone or sweep.run_id == keep:
            continue
        reason = f"its launcher (pid {sweep.pid} on {sweep.host}) ended without closing the sweep (kill -9, a crash or a reboot)"
        for child in tracker.children(experiment_id, sweep.run_id):
            if child.info.status == "RUNNING":
                tracker.set_tags(child.info.run_id, {names.ERROR_TAG: reason})
                tracker.finish(child.info.run_id, "KILLED")
        tracker.set_tags(sweep.run_id, {names.ERROR_TAG: reason})
        tracker.finish(sweep.run_id, "KILLED")
        closed.append(sweep)
    return closed


def running_sweep_lines(uri: str, experiment: str) -> list[str]:
    """For ``parsweep-report``: one line per RUNNING sweep of the experiment (interrupted ones
    with the command that resumes them). Nothing when the store cannot tell."""
    from runner.tracking.store import Tracker

    try:
        tracker = Tracker(uri)
        found = tracker.client.get_experiment_by_name(experiment)
        if found is None:
            return []
        return [sweep.line() for sweep in running_sweeps(tracker, found.experiment_id)]
    except Exception:
        return []
