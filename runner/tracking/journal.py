"""The sweep's journal: every result on disk first, so that nothing is lost when MLflow is not there.

Each launcher appends to ``parsweep-journal.jsonl`` in the sweep's output directory (a lone
trial's: its run directory): one JSON line when the sweep starts, one per finished trial
(params, metrics, every repetition, tags, the ``.hydra`` files and ``host.json``, its
status and times), one when the sweep ends, and a ``logged`` line each time one of those
reached the tracking store. A result's line is fsync'ed before the store is tried.

When the tracking server goes away mid-sweep, trials keep running and their lines stay
unlogged. Upload them later (the store is then told exactly what it missed; runs that were
half-written are completed, never duplicated)::

    parsweep-journal upload multirun/2026-11-25/12-04-47
    parsweep-journal upload DIR --tracking-uri http://127.0.0.1:5000   # another store
    parsweep-journal status DIR

(or ``make upload-journal DIR=...``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from runner.tracking.names import SWEEP_TAG

JOURNAL_NAME = "parsweep-journal.jsonl"
UPLOAD_COMMAND = "parsweep-journal upload"


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def new_key() -> str:
    return uuid.uuid4().hex


class Journal:
    """Append-only JSON lines in ``directory/parsweep-journal.jsonl``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        path = Path(directory)
        self.path = path if path.name == JOURNAL_NAME else path / JOURNAL_NAME

    @property
    def directory(self) -> Path:
        return self.path.parent

    def append(self, record: dict[str, Any], durable: bool = True) -> None:
        """Write one record (several launchers' jobs may append to one journal); ``durable``:
        fsync'ed before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # one write in O_APPEND mode: lines never interleave
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def mark_created(self, key: str, run_id: str) -> None:
        """A trial's run exists in the store (its params and metrics may not have reached it yet)."""
        self.append({"kind": "created", "key": key, "run_id": run_id, "time_ms": now_ms()}, durable=False)

    def mark_logged(self, key: str, run_id: str | None, uri: str) -> None:
        # Not fsync'ed: a "logged" line lost in a crash only makes an upload look at that run
        # again, and the upload completes a run rather than duplicating it.
        self.append({"kind": "logged", "key": key, "run_id": run_id, "uri": uri, "time_ms": now_ms()}, durable=False)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash mid-write: nothing after it is lost
                continue
        return out

    def pending(self) -> list[dict[str, Any]]:
        """Sweep, trial and sweep-end records that never reached the store whole (a trial whose
        run was created before the store went away carries that run's id, to be completed)."""
        records = self.records()
        logged = {r["key"] for r in records if r.get("kind") == "logged"}
        created = {r["key"]: r["run_id"] for r in records if r.get("kind") == "created"}
        pending = []
        for record in records:
            if record.get("kind") in ("sweep", "trial", "sweep_end") and record["key"] not in logged:
                if record.get("kind") == "trial" and not record.get("run_id") and record["key"] in created:
                    record = {**record, "run_id": created[record["key"]]}
                pending.append(record)
        return pending


def read_files(files: Iterable[tuple[Path, str]]) -> dict[str, str]:
    """``{artifact path: text}`` for the files that exist (the ``.hydra`` YAMLs)."""
    out = {}
    for path, artifact_path in files:
        if path.exists():
            out[artifact_path] = path.read_text()
    return out


# -- to the tracking store -----------------------------------------------------------------


def log_trial_record(
    tracker: Any, record: dict[str, Any], parent_run_id: str | None, created: Callable[[str], None] | None = None
) -> str:
    """Put one journaled trial into the store: a new run, or the rest of a half-written one.

    ``created`` is told a new run's id as soon as it exists, before its params and metrics
    are sent (the journal keeps it, so that an upload later completes that run, never adds another).
    """
    experiment_id = tracker.experiment_id(record["experiment"])
    tags = dict(record.get("tags") or {})
    if parent_run_id and SWEEP_TAG in tags:
        tags[SWEEP_TAG] = parent_run_id
    params = dict(record.get("params") or {})
    metrics = dict(record.get("metrics") or {})
    series = {k: list(v) for k, v in (record.get("series") or {}).items()}
    existing = tracker.get_run(record["run_id"]) if record.get("run_id") else None
    if existing is None:
        run_id = tracker.start_run(
            experiment_id, record["name"], tags, parent_run_id=parent_run_id, start_time_ms=record.get("start_time_ms")
        )
        if created is not None:
            created(run_id)
        tags = {}  # sent with the run's creation
    else:  # created before the store went away: add only what it lacks
        run_id = existing.info.run_id
        params = {k: v for k, v in params.items() if k not in existing.data.params}
        metrics = {k: v for k, v in metrics.items() if k not in existing.data.metrics}
        series = {k: v for k, v in series.items() if not tracker.metric_history(run_id, k)}
    tracker.log_trial(run_id, params=params, metrics=metrics, series=series, tags=tags)
    tracker.log_texts(run_id, record.get("files") or {})
    tracker.finish(run_id, record["status"], record.get("end_time_ms"))
    return run_id


def upload(directory: str | os.PathLike[str], uri: str | None = None, out: Any = sys.stdout) -> int:
    """Log every pending record of the journal in ``directory``; returns how many runs were written.

    Raises :class:`runner.tracking.store.TrackingError` when the store cannot be reached.
    """
    from runner.tracking.store import Tracker, check_reachable

    journal = Journal(directory)
    records = journal.records()
    if not records:
        raise FileNotFoundError(f"no journal at {journal.path}")
    pending = journal.pending()
    if not pending:
        print(f"parsweep: nothing to upload: every record of {journal.path} is in the tracking store", file=out)
        return 0
    target = uri or next(r["uri"] for r in records if r.get("uri"))
    check_reachable(target)
    tracker = Tracker(target)
    logged = {r["key"]: r.get("run_id") for r in records if r.get("kind") == "logged"}
    pending_keys = {r["key"] for r in pending}
    written = 0

    parent_run_id = None
    sweep = next((r for r in records if r.get("kind") == "sweep"), None)
    if sweep is not None:
        parent_run_id = logged.get(sweep["key"]) or sweep.get("run_id")
        if sweep["key"] in pending_keys or parent_run_id is None or tracker.get_run(parent_run_id) is None:
            experiment_id = tracker.experiment_id(sweep["experiment"])
            parent_run_id = tracker.start_run(experiment_id, sweep["name"], dict(sweep.get("tags") or {}), start_time_ms=sweep.get("start_time_ms"))
            tracker.set_tags(parent_run_id, {SWEEP_TAG: parent_run_id})
            journal.mark_logged(sweep["key"], parent_run_id, target)
            written += 1
    for record in pending:
        if record["kind"] != "trial":
            continue
        run_id = log_trial_record(tracker, record, record.get("parent_run_id") and parent_run_id)
        journal.mark_logged(record["key"], run_id, target)
        written += 1
        print(f"  uploaded {record['name']} ({record['status']}) -> run {run_id}", file=out)
    for record in pending:
        if record["kind"] == "sweep_end" and parent_run_id:
            tracker.finish(parent_run_id, record["status"], record.get("end_time_ms"))
            journal.mark_logged(record["key"], parent_run_id, target)
    print(f"parsweep: uploaded {written} run(s) from {journal.path} to {target}", file=out)
    if parent_run_id:
        print(f"This sweep's run id: {parent_run_id}", file=out)
    return written


def status(directory: str | os.PathLike[str], out: Any = sys.stdout) -> int:
    """Print what the journal holds and what still waits for upload; returns the pending count."""
    journal = Journal(directory)
    records = journal.records()
    trials = [r for r in records if r.get("kind") == "trial"]
    pending = [r for r in journal.pending() if r["kind"] == "trial"]
    print(f"{journal.path}: {len(trials)} trial(s), {len(pending)} not yet in the tracking store", file=out)
    for record in pending:
        print(f"  pending: {record['name']} ({record['status']})", file=out)
    return len(pending)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="parsweep-journal",
        description="Upload to MLflow what a sweep kept in its journal while the tracking store was unreachable.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upload", help="log every pending record of a sweep's journal")
    up.add_argument("directory", help="the sweep's output directory (multirun/DATE/TIME) or the journal file")
    up.add_argument("--tracking-uri", default=None, help="another store than the one the sweep used")
    st = commands.add_parser("status", help="what the journal holds and what still waits")
    st.add_argument("directory")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no "View run" line per run
    from runner.tracking.store import TrackingError

    try:
        if args.command == "status":
            raise SystemExit(1 if status(args.directory) else 0)
        upload(args.directory, args.tracking_uri)
    except (TrackingError, FileNotFoundError) as exc:
        print(f"parsweep: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        print(f"parsweep: error: upload stopped ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
              "what was uploaded is marked, run the same command again", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
