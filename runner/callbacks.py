"""The Hydra callback that turns trials into MLflow runs.

Before anything runs it validates the whole sweep and checks the tracking store, so bad
input stops the launch with one line and no run. Then: a parent run per sweep
(``parsweep.role=sweep``), a child run per trial (``parsweep.role=trial``) with the
spec's params, metrics, tags and artifacts, and at the end a summary table, the list of
failed trials and a non-zero exit if there were any.

The callback is pickled to remote launchers' workers (Ray, submitit) after
``on_multirun_start``: everything a job needs (URI, experiment and parent ids, total)
travels in its plain attributes; the MLflow client is recreated where it is used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from pathlib import Path
from typing import Any, Iterator

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from runner import terminal
from runner.hostinfo import facts_as_tags, host_facts
from runner.results import TrialResult
from runner.spec import ConfigError, TrialSpec, build_spec
from runner.sweep import plan_sweep
from runner.tracking import ROLE_TAG, Tracker, TrackingError, check_reachable, resolve_uri

EXIT_BAD_INPUT = 2
EXIT_TRIALS_FAILED = 1


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user's mistake into one line on stderr and exit 2 (SystemExit passes Hydra's guard)."""
    try:
        yield
    except (ConfigError, TrackingError) as exc:
        terminal.error(str(exc))
        raise SystemExit(EXIT_BAD_INPUT) from None


def trial_params(spec: TrialSpec) -> dict[str, Any]:
    return {
        "backend": spec.backend,
        "workers": spec.workers,
        "n": spec.n,
        "workload": spec.workload,
        "repeats": spec.repeats,
        "warmup": spec.warmup,
        "start_method": spec.start_method,
    }


class TrackingCallback(Callback):
    def __init__(self) -> None:
        self.uri: str | None = None
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self.total: int | None = None
        self.done = 0
        self.failures: list[str] = []
        self._tracker: Tracker | None = None
        self._trial_run_id: str | None = None
        self._facts: dict[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tracker"] = None
        return state

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            assert self.uri is not None
            self._tracker = Tracker(self.uri)
        return self._tracker

    # -- before anything runs ------------------------------------------------------------

    def _open_store(self, config: DictConfig, experiment: str) -> None:
        self.uri = resolve_uri(config.tracking.get("uri"), config.hydra.runtime.cwd)
        check_reachable(self.uri)
        self.experiment_id = self.tracker.experiment_id(experiment)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        with user_errors():
            spec = build_spec(config)
            self._open_store(config, spec.experiment)
        self.total = 1

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with user_errors():
            plan = plan_sweep(config)
            experiments = sorted({trial.spec.experiment for trial in plan})
            if len(experiments) > 1:
                raise ConfigError("experiment", ",".join(experiments), "a sweep logs to one experiment; sweep it in separate launches")
            self._open_store(config, experiments[0])
        self.total = len(plan)
        swept = [a.split("=", 1)[0] for a in config.hydra.overrides.task if "," in a or "(" in a]
        params = config.hydra.sweeper.get("params") or {}
        swept = list(dict.fromkeys([*params.keys(), *swept]))
        started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        name = f"sweep · {'×'.join(swept) or 'one trial'} · {started}"
        tags = {
            ROLE_TAG: "sweep",
            "parsweep.trials_total": str(self.total),
            "parsweep.overrides": " ".join(config.hydra.overrides.task),
            "parsweep.sweep_dir": str(Path(config.hydra.sweep.dir).resolve()),
        }
        choice = config.hydra.runtime.choices.get("sweep")
        if choice:
            tags["parsweep.preset"] = str(choice)
        self.parent_run_id = self.tracker.start_run(self.experiment_id, name, tags)
        print(f"parsweep: {self.total} trials -> experiment '{experiments[0]}' at {self.uri}", flush=True)

    # -- one trial -------------------------------------------------------------------------

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        spec = build_spec(config)
        self._facts = host_facts()
        tags = {
            ROLE_TAG: "trial",
            "parsweep.config_hash": spec.config_hash(),
            "parsweep.backend": spec.backend,
            **facts_as_tags(self._facts),
        }
        self._trial_run_id = self.tracker.start_run(
            self.experiment_id, terminal.trial_name(spec), tags, parent_run_id=self.parent_run_id
        )

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        spec = build_spec(config)
        if job_return.status == JobStatus.COMPLETED and isinstance(job_return.return_value, TrialResult):
            result = job_return.return_value
        else:
            result = TrialResult(error=f"internal error: {terminal.describe(job_return._return_value)}")
        run_id = self._trial_run_id
        assert run_id is not None, "on_job_start did not create the run"
        tags: dict[str, str] = {}
        if result.error:
            tags["parsweep.error"] = result.error
        if result.warnings:
            tags["parsweep.warnings"] = "\n".join(result.warnings)
        self.tracker.log_trial(
            run_id,
            params=trial_params(spec),
            metrics=result.metrics(),
            series={"rep_wall_time_s": result.wall_times_s},
            tags=tags,
        )
        hydra_dir = Path(config.hydra.runtime.output_dir) / str(config.hydra.output_subdir)
        self.tracker.log_files(run_id, [(hydra_dir / "config.yaml", ".hydra"), (hydra_dir / "overrides.yaml", ".hydra")])
        self.tracker.log_json(run_id, "host.json", self._facts)
        self.tracker.finish(run_id, "FAILED" if result.failed else "FINISHED")
        self._trial_run_id = None

        self.done += 1
        print(terminal.trial_line(spec, result, self.done, self.total), flush=True)
        for warning in result.warnings:
            terminal.warn(warning)
        if result.failed:
            self.failures.append(f"{terminal.trial_name(spec)}: {result.error}")

    # -- the end -------------------------------------------------------------------------------

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.failures:
            raise SystemExit(EXIT_TRIALS_FAILED)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from analysis.publish import publish_sweep

        assert self.experiment_id is not None and self.parent_run_id is not None
        runs = self.tracker.children(self.experiment_id, self.parent_run_id)
        failed = [run for run in runs if run.info.status != "FINISHED"]
        missing = (self.total or 0) - len(runs)
        self.tracker.finish(self.parent_run_id, "FAILED" if failed or missing > 0 else "FINISHED")
        print()
        print(publish_sweep(self.uri, self.parent_run_id))
        print()
        print(f"Browse the runs: make ui   (or: mlflow ui --backend-store-uri {self.uri} --host 127.0.0.1)")
        print(f"This sweep's run id: {self.parent_run_id}", flush=True)
        if failed or missing > 0:
            print(f"\n{len(failed)} of {self.total} trials failed:", file=sys.stderr)
            for run in failed:
                error = run.data.tags.get("parsweep.error", run.info.status)
                print(f"  {run.info.run_name}: {error}", file=sys.stderr)
            if missing > 0:
                print(f"  {missing} trials never reported a result", file=sys.stderr)
            sys.stderr.flush()
            raise SystemExit(EXIT_TRIALS_FAILED)


