"""A trial's run: what it holds (params, metrics, tags, files), written to the journal, then to MLflow.

Nothing recorded is lost: every finished trial goes to the sweep's journal
(:mod:`runner.tracking.journal`) before MLflow is tried, so a tracking server that goes away
mid-sweep costs no result (upload later: ``parsweep-journal upload DIR``). A trial's run is
created when it has been measured, with its params, metrics and tags in one batch; an
interrupted trial becomes a KILLED run that still says what it was (its params). No Hydra here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.host.facts import facts_as_tags, host_facts
from runner.tracking import names
from runner.tracking.journal import UPLOAD_COMMAND, Journal, log_trial_record, new_key, now_ms
from runner.tracking.store import Tracker, TrackingError, check_reachable, first_line
from runner.trial.quality import trust_text
from runner.trial.results import TrialResult
from runner.trial.spec import TrialSpec

STORE_RECHECK_TIMEOUT_S = 1.0


def trial_params(spec: TrialSpec) -> dict[str, Any]:
    """The spec's params (exact names), and parsweep's own beside them."""
    return {
        "backend": spec.backend,
        "workers": spec.workers,
        "n": spec.n,
        "workload": spec.workload,
        "repeats": spec.repeats,
        "warmup": spec.warmup,
        "start_method": spec.start_method,
        "chunks": spec.chunk_count,
        "python": spec.python,
        "gil": "default" if spec.gil is None else spec.gil,
    }


def samples_text(values: list[float]) -> str:
    """The repetitions' wall times as one tag value (``repr`` keeps every digit)."""
    return ",".join(repr(v) for v in values)


def identity_tags(spec: TrialSpec, sweep_run_id: str | None, reproduces: str | None) -> dict[str, str]:
    """What a trial run is, known before it runs (what a KILLED run says too)."""
    tags = {
        names.ROLE_TAG: "trial",
        names.CONFIG_HASH_TAG: spec.config_hash(),
        names.BACKEND_TAG: spec.backend,
    }
    if spec.workload == "custom":
        tags[names.WORKLOAD_FUNCTION_TAG] = str(spec.workload_options.get("function"))
    if sweep_run_id:
        tags[names.SWEEP_TAG] = sweep_run_id
    if reproduces:
        tags[names.REPRODUCES_TAG] = reproduces
    return tags


def outcome_tags(result: TrialResult) -> dict[str, str]:
    """What a measured trial adds: its host and interpreter, trust, warnings, samples, schedule."""
    tags = dict(result.tags)  # cluster.* from cluster backends
    facts = host_facts(python=result.python or None)
    tags.update(facts_as_tags(facts))  # python.label among them: the interpreter as reports name it
    if result.error:
        tags[names.ERROR_TAG] = result.error
    if result.warnings:
        tags[names.WARNINGS_TAG] = "\n".join(result.warnings)
    if not result.failed:
        tags[names.TRUST_TAG] = trust_text(result.trust)
    if result.discarded:
        tags[names.DISCARDED_TAG] = "\n".join(result.discarded)
    if result.wall_times_s:
        tags[names.SAMPLES_TAG] = samples_text(result.wall_times_s)
    if result.sample_rounds and len(result.sample_rounds) == len(result.wall_times_s) == len(result.sample_starts):
        tags[names.SAMPLE_ROUNDS_TAG] = ",".join(str(index) for index in result.sample_rounds)
        tags[names.SAMPLE_STARTS_TAG] = samples_text(result.sample_starts)
    if result.sample_processes and len(result.sample_processes) == len(result.wall_times_s):
        tags[names.SAMPLE_PROCESSES_TAG] = ",".join(str(index) for index in result.sample_processes)
    if result.sample_probes and len(result.sample_probes) == len(result.wall_times_s):
        tags[names.SAMPLE_PROBES_TAG] = samples_text(result.sample_probes)
    if result.cpus:
        tags[names.CPUS_TAG] = ",".join(str(cpu) for cpu in result.cpus)
    if result.repeats_stop:
        tags[names.REPEATS_STOP_TAG] = result.repeats_stop
    if result.schedule:
        tags[names.SCHEDULE_TAG] = result.schedule
    if result.schedule_seed is not None:
        tags[names.SCHEDULE_SEED_TAG] = str(result.schedule_seed)
    if result.group:
        tags[names.GROUP_TAG] = result.group
    tags["host.json"] = json.dumps(facts, sort_keys=True, default=str)  # popped into the host.json file below
    return tags


@dataclass
class Recorder:
    """Writes trials to one sweep's journal and, when it answers, its tracking store."""

    uri: str
    experiment: str
    journal_dir: str
    parent_run_id: str | None = None
    reproduces: str | None = None
    warn: Callable[[str], None] = print
    note: Callable[[str], None] = print
    store_down: bool = False
    recorded: list[dict[str, Any]] = field(default_factory=list)  # what this launch recorded: status, name, error
    _tracker: Tracker | None = None

    def __getstate__(self) -> dict[str, Any]:  # travels to remote launchers' workers without its client
        state = dict(self.__dict__)
        state["_tracker"] = None
        state["warn"] = state["note"] = print
        return state

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            self._tracker = Tracker(self.uri)
        return self._tracker

    @property
    def journal(self) -> Journal:
        return Journal(self.journal_dir)

    def record(self, spec: TrialSpec, result: TrialResult, name: str, files: dict[str, str]) -> str | None:
        """Journal the trial, then log it to MLflow if the store is there; returns its run id."""
        key = new_key()
        tags = {**identity_tags(spec, self.parent_run_id, self.reproduces), **outcome_tags(result), names.JOURNAL_KEY_TAG: key}
        files = {**files, "host.json": tags.pop("host.json")}
        started = int((result.started_at or 0) * 1000) or now_ms()
        record = {
            "kind": "trial", "key": key, "uri": self.uri, "experiment": self.experiment, "run_id": None,
            "parent_run_id": self.parent_run_id, "name": name, "start_time_ms": started, "end_time_ms": now_ms(),
            "params": trial_params(spec), "metrics": result.metrics(), "series": result.series(), "tags": tags,
            "status": "FAILED" if result.failed else "FINISHED", "files": files,
        }
        return self._write(record, result.error)

    def record_killed(self, spec: TrialSpec, name: str, started_at: float | None, reason: str) -> str | None:
        """An interrupted trial: a KILLED run that says what it was."""
        key = new_key()
        tags = {**identity_tags(spec, self.parent_run_id, self.reproduces), names.ERROR_TAG: reason, names.JOURNAL_KEY_TAG: key}
        record = {
            "kind": "trial", "key": key, "uri": self.uri, "experiment": self.experiment, "run_id": None,
            "parent_run_id": self.parent_run_id, "name": name, "start_time_ms": int((started_at or 0) * 1000) or now_ms(),
            "end_time_ms": now_ms(), "params": trial_params(spec), "metrics": {}, "series": {}, "files": {},
            "tags": tags, "status": "KILLED",
        }
        return self._write(record, reason)

    def _write(self, record: dict[str, Any], error: str | None) -> str | None:
        journal = self.journal
        journal.append(record)
        self.recorded.append({"name": record["name"], "status": record["status"], "error": error})
        if not self.available():
            return None
        try:
            run_id = log_trial_record(
                self.tracker, record, self.parent_run_id, created=lambda run_id: journal.mark_created(record["key"], run_id)
            )
        except Exception as exc:
            self.failed(exc)
            return None
        journal.mark_logged(record["key"], run_id, self.uri)
        return run_id

    # -- a store that went away -----------------------------------------------------------------

    def available(self) -> bool:
        """False while the store is known to be down (an HTTP server is re-checked quickly)."""
        if not self.store_down:
            return True
        try:
            check_reachable(self.uri, timeout_s=STORE_RECHECK_TIMEOUT_S)
        except TrackingError:
            return False
        if not self.uri.startswith(("http://", "https://")):
            return False  # a local store that failed once: keep journaling, upload at the end
        self.store_down = False
        self.note(f"parsweep: the tracking store {self.uri} answers again; logging resumes")
        return True

    def failed(self, exc: BaseException) -> None:
        if not self.store_down:
            self.warn(
                f"tracking store {self.uri} unreachable ({first_line(exc)}); trials go on and their results are kept in "
                f"{self.journal.path}; upload them later: {UPLOAD_COMMAND} {self.journal_dir}"
            )
        self.store_down = True
        self._tracker = None  # a fresh client when the store is back

    def unlogged(self) -> list[dict[str, Any]]:
        """This sweep's trial records that the store does not hold whole.

        Counted from this sweep's own records (its journal, its run id), then checked against
        the store: a record whose run is there and ended (its ``parsweep.journal_key`` says
        which record it is) was logged, even if the line saying so was lost, and is marked so.
        """
        journal = self.journal
        pending = [r for r in journal.pending() if r["kind"] == "trial" and r.get("parent_run_id") == self.parent_run_id]
        if not pending or not self.available():
            return pending
        try:
            stored = self._ended_in_store(pending)
        except Exception:  # the store cannot tell: what the journal says stands
            return pending
        for record in pending:
            if record["key"] in stored:
                journal.mark_logged(record["key"], stored[record["key"]], self.uri)
        return [r for r in pending if r["key"] not in stored]

    def _ended_in_store(self, records: list[dict[str, Any]]) -> dict[str, str]:
        """``{journal key: run id}`` of the records whose run is in the store and has ended."""
        tracker = self.tracker
        if self.parent_run_id:
            runs = tracker.children(tracker.experiment_id(self.experiment), self.parent_run_id)
        else:
            runs = [run for run in (tracker.get_run(r["run_id"]) for r in records if r.get("run_id")) if run is not None]
        return {
            str(run.data.tags[names.JOURNAL_KEY_TAG]): str(run.info.run_id)
            for run in runs
            if names.JOURNAL_KEY_TAG in run.data.tags and run.info.status != "RUNNING"
        }

    def finish_sweep(self, status: str) -> None:
        """The sweep's run ends with ``status`` (journaled first; logged if the store is there)."""
        journal = self.journal
        journal.append({"kind": "sweep_end", "key": "sweep_end", "status": status, "end_time_ms": now_ms()})
        if self.parent_run_id and self.available():
            with contextlib.suppress(Exception):
                self.tracker.finish(self.parent_run_id, status)
                journal.mark_logged("sweep_end", self.parent_run_id, self.uri)
