"""The Hydra callback that turns trials into MLflow runs.

Before anything runs it validates the whole sweep and checks the tracking store, so bad
input stops the launch with one line and no run. Then: a parent run per sweep
(``parsweep.role=sweep``), a child run per trial (``parsweep.role=trial``) with the
spec's params, metrics, tags and artifacts, and at the end a summary table, the list of
failed trials and a non-zero exit if there were any.

The callback is pickled to remote launchers' workers (Ray, submitit) after
``on_multirun_start``: everything a job needs (URI, experiment and parent ids, total)
travels in its plain attributes; the MLflow client is recreated where it is used.

Nothing recorded is lost: every finished trial goes to the sweep's journal
(:mod:`runner.tracking.journal`) before MLflow is tried, so a tracking server that goes away
mid-sweep costs no result (upload later: ``python -m runner.tracking.journal upload DIR``). On
Ctrl-C / SIGTERM the launcher calls :func:`abort_live_runs`: the running trial and the sweep
become KILLED runs. ``resume=true`` skips trials whose config hash already has a FINISHED
run. ``reproduces`` (set by ``parsweep-reproduce``) tags the new runs with the run they re-run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from runner.ui import progress, terminal
from runner.host.facts import facts_as_tags, host_facts
from runner.execute.isolation import signals_deferred
from runner.tracking.journal import UPLOAD_COMMAND, Journal, log_trial_record, new_key, now_ms, read_files
from runner.trial.results import TrialResult
from runner.trial.spec import ConfigError, TrialSpec, build_spec, parse_flag
from runner.app.plan import plan_sweep, resume_enabled, skipped_by_resume
from runner.tracking.store import ROLE_TAG, Tracker, TrackingError, check_reachable, resolve_uri

EXIT_BAD_INPUT = 2
EXIT_TRIALS_FAILED = 1
EXIT_NOT_LOGGED = 3  # every trial ran, but some results wait in the journal for upload
REPRODUCES_TAG = "parsweep.reproduces"
STORE_RECHECK_TIMEOUT_S = 1.0
_LIVE: list["TrackingCallback"] = []  # this process's callbacks, for abort_live_runs
SWEEP_TAG = "parsweep.sweep"


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
        "chunks": spec.chunk_count,
    }


LAUNCHER_PACKAGES = {
    "hydra_plugins.hydra_ray_launcher": "pip install --no-deps 'hydra-ray-launcher==1.2.2' (beside the cluster extra)",
    "hydra_plugins.hydra_submitit_launcher": "pip install 'parsweep[cluster]'",
}


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


def browse_hint(uri: str, experiment_id: str | None) -> str:
    """How to look at the runs: the server's page, or the command that serves a local store."""
    if uri.startswith(("http://", "https://")):
        return f"Browse the runs: {uri.rstrip('/')}/#/experiments/{experiment_id}/runs"
    return f"Browse the runs: make ui   (or: mlflow ui --backend-store-uri {uri} --host 127.0.0.1)"


def settle_collector() -> None:
    """Keep what exists now (Hydra, MLflow, soon pandas and matplotlib: ~500k objects) out of
    every later garbage collection, and turn the collector (back) on.

    A launch spent ~1 s in the collector's full passes over those long-lived objects: while
    it started (``parsweep``'s main() holds the collector off until here) and at the end of a
    sweep, importing the analysis. One collection clears what start-up left behind, then
    ``gc.freeze()`` (what preforking servers do) moves the rest to a permanent generation;
    what the launcher allocates afterwards is collected as usual. Called once the sweep (or
    lone trial) is set up, and again as the sweep ends. (The job configs of the plan, frozen
    with the rest, live until the sweep ends anyway: the launcher returns them.)
    """
    if not gc.isenabled():
        gc.collect()
    gc.freeze()
    gc.enable()


class TrackingCallback(Callback):
    def __init__(self, reproduces: str | None = None) -> None:
        self.reproduces = str(reproduces) if reproduces else None
        self.journal_dir: str | None = None
        self.experiment_name: str | None = None
        self.store_down = False
        self.parent_finished = False
        self._trial_tags: dict[str, str] = {}
        self._trial_name: str | None = None
        self._trial_started_ms: int | None = None
        self.uri: str | None = None
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self.total: int | None = None
        self.done = 0
        self.failures: list[str] = []
        self._tracker: Tracker | None = None
        self._trial_run_id: str | None = None
        self._facts: dict[str, Any] | None = None
        self.quiet = False
        self._last_line: str | None = None

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
        self.experiment_name = experiment

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # Hydra sets it only later; ${hydra:...} values need it
        with user_errors():
            spec = build_spec(config)
            self._open_store(config, spec.experiment)
        self.total = 1
        self.journal_dir = str(Path(config.hydra.run.dir).resolve())
        _LIVE.append(self)
        self._start_progress(config)
        settle_collector()

    def _start_progress(self, config: DictConfig) -> None:
        """A live display when jobs run in this process on a terminal; plain lines otherwise."""
        with user_errors():
            self.quiet = parse_flag("quiet", config.get("quiet", False))
        local = str(config.hydra.launcher.get("_target_", "")).endswith((".BasicLauncher", ".ParsweepLauncher"))
        progress.activate(progress.SweepProgress(self.total or 1, progress.choose_mode(self.quiet, local)))

    def _display(self) -> progress.SweepProgress:
        """This process's display (a remote launcher's worker gets plain lines of its own)."""
        shown = progress.active()
        if shown is None:
            mode = progress.QUIET if self.quiet else progress.LINES
            shown = progress.activate(progress.SweepProgress(self.total or 1, mode))
        return shown

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # Hydra sets it only later; ${hydra:...} values need it
        with user_errors():
            check_launcher_installed(config)
            plan = plan_sweep(config)
            experiments = sorted({trial.spec.experiment for trial in plan})
            if len(experiments) > 1:
                raise ConfigError("experiment", ",".join(experiments), "a sweep logs to one experiment; sweep it in separate launches")
            self._open_store(config, experiments[0])
            skipped = skipped_by_resume(config, plan, self.tracker) if resume_enabled(config) else []
        remote = remote_launcher(config)
        if remote and not str(self.uri).startswith(("http://", "https://")):
            terminal.warn(
                f"tracking.uri={self.uri}: trials launched by {remote} may run on other machines, which cannot "
                "log to a local store; use a shared server: tracking=server tracking.uri=http://HOST:5000"
            )
        self.total = len(plan) - len(skipped)
        self.journal_dir = str(Path(config.hydra.sweep.dir).resolve())
        swept = [a.split("=", 1)[0] for a in config.hydra.overrides.task if "," in a or "(" in a]
        params = config.hydra.sweeper.get("params") or {}
        swept = list(dict.fromkeys([*params.keys(), *swept]))
        choice = config.hydra.runtime.choices.get("sweep")
        name = terminal.sweep_name([trial.spec for trial in plan], dt.datetime.now(), choice)
        tags = {
            ROLE_TAG: "sweep",
            "parsweep.trials_total": str(self.total),
            "parsweep.swept": ",".join(swept),
            "parsweep.overrides": " ".join(config.hydra.overrides.task),
            "parsweep.sweep_dir": str(Path(config.hydra.sweep.dir).resolve()),
        }
        if choice:
            tags["parsweep.preset"] = str(choice)
        if skipped:
            tags["parsweep.resume_skipped"] = str(len(skipped))
        if self.reproduces:
            tags[REPRODUCES_TAG] = self.reproduces
        started_ms = now_ms()
        with signals_deferred():
            self.parent_run_id = self.tracker.start_run(self.experiment_id, name, tags, start_time_ms=started_ms)
            # Filtering by `tags.parsweep.sweep = '<id>'` finds the sweep and all its trials.
            self.tracker.set_tags(self.parent_run_id, {SWEEP_TAG: self.parent_run_id})
            _LIVE.append(self)
        journal = self._journal()
        journal.append({
            "kind": "sweep", "key": "sweep", "uri": self.uri, "experiment": experiments[0], "run_id": self.parent_run_id,
            "name": name, "tags": tags, "start_time_ms": started_ms,
        })
        journal.mark_logged("sweep", self.parent_run_id, self.uri)
        self._start_progress(config)
        if resume_enabled(config):
            self._display().note(
                f"parsweep: resume=true: skipping {len(skipped)} of {len(plan)} trials that already have a FINISHED run "
                f"in experiment '{experiments[0]}'; running {self.total}"
            )
        self._display().note(f"parsweep: {self.total} trials -> experiment '{experiments[0]}' at {self.uri}")
        settle_collector()

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
        if spec.workload == "custom":
            tags["parsweep.workload_function"] = str(spec.workload_options.get("function"))
        if self.parent_run_id:
            tags[SWEEP_TAG] = self.parent_run_id
        if self.reproduces:
            tags[REPRODUCES_TAG] = self.reproduces
        self._trial_tags, self._trial_name, self._trial_started_ms = tags, terminal.trial_name(spec), now_ms()
        self._display().trial_started(terminal.trial_name(spec), spec.warmup + spec.repeats_planned, spec.warmup)
        self._trial_run_id = None
        if self._store_available():
            try:
                with signals_deferred():
                    self._trial_run_id = self.tracker.start_run(
                        self.experiment_id, self._trial_name, tags, parent_run_id=self.parent_run_id,
                        start_time_ms=self._trial_started_ms,
                    )
            except Exception as exc:  # the trial runs anyway; its result goes to the journal
                self._store_failed(exc)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        spec = build_spec(config)
        if job_return.status == JobStatus.COMPLETED and isinstance(job_return.return_value, TrialResult):
            result = job_return.return_value
        else:
            result = TrialResult(error=f"internal error: {terminal.describe(job_return._return_value)}")
        tags: dict[str, str] = dict(getattr(result, "tags", None) or {})  # cluster.* from cluster backends
        if result.error:
            tags["parsweep.error"] = result.error
        if result.warnings:
            tags["parsweep.warnings"] = "\n".join(result.warnings)
        hydra_dir = Path(config.hydra.runtime.output_dir) / str(config.hydra.output_subdir)
        files = read_files([(hydra_dir / "config.yaml", ".hydra/config.yaml"), (hydra_dir / "overrides.yaml", ".hydra/overrides.yaml")])
        files["host.json"] = json.dumps(self._facts, indent=2, sort_keys=True, default=str)
        with signals_deferred():  # a finished trial is recorded whole, even when Ctrl-C comes now
            self._record_trial(
                {
                    "params": trial_params(spec),
                    "metrics": result.metrics(),
                    "series": result.series(),
                    "tags": {**self._trial_tags, **tags},
                    "status": "FAILED" if result.failed else "FINISHED",
                    "files": files,
                }
            )

        self.done += 1
        self._last_line = terminal.trial_line(spec, result, self.done, self.total)
        display = self._display()
        display.trial_finished(self._last_line, result.failed)
        for warning in result.warnings:
            display.warn(warning)
        if result.failed:
            self.failures.append(f"{terminal.trial_name(spec)}: {result.error}")

    # -- the journal, and a store that went away ----------------------------------------------

    def _journal(self) -> Journal:
        assert self.journal_dir is not None
        return Journal(self.journal_dir)

    def _store_available(self) -> bool:
        """False while the store is known to be down (an HTTP server is re-checked quickly)."""
        if not self.store_down:
            return True
        try:
            check_reachable(str(self.uri), timeout_s=STORE_RECHECK_TIMEOUT_S)
        except TrackingError:
            return False
        if not str(self.uri).startswith(("http://", "https://")):
            return False  # a local store that failed once: keep journaling, upload at the end
        self.store_down = False
        self._display().note(f"parsweep: the tracking store {self.uri} answers again; logging resumes")
        return True

    def _store_failed(self, exc: BaseException) -> None:
        if not self.store_down:
            self._display().warn(
                f"tracking store {self.uri} unreachable ({terminal.describe(exc).splitlines()[0]}); trials go on and their "
                f"results are kept in {self._journal().path}; upload them later: {UPLOAD_COMMAND} {self.journal_dir}"
            )
        self.store_down = True
        self._tracker = None  # a fresh client when the store is back

    def _record_trial(self, outcome: dict[str, Any]) -> None:
        """Journal the finished trial, then log it to MLflow if the store is there."""
        record = {
            "kind": "trial",
            "key": new_key(),
            "uri": self.uri,
            "experiment": self.experiment_name,
            "run_id": self._trial_run_id,
            "parent_run_id": self.parent_run_id,
            "name": self._trial_name,
            "start_time_ms": self._trial_started_ms,
            "end_time_ms": now_ms(),
            **outcome,
        }
        journal = self._journal()
        journal.append(record)
        self._trial_run_id = self._trial_name = self._trial_started_ms = None  # nothing left to abort
        if not self._store_available():
            return
        try:
            run_id = log_trial_record(
                self.tracker, record, self.parent_run_id, created=record["run_id"] is not None, created_tags=self._trial_tags
            )
        except Exception as exc:
            self._store_failed(exc)
            return
        journal.mark_logged(record["key"], run_id, str(self.uri))

    def abort(self, reason: str) -> None:
        """Ctrl-C / SIGTERM: the running trial and the sweep become KILLED runs (journaled too)."""
        if self.journal_dir is None:
            return
        journal = self._journal()
        if self._trial_name is not None and self._trial_started_ms is not None:
            record = {
                "kind": "trial", "key": new_key(), "uri": self.uri, "experiment": self.experiment_name,
                "run_id": self._trial_run_id, "parent_run_id": self.parent_run_id, "name": self._trial_name,
                "start_time_ms": self._trial_started_ms, "end_time_ms": now_ms(),
                "params": {}, "metrics": {}, "series": {}, "files": {},
                "tags": {**self._trial_tags, "parsweep.error": reason}, "status": "KILLED",
            }
            journal.append(record)
            with contextlib.suppress(Exception):
                run_id = log_trial_record(
                    self.tracker, record, self.parent_run_id, created=record["run_id"] is not None, created_tags=self._trial_tags
                )
                journal.mark_logged(record["key"], run_id, str(self.uri))
            print(f"parsweep: {reason}: trial '{self._trial_name}' stopped, its run marked KILLED", file=sys.stderr)
        self._trial_name = self._trial_started_ms = None
        if self.parent_run_id and not self.parent_finished:
            journal.append({"kind": "sweep_end", "key": "sweep_end", "status": "KILLED", "end_time_ms": now_ms()})
            with contextlib.suppress(Exception):
                self.tracker.set_tags(self.parent_run_id, {"parsweep.error": reason})
                self.tracker.finish(self.parent_run_id, "KILLED")
                journal.mark_logged("sweep_end", self.parent_run_id, str(self.uri))
            self.parent_finished = True
            print(
                f"parsweep: sweep {self.parent_run_id} marked KILLED; the {self.done} trial(s) that finished keep their numbers",
                file=sys.stderr,
            )
        sys.stderr.flush()

    # -- the end -------------------------------------------------------------------------------

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        progress.deactivate()
        if self.quiet and self.failures:  # quiet still reports errors, one line each
            for failure in self.failures:
                terminal.error(failure)
        elif self.quiet and self._last_line:  # a lone trial's line is its final table
            print(self._last_line, flush=True)
        _LIVE[:] = [c for c in _LIVE if c is not self]
        unlogged = [r for r in self._journal().pending() if r["kind"] == "trial"] if self.journal_dir else []
        if unlogged:
            print(
                f"parsweep: the trial ran but is not in the tracking store {self.uri} (it was unreachable); its result is in "
                f"{self._journal().path}. Upload it when the store is back:  {UPLOAD_COMMAND} {self.journal_dir}",
                file=sys.stderr, flush=True,
            )
            raise SystemExit(EXIT_NOT_LOGGED)
        if self.failures:
            raise SystemExit(EXIT_TRIALS_FAILED)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        assert self.experiment_id is not None and self.parent_run_id is not None
        settle_collector()
        journal = self._journal()
        unlogged = [r for r in journal.pending() if r["kind"] == "trial"]
        runs = None
        if not unlogged and self._store_available():
            with contextlib.suppress(Exception):
                runs = self.tracker.children(self.experiment_id, self.parent_run_id)
        if runs is None:
            self._end_with_journal(journal, unlogged)
        failed = [run for run in runs if run.info.status != "FINISHED"]
        missing = (self.total or 0) - len(runs)
        status = "FAILED" if failed or missing > 0 else "FINISHED"
        with signals_deferred():
            journal.append({"kind": "sweep_end", "key": "sweep_end", "status": status, "end_time_ms": now_ms()})
            self.tracker.finish(self.parent_run_id, status)
            self.parent_finished = True
            journal.mark_logged("sweep_end", self.parent_run_id, str(self.uri))
        progress.deactivate()
        if self.total == 0:
            print("parsweep: resume=true: every trial of this sweep already has a FINISHED run; nothing ran", flush=True)
            return
        if not self.quiet:
            print()
        try:  # the table is a courtesy: failing to draw it must not hide failed trials or the exit code
            from analysis.publish import publish_sweep

            print(publish_sweep(self.uri, self.parent_run_id), flush=True)
        except Exception as exc:
            terminal.warn(f"could not build the speedup table: {terminal.describe(exc)}")
        if not self.quiet:
            print()
            print(browse_hint(str(self.uri), self.experiment_id))
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

    def _end_with_journal(self, journal: Journal, unlogged: list[dict[str, Any]]) -> None:
        """The store missed some results: say where they are and how to upload them; exit 3."""
        status = "FAILED" if self.failures else "FINISHED"
        journal.append({"kind": "sweep_end", "key": "sweep_end", "status": status, "end_time_ms": now_ms()})
        if self._store_available():
            with contextlib.suppress(Exception):
                self.tracker.finish(self.parent_run_id, status)
                journal.mark_logged("sweep_end", str(self.parent_run_id), str(self.uri))
        self.parent_finished = True
        progress.deactivate()
        print(
            f"\nparsweep: {len(unlogged)} of {self.total} trials ran but are not in the tracking store {self.uri} "
            f"(it was unreachable); nothing is lost: their results are in {journal.path}.\n"
            f"Upload them when the store is back:  {UPLOAD_COMMAND} {self.journal_dir}",
            file=sys.stderr,
        )
        for failure in self.failures:
            print(f"  failed: {failure}", file=sys.stderr)
        sys.stderr.flush()
        raise SystemExit(EXIT_NOT_LOGGED)


def abort_live_runs(reason: str) -> None:
    """Mark this process's running trial and sweep KILLED (called by the launcher on Ctrl-C / SIGTERM)."""
    with contextlib.suppress(Exception):
        progress.deactivate()
    with signals_deferred():
        while _LIVE:
            callback = _LIVE.pop()
            try:
                callback.abort(reason)
            except Exception as exc:  # the exit code and the other callbacks still matter more
                terminal.warn(f"could not mark the runs KILLED: {terminal.describe(exc)}")


