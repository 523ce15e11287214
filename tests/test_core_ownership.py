"""The parts that keep launches apart, in-process and real: folders, temporary files, locks, liveness.

Real processes race for one folder name (each must get its own); a folder and a lock file left by a
process that is gone are swept up, a live one's never; the store-opening lock leaves no file.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

from runner.app.folders import claim, holds_a_launch, override_value
from runner.host.leftovers import clean_stale, remove_unheld_lock
from runner.host.liveness import process_gone
from runner.tracking.journal import JOURNAL_NAME
from runner.tracking.store import _store_init_lock


def _claim_into(folder: str, out: multiprocessing.Queue) -> None:
    out.put(claim(folder))


def test_processes_racing_for_one_folder_each_get_their_own(tmp_path: Path) -> None:
    wanted = str(tmp_path / "multirun" / "2026-12-02" / "18-31-38")
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    racers = [context.Process(target=_claim_into, args=(wanted, results)) for _ in range(6)]
    for racer in racers:
        racer.start()
    taken = sorted(results.get(timeout=60) for _ in racers)
    for racer in racers:
        racer.join(30)
    assert len(set(taken)) == 6
    assert taken[0] == wanted and set(taken[1:]) == {f"{wanted}_{i}" for i in range(2, 7)}
    assert all((Path(folder) / JOURNAL_NAME).is_file() for folder in taken)


def test_a_folder_another_launch_wrote_to_is_never_taken(tmp_path: Path) -> None:
    named = tmp_path / "logs"
    (named / "0" / ".hydra").mkdir(parents=True)  # trial folders of an earlier sweep, no journal
    assert holds_a_launch(named) == "0/.hydra"
    assert claim(str(named)) == f"{named}_2"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claim(str(empty)) == str(empty)  # a folder made ready by the user is fine


def test_override_values_are_quoted_when_needed() -> None:
    assert override_value("multirun/2026-12-02/18-31-38_2") == "multirun/2026-12-02/18-31-38_2"
    assert override_value("/data/my runs/x=1") == "'/data/my runs/x=1'"


def test_what_a_gone_process_left_is_swept_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_pid = int(dead.stdout)
    assert process_gone(gone_pid)
    assert not process_gone(os.getpid())
    stale = tmp_path / f"parsweep-trial-code-{gone_pid}-abcd1234"
    live = tmp_path / f"parsweep-trial-code-{os.getppid()}-abcd1234"
    other = tmp_path / "parsweep-host.lock"
    for path in (stale, live):
        path.mkdir()
    other.write_text("")
    free_lock = tmp_path / "parsweep-store-0123456789abcdef.lock"
    held_lock = tmp_path / "parsweep-store-fedcba9876543210.lock"
    free_lock.write_text("")
    held_lock.write_text("")
    fd = os.open(held_lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        removed = clean_stale(str(tmp_path))
    finally:
        os.close(fd)
    assert sorted(p.name for p in removed) == sorted([stale.name, free_lock.name])
    assert live.exists() and other.exists() and held_lock.exists()
    assert remove_unheld_lock(held_lock) and not held_lock.exists()


def test_the_store_lock_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    with _store_init_lock(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        assert [p.name for p in (tmp_path / "tmp").iterdir() if p.name.startswith("parsweep-store-")]
    assert not list((tmp_path / "tmp").iterdir())


def test_the_journal_counts_its_own_sweep_and_asks_the_store(tmp_path: Path) -> None:
    """A trial whose "logged" line was lost is found in the store (by its journal key), not counted
    as missing; another sweep's record in the same journal is not this sweep's to count."""
    import json

    from runner.tracking.recorder import Recorder
    from runner.tracking.store import Tracker
    from runner.trial.results import TrialResult
    from runner.trial.spec import build_spec

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri)
    experiment_id = tracker.experiment_id("journal")
    parent = tracker.start_run(experiment_id, "sweep", {"parsweep.role": "sweep"})
    recorder = Recorder(uri, "journal", str(tmp_path / "sweep"), parent_run_id=parent)
    spec = build_spec({"backend": {"name": "serial"}, "workload": {"name": "sum_range"}, "n": 1000, "experiment": "journal"})
    recorder.record(spec, TrialResult(error="injected: a failed trial is recorded too"), "serial · n=1e3", {})
    journal = recorder.journal
    assert recorder.unlogged() == []
    kept = [line for line in journal.path.read_text().splitlines() if json.loads(line)["kind"] != "logged"]
    journal.path.write_text("\n".join(kept) + "\n")  # the line saying it was logged is lost
    foreign = {"kind": "trial", "key": "other", "parent_run_id": "0" * 32, "name": "another sweep's", "status": "FINISHED"}
    journal.append(foreign)
    assert [r["key"] for r in journal.pending() if r["kind"] == "trial"] != []
    assert recorder.unlogged() == []  # found in the store, and marked logged again
    assert [r["key"] for r in journal.pending() if r["kind"] == "trial"] == ["other"]
