"""The Hydra callback that turns a launch into MLflow runs; it delegates each concern.

Before anything runs it plans and validates the whole sweep (:mod:`runner.app.plan`) and
checks the tracking store, so bad input stops the launch with one line, no run and no folder.
Then the launch takes an output folder of its own (:mod:`runner.app.folders`), closes the runs
of sweeps whose launcher died on this host (:mod:`runner.tracking.interrupted`, one line each
with the command that resumes them), and starts the sweep's run (``parsweep.role=sweep``; with
``resume``, the resumed sweep's run again, :mod:`runner.app.resume`), a run per trial as each is measured (:mod:`runner.tracking.recorder`:
journal first, then MLflow), one line per trial, its warnings held for the end (said once each,
with their trials: the report's section, else here), and at the end
where everything is, the failed trials, and the exit code. The speedup table is the report
callback's (``runner.app.report_callback``). What it shares with the launch's other parts (the
dry-run flag, its session, the sweep's plan, itself while its runs are open) is on the launch
(:mod:`runner.app.launch`). On Ctrl-C / SIGTERM ``parsweep`` calls
:meth:`~runner.app.launch.Launch.abort_live_runs`, which calls :meth:`TrackingCallback.abort`:
trials measured but not yet recorded are recorded, the one being measured becomes a KILLED run
(with its params), and so does the sweep.

Exceptions of its own become one warning line here, never Hydra's two-line warning; user
mistakes exit 2 with one error line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from runner.app import launch as launches
from runner.app.folders import claim_output_dir, pin_clock
from runner.app.plan import Plan, plan_sweep, plan_trial
from runner.app.resume import find_resumption
from runner.app.session import Session
from runner.execute.signals import signals_deferred
from runner.host.liveness import on_this_host
from runner.tracking import names
from runner.tracking.interrupted import close_abandoned, judge, launcher_tags
from runner.tracking.journal import UPLOAD_COMMAND, now_ms, read_files
from runner.tracking.recorder import Recorder
from runner.tracking.store import Tracker, TrackingError, check_reachable, resolve_uri
from runner.trial.quality import group_warnings
from runner.trial.results import TrialResult
from runner.trial.spec import DEFAULTS, build_spec, parse_resume
from runner.trial.values import ConfigError, parse_flag
from runner.ui import progress, terminal

EXIT_BAD_INPUT = 2
EXIT_TRIALS_FAILED = 1
EXIT_NOT_LOGGED = 3  # every trial ran, but some results wait in the journal for upload

LAUNCHER_PACKAGES = {
    "hydra_plugins.hydra_ray_launcher": "pip install --no-deps 'hydra-ray-launcher==1.2.2' (beside the cluster extra)",
    "hydra_plugins.hydra_submitit_launcher": "pip install 'parsweep[cluster]'",
}


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user's mistake into one line on stderr and exit 2 (SystemExit passes Hydra's guard)."""
    try:
        yield
    except (ConfigError, TrackingError) as exc:
        progress.deactivate()
        terminal.error(str(exc))
        raise SystemExit(EXIT_BAD_INPUT) from None


def own_warnings(hook: Callable[..., None]) -> Callable[..., None]:
    """An unexpected error of a hook becomes one parsweep warning line (Hydra would print two)."""

    @functools.wraps(hook)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            hook(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            terminal.warn(f"parsweep's tracking failed in {hook.__name__}: {terminal.describe(exc)}")

    return guarded


def check_launcher_installed(config: DictConfig) -> None:
    """A shipped launcher config whose plugin is not installed: one line, before any run."""
    import importlib.util

    target = str(config.hydra.launcher.get("_target_", ""))
    for package, how in LAUNCHER_PACKAGES.items():
        if target.startswith(package + ".") and importlib.util.find_spec(package) is None:
            choice = config.hydra.runtime.choices.get("hydra/launcher")
            raise ConfigError("hydra/launcher", choice, f"needs the {package.split('.')[-1]} plugin: {how}")


def remote_launcher(config: DictConfig) -> str | None:
    """How the launcher is named when its trials may run on other machines, else None."""
    launcher = config.hydra.launcher
    target = str(launcher.get("_target_", ""))
    if target.endswith(".SlurmLauncher"):
        return "hydra/launcher=submitit_slurm"
    if target.endswith(".RayLauncher"):
        address = OmegaConf.select(launcher, "ray.init.address")
        if address not in (None, "local"):
            return f"hydra/launcher=ray (address {address})"
    return None


def _start_fork_servers(plan: Plan) -> None:
    """The fork servers the plan's trials will fork from, started now (they boot while the
    launcher opens its store: :func:`runner.execute.processes.start_fork_servers`)."""
    from runner.execute.processes import start_fork_servers

    start_fork_servers((trial.interpreter.executable, trial.interpreter.gil) for trial in plan.to_run)


def local_launcher(config: DictConfig) -> bool:
    """Whether jobs run in this process (their repetitions can feed a live display here)."""
    return str(config.hydra.launcher.get("_target_", "")).endswith(".ParsweepLauncher")


def browse_hint(uri: str, experiment_id: str | None) -> str:
    """How to look at the runs: the server's page, or the command that serves a local store."""
    # MLflow 3.17's UI picks its GenAI or its runs-table layout from a `workflowType` setting
    # (the side bar's toggle, remembered by the browser), not from the experiment's tags: a link
    # that names it opens on the runs table.
    page = f"#/experiments/{experiment_id}?workflowType=machine_learning"
    if uri.startswith(("http://", "https://")):
        return f"Browse the runs: {uri.rstrip('/')}/{page}"
    return (f"Browse the runs: make ui   (or: mlflow ui --backend-store-uri {uri} --host 127.0.0.1), "
            f"then open http://127.0.0.1:5000/{page}")


def report_location(session: Session) -> str | None:
    """Where the sweep's report files are: a folder for a local store, else the run's artifacts page."""
    if not session.parent_run_id or not session.recorder.available():
        return None
    try:
        artifact_uri = str(session.recorder.tracker.client.get_run(session.parent_run_id).info.artifact_uri)
    except Exception:
        return None
    if artifact_uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        folder = Path(unquote(urlparse(artifact_uri).path)) / "report"
        return str(folder) if folder.is_dir() else None
    if session.uri.startswith(("http://", "https://")):
        return f"{session.uri.rstrip('/')}/#/experiments/{session.experiment_id}/runs/{session.parent_run_id}/artifacts"
    return artifact_uri + "/report"


def settle_collector() -> None:
    """Keep what exists now (Hydra, MLflow: ~500k long-lived objects) out of every later garbage
    collection, and turn the collector (back) on (``parsweep``'s main() holds it off while it
    starts: its full passes over those objects cost ~0.5 s a launch). ``gc.freeze()`` is what
    preforking servers do; what the launcher allocates afterwards is collected as usual. No
    collection comes first: the start-up leaves ~5k unreachable objects among the ~450k, and
    finding them costs 0.3 s a launch; frozen, they hold a few hundred kB until the process ends."""
    gc.freeze()
    gc.enable()


def swept_keys(plan: Plan) -> list[str]:
    """The settings whose values differ between the plan's trials, beyond backend, workers and n."""
    values: dict[str, set[str]] = {}
    for trial in plan.trials:
        for override in trial.overrides:
            key, _, value = override.partition("=")
            values.setdefault(key.lstrip("+~"), set()).add(value)
    shown = {"backend", "workers", "n"}
    return [key for key, seen in values.items() if len(seen) > 1 and key not in shown and not key.startswith("hydra")]


def launched_as() -> str:
    """How to type this command again: ``parsweep`` when that is what the shell finds, else its path
    (``.venv/bin/parsweep`` run without activating); ``python -m runner`` launches say ``parsweep``."""
    import shutil

    script = Path(sys.argv[0])
    if script.name != "parsweep":
        return "parsweep"
    found = shutil.which("parsweep")
    if found and Path(found).resolve() == script.resolve():
        return "parsweep"
    return sys.argv[0]


def swept_values(plan: Plan) -> dict[str, str]:
    """The sweep run's params: each key whose value differs between the plan's trials, and its
    values in plan order (``workers`` -> ``1,2,4``), so the runs table shows what was swept."""
    values: dict[str, dict[str, None]] = {}
    for trial in plan.trials:
        for override in trial.overrides:
            key, _, value = override.partition("=")
            values.setdefault(key.lstrip("+~"), {})[value] = None
    return {key: ",".join(seen)[:6000] for key, seen in values.items() if len(seen) > 1 and not key.startswith("hydra")}


class TrackingCallback(Callback):
    """parsweep's Hydra callback (``conf/config.yaml``: ``hydra.callbacks.tracking``)."""

    def __init__(self, reproduces: str | None = None) -> None:
        self.reproduces = str(reproduces) if reproduces else None
        self.session: Session | None = None

    # -- before anything runs ------------------------------------------------------------------

    def _open(self, config: DictConfig, experiment: str) -> tuple[str, Tracker, str]:
        uri = resolve_uri(config.tracking.get("uri"), config.hydra.runtime.cwd)
        check_reachable(uri)
        tracker = Tracker(uri)
        return uri, tracker, tracker.experiment_id(experiment)

    @staticmethod
    def _flag(config: DictConfig, key: str) -> bool:
        """A true/false setting of the launch (``quiet``, ``plots``), its default when unset."""
        return parse_flag(key, config.get(key, DEFAULTS[key]))

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # Hydra sets it only later; ${hydra:...} values need it
        launch = launches.current()
        with user_errors():
            pin_clock(config)
            plan = plan_trial(config)
            quiet = self._flag(config, "quiet")
            if launch.dry_run:
                self._print_plan(plan)
                raise SystemExit(0)
            _start_fork_servers(plan)
            uri, tracker, experiment_id = self._open(config, plan.trials[0].spec.experiment)
            _, moved = claim_output_dir(config, "run")
            HydraConfig.instance().set_config(config)
        for line in [moved, *self._close_abandoned(tracker, experiment_id, None)]:
            if line:
                self._note(line)
        recorder = Recorder(uri, plan.trials[0].spec.experiment, str(Path(config.hydra.run.dir).resolve()),
                            reproduces=self.reproduces, warn=self._warn, note=self._note)
        recorder._tracker = tracker
        self.session = launch.session = Session(uri, recorder.experiment, experiment_id, recorder, total=1, quiet=quiet)
        launch.live.append(self)
        progress.activate(progress.SweepProgress(1, progress.choose_mode(quiet, True)))
        settle_collector()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # Hydra sets it only later; ${hydra:...} values need it
        launch = launches.current()
        with user_errors():
            pin_clock(config)
            check_launcher_installed(config)
            plan = launch.plan = plan_sweep(config)
            experiments = sorted({trial.spec.experiment for trial in plan.trials})
            if len(experiments) > 1:
                raise ConfigError("experiment", ",".join(experiments), "a sweep logs to one experiment; sweep it in separate launches")
            quiet = self._flag(config, "quiet")
            plots = self._flag(config, "plots")
            resume = parse_resume(config.get("resume", False))
            if launch.dry_run and not resume:
                self._print_plan(plan)
                raise SystemExit(0)
            uri, tracker, experiment_id = self._open(config, experiments[0])
            resumption = find_resumption(resume, plan, tracker, experiment_id, experiments[0])
            if resumption is not None:
                refuse_live_resumption(resumption.sweep_run)
                plan.skip(resumption.skipped)
            if launch.dry_run:
                self._print_plan(plan)
                raise SystemExit(0)
            if local_launcher(config):
                _start_fork_servers(plan)
            # Validated: now the sweep takes its folder (never one another launch wrote to).
            _, moved = claim_output_dir(config, "sweep")
            plan.use_sweep_dir()
            HydraConfig.instance().set_config(config)
        remote = remote_launcher(config)
        if remote and not uri.startswith(("http://", "https://")):
            terminal.warn(
                f"tracking.uri={uri}: trials launched by {remote} may run on other machines, which cannot "
                "log to a local store; use a shared server: tracking=server tracking.uri=http://HOST:5000"
            )
        abandoned = self._close_abandoned(tracker, experiment_id, resumption.run_id if resumption is not None else None)
        total = len(plan.to_run)
        launched_ms = now_ms()
        sweep_dir = str(Path(config.hydra.sweep.dir).resolve())
        params = config.hydra.sweeper.get("params") or {}
        choice = config.hydra.runtime.choices.get("sweep")
        task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False) or []
        tags = {
            names.ROLE_TAG: "sweep",
            names.TRIALS_TOTAL_TAG: str(len(plan.trials)),
            names.SWEPT_TAG: ",".join(dict.fromkeys([*params.keys(), *(str(a).split("=", 1)[0] for a in task if "," in str(a) or "(" in str(a))])),
            names.OVERRIDES_TAG: " ".join(str(a) for a in task),
            names.SWEEP_DIR_TAG: sweep_dir,
            names.PLAN_HASH_TAG: plan.plan_hash,
            **launcher_tags(),
        }
        if choice:
            tags[names.PRESET_TAG] = str(choice)
        if self.reproduces:
            tags[names.REPRODUCES_TAG] = self.reproduces
        recorder = Recorder(uri, experiments[0], sweep_dir, reproduces=self.reproduces, warn=self._warn, note=self._note)
        recorder._tracker = tracker
        with signals_deferred():
            if resumption is not None:
                parent = resumption.run_id
                resumed = int(resumption.sweep_run.data.tags.get(names.RESUMED_TAG, "0") or 0) + 1
                tracker.reopen(parent)
                tracker.set_tags(parent, {names.RESUMED_TAG: str(resumed), names.RESUME_SKIPPED_TAG: str(len(plan.skipped)),
                                          names.SWEEP_DIR_TAG: sweep_dir, **launcher_tags()})
                name = resumption.sweep_run.info.run_name
            else:
                name = terminal.sweep_name([trial.spec for trial in plan.trials], dt.datetime.now(), choice)
                parent = tracker.start_run(experiment_id, name, tags, start_time_ms=now_ms())
                tracker.set_tags(parent, {names.SWEEP_TAG: parent})  # `tags.parsweep.sweep = '<id>'` finds it and its trials
                with contextlib.suppress(Exception):  # a courtesy for the runs table: never stops a sweep
                    from mlflow.entities import Param

                    tracker.client.log_batch(parent, params=[Param(k, v) for k, v in swept_values(plan).items()])
            recorder.parent_run_id = parent
            self.session = launch.session = Session(
                uri, experiments[0], experiment_id, recorder, total=total, quiet=quiet, plots=plots, multirun=True, parent_run_id=parent,
                resumed=resumption is not None, sweep_dir=sweep_dir, swept=swept_keys(plan), local=local_launcher(config),
                launched_ms=launched_ms,
            )
            launch.live.append(self)
        journal = recorder.journal
        journal.append({"kind": "sweep", "key": "sweep", "uri": uri, "experiment": experiments[0], "run_id": parent,
                        "name": name, "tags": tags, "start_time_ms": now_ms()})
        journal.mark_logged("sweep", parent, uri)
        display = progress.activate(progress.SweepProgress(max(total, 1), progress.choose_mode(quiet, local_launcher(config))))
        if moved:
            display.note(moved)
        for line in abandoned:
            display.note(line)
        display.held = self.session.held_warnings  # said once each at the end, with their trials
        if resumption is not None:
            display.note(
                f"parsweep: resuming sweep {parent}: {len(plan.skipped)} of {len(plan.trials)} trials already FINISHED there; "
                f"running {total}"
            )
        elif resume:
            display.note(f"parsweep: resume: no earlier sweep with this plan in experiment '{experiments[0]}': running all {total} trials")
        from runner.ui.plan import estimate_text

        display.note(f"parsweep: {total} trials, {estimate_text(plan.to_run)} -> experiment '{experiments[0]}' at {uri}")
        if not self.session.local:  # its jobs record their trials elsewhere: watch the store for them
            from runner.app.remote import RemoteProgress

            self.session.watcher = RemoteProgress(self.session, display.trial_finished).start()
        settle_collector()

    @staticmethod
    def _close_abandoned(tracker: Tracker, experiment_id: str, resumed: str | None) -> list[str]:
        """Sweeps of this experiment whose launcher died on this host: marked KILLED, one line each
        with the command that resumes them (none for the sweep this launch resumes)."""
        try:
            closed = close_abandoned(tracker, experiment_id)
        except Exception as exc:  # a store that cannot tell must not stop the launch
            return [f"parsweep: could not look for interrupted sweeps ({terminal.describe(exc)})"]
        return [sweep.line() for sweep in closed if sweep.run_id != resumed]

    def _print_plan(self, plan: Plan) -> None:
        from runner.ui.plan import print_plan

        try:
            print_plan(plan)
        except BrokenPipeError:  # `--dry-run | head`: the reader left. Exit, or Hydra, which makes a
            # callback's exception a warning, would go on and run the sweep.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None

    # -- one trial -------------------------------------------------------------------------------

    @own_warnings
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        pass  # the trial's run is created once it has been measured (see runner.tracking.recorder)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        session = self.session
        if session is None:
            return
        spec = build_spec(config)
        result = self._result_of(job_return)
        hydra_dir = Path(config.hydra.runtime.output_dir) / str(config.hydra.output_subdir)
        files = read_files([(hydra_dir / "config.yaml", ".hydra/config.yaml"), (hydra_dir / "overrides.yaml", ".hydra/overrides.yaml")])
        name = terminal.trial_name(spec)
        with signals_deferred():  # a finished trial is recorded whole, even when Ctrl-C comes now
            session.last_run_id = session.recorder.record(spec, result, name, files)
        if session.multirun and not session.local:
            return  # a remote launcher's job: the launching process prints its line (runner.app.remote)
        session.done += 1
        extra = [f"{key}={OmegaConf.select(config, key)}" for key in session.swept if OmegaConf.select(config, key) is not None]
        session.last_line = terminal.trial_line(spec, result, session.done, session.total, extra)
        display = progress.active() or progress.activate(
            progress.SweepProgress(session.total, progress.QUIET if session.quiet else progress.LINES)
        )
        display.trial_finished(session.last_line, result.failed, result.warnings, trial=name)
        if result.failed:
            session.failures.append(f"{name}: {result.error}")

    @staticmethod
    def _result_of(job_return: JobReturn) -> TrialResult:
        if job_return.status == JobStatus.COMPLETED and isinstance(job_return.return_value, TrialResult):
            return job_return.return_value
        try:
            value = job_return.return_value  # raises the task's exception (it should never raise)
        except Exception as exc:
            value = exc
        return TrialResult(error=f"internal error: {terminal.describe(value)}")

    # -- the end ---------------------------------------------------------------------------------

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        session = self.session
        progress.deactivate()
        if session is None:
            return
        launches.current().leave(self)
        if session.quiet and session.failures:  # quiet still reports errors, one line each
            for failure in session.failures:
                terminal.error(failure)
        elif session.quiet and session.last_line:  # a lone trial's line is its final table
            print(session.last_line, flush=True)
        if not session.quiet and session.last_run_id:
            print(f"This trial's run id: {session.last_run_id}", flush=True)
        if session.recorder.unlogged():
            print(
                f"parsweep: the trial ran but is not in the tracking store {session.uri} (it was unreachable); its result is in "
                f"{session.recorder.journal.path}. Upload it when the store is back:  {UPLOAD_COMMAND} {session.recorder.journal_dir}",
                file=sys.stderr, flush=True,
            )
            raise SystemExit(EXIT_NOT_LOGGED)
        if session.failures:
            raise SystemExit(EXIT_TRIALS_FAILED)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        session = self.session
        if session is None:
            return
        settle_collector()
        progress.deactivate()
        launch = launches.current()
        launch.plan = None  # the launch is over: no later sweep in this process may take its plan for its own
        launch.leave(self)
        recorder = session.recorder
        session.settle()
        unlogged = recorder.unlogged()
        missing = session.total - session.done
        status = "FAILED" if session.failures or missing > 0 else "FINISHED"
        with signals_deferred():
            recorder.finish_sweep(status)
            session.finished = True
        if session.total == 0:
            print("parsweep: resume: every trial of this sweep already has a FINISHED run; nothing ran", flush=True)
        held = list(session.held_warnings)  # empty when the report said them
        session.held_warnings.clear()
        if held and not session.quiet:
            print(f"\nWarnings ({len(held)}; each kind once, with the trials that had it)")
            for line in group_warnings(held):
                print(f"  {line}")
        if not session.quiet:
            print()
            print(browse_hint(session.uri, session.experiment_id))
            print(f"This sweep's run id: {session.parent_run_id}")
            print(f"Its output folder: {session.sweep_dir}")
            report = report_location(session)
            if report:
                print(f"Its report files: {report}")
            sys.stdout.flush()
        if unlogged:
            print(
                f"\nparsweep: {len(unlogged)} of {session.total} trials ran but are not in the tracking store {session.uri} "
                f"(it was unreachable); nothing is lost: their results are in {recorder.journal.path}.\n"
                f"Upload them when the store is back:  {UPLOAD_COMMAND} {recorder.journal_dir}",
                file=sys.stderr,
            )
            for failure in session.failures:
                print(f"  failed: {failure}", file=sys.stderr)
            sys.stderr.flush()
            raise SystemExit(EXIT_NOT_LOGGED)
        if session.failures or missing > 0:
            print(f"\n{len(session.failures)} of {session.total} trials failed:", file=sys.stderr)
            for failure in session.failures:
                print(f"  {failure}", file=sys.stderr)
            if missing > 0:
                print(f"  {missing} trials never reported a result", file=sys.stderr)
            sys.stderr.flush()
            raise SystemExit(EXIT_TRIALS_FAILED)

    # -- Ctrl-C, SIGTERM ---------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """Record what was measured, mark the trial being measured and the sweep KILLED."""
        session = self.session
        if session is None:
            return
        in_flight = launches.current().in_flight
        for live in in_flight:
            name = live.job.name or terminal.trial_name(live.spec)
            if live.result is not None:  # measured: it keeps every number
                session.recorder.record(live.spec, live.result, name, {})
                session.done += 1
            else:
                session.recorder.record_killed(live.spec, name, live.started_at or None, reason)
                print(f"parsweep: {reason}: trial '{name}' stopped, its run marked KILLED", file=sys.stderr)
            in_flight.handed_over(live.job)
        if session.parent_run_id and not session.finished:
            session.recorder.finish_sweep("KILLED")
            with contextlib.suppress(Exception):
                session.recorder.tracker.set_tags(session.parent_run_id, {names.ERROR_TAG: reason})
            session.finished = True
            print(
                f"parsweep: sweep {session.parent_run_id} marked KILLED; the {session.done} trial(s) that finished keep their numbers",
                file=sys.stderr,
            )
            if session.multirun:
                from runner.app.resume import resume_command

                program = launched_as()
                print(f"parsweep: to finish it (only what did not finish runs): {resume_command(sys.argv[1:], program)}",
                      file=sys.stderr)
        sys.stderr.flush()

    # -- messages --------------------------------------------------------------------------------------

    def _warn(self, text: str) -> None:
        shown = progress.active()
        if shown is not None:
            shown.warn(text)
        else:
            terminal.warn(text)

    def _note(self, text: str) -> None:
        shown = progress.active()
        if shown is not None:
            shown.note(text)
        else:
            print(text, flush=True)


def refuse_live_resumption(sweep_run: Any) -> None:
    """A sweep still being run by a live launcher on this host is not resumed by a second one."""
    if sweep_run.info.status != "RUNNING":
        return
    sweep = judge(sweep_run)
    if on_this_host(sweep.host) and not sweep.gone and sweep.pid is not None:
        raise ConfigError("resume", sweep.run_id, f"that sweep is still running (pid {sweep.pid} on this host); wait for it, or stop it first")

