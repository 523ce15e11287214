"""``resume``: finish an interrupted sweep, in the sweep's own run.

``resume=true`` looks for the most recent sweep of the experiment with the same plan (the same
set of trials: ``parsweep.plan_hash``); ``resume=<run id>`` names the sweep. Only that sweep's
trials count: a trial whose config hash has a FINISHED run *in that sweep* is skipped, every
other one runs, and the new runs join the same sweep run, which is running again until the
launch ends. So the sweep's report holds the trials from before the interruption, baselines
included, and the ones measured now. Without such a sweep, the launch is a new sweep that
runs everything (and says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.app.plan import Plan, PlannedTrial
from runner.tracking import names
from runner.trial.values import ConfigError


@dataclass
class Resumption:
    """The sweep being resumed and what of it is done already."""

    sweep_run: Any
    skipped: list[PlannedTrial]

    @property
    def run_id(self) -> str:
        return str(self.sweep_run.info.run_id)


def find_resumption(setting: bool | str, plan: Plan, tracker: Any, experiment_id: str, experiment: str) -> Resumption | None:
    """The sweep to resume (None: none matches, the launch is a new sweep); :class:`ConfigError` for a bad id."""
    if setting is False:
        return None
    if isinstance(setting, str):
        run = tracker.get_run(setting)
        if run is None or run.data.tags.get(names.ROLE_TAG) != "sweep":
            raise ConfigError("resume", setting, f"no sweep run with that id in {tracker.uri}; give true, or a sweep's run id")
        if run.info.experiment_id != experiment_id:
            raise ConfigError("resume", setting, f"that sweep belongs to another experiment than '{experiment}'")
    else:
        found = tracker.search(
            experiment_id,
            f"tags.`{names.ROLE_TAG}` = 'sweep' and tags.`{names.PLAN_HASH_TAG}` = '{plan.plan_hash}'",
            newest_first=True,
            max_results=1,
        )
        if not found:
            return None
        run = found[0]
    finished = {
        child.data.tags.get(names.CONFIG_HASH_TAG)
        for child in tracker.children(experiment_id, run.info.run_id)
        if child.info.status == "FINISHED"
    }
    return Resumption(run, [trial for trial in plan.trials if trial.spec.config_hash() in finished])


def resume_command(argv: list[str], program: str = "parsweep") -> str:
    """The command that finishes an interrupted sweep: the launch's own words plus ``resume=true``
    (an earlier ``resume=...`` and ``--dry-run`` dropped), quoted for a POSIX shell."""
    import shlex

    words = [word for word in argv if not word.startswith("resume=") and word != "--dry-run"]
    return shlex.join([program, *words, "resume=true"])
