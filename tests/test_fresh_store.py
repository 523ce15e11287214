"""A new sqlite store is a copy of MLflow's own empty store (runner/tracking/fresh_store.py).

The copy's one write into MLflow's private schema (the Default experiment's row) is pinned
here: a seeded store must read back exactly like one MLflow created in the same folder, and
MLflow must open it, write to it and read it back.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import pytest

from runner.tracking import fresh_store
from runner.tracking.store import open_client


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of this test's own (platformdirs reads XDG_CACHE_HOME on Linux)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(fresh_store.TEMPLATE_ENV, raising=False)
    return tmp_path / "cache" / "parsweep"


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return sorted(connection.execute(query).fetchall(), key=repr)


def _contents(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Everything in the store but the Default experiment's two time stamps."""
    tables = [name for (name,) in _rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    # Compared line by line, unordered: MLflow's own migrations write a table's constraints in an
    # order that changes from one run to the next (two stores MLflow made differ so).
    schema = _rows(db, "SELECT type, name, sql FROM sqlite_master")
    contents: dict[str, list[tuple[object, ...]]] = {
        "schema": [(kind, name, sorted(line.strip().rstrip(",") for line in str(sql).split("\n"))) for kind, name, sql in schema]
    }
    for table in tables:
        contents[table] = _rows(db, f'SELECT * FROM "{table}"')
    contents["experiments"] = _rows(db, "SELECT experiment_id, name, artifact_location, lifecycle_stage, workspace FROM experiments")
    return contents


def test_a_seeded_store_is_the_store_mlflow_makes(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere, work = tmp_path / "elsewhere", tmp_path / "work"
    elsewhere.mkdir()
    work.mkdir()
    monkeypatch.chdir(elsewhere)  # the template is made from another folder than the store's opener
    open_client(f"sqlite:///{elsewhere / 'first.db'}").search_experiments()
    template = fresh_store.template_path()
    assert template.parent == cache and template.is_file(), "the first new store leaves the template in the cache"
    monkeypatch.chdir(work)
    seeded, made = work / "seeded.db", work / "made.db"
    open_client(f"sqlite:///{seeded}").search_experiments()
    monkeypatch.setenv(fresh_store.TEMPLATE_ENV, "0")
    open_client(f"sqlite:///{made}").search_experiments()

    assert _contents(seeded) == _contents(made)
    assert _rows(seeded, "SELECT artifact_location FROM experiments") == [(str(work / "mlruns" / "0"),)]
    stamps = _rows(seeded, "SELECT creation_time, last_update_time FROM experiments WHERE experiment_id = 0")
    assert stamps[0][0] == stamps[0][1] and stamps[0][0] >= _rows(template, "SELECT creation_time FROM experiments")[0][0]

    client = open_client(f"sqlite:///{seeded}")
    experiment = client.create_experiment("seeded", artifact_location=(work / "artifacts").as_uri())
    run = client.create_run(experiment).info.run_id
    client.log_metric(run, "wall_time_s", 1.5)
    client.set_terminated(run)
    assert open_client(f"sqlite:///{seeded}").get_run(run).data.metrics == {"wall_time_s": 1.5}


def test_the_template_is_made_once_and_an_existing_store_is_never_replaced(cache: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.db"
    client = open_client(f"sqlite:///{first}")
    run = client.create_run(client.create_experiment("kept")).info.run_id
    template = fresh_store.template_path()
    made = template.stat().st_mtime_ns

    assert not fresh_store.seed(first), "a store with runs in it is never touched"
    assert open_client(f"sqlite:///{first}").get_run(run).info.run_id == run
    empty = tmp_path / "touched.db"
    empty.touch()
    assert fresh_store.seed(empty), "an empty file (touched, never written) is seeded"
    assert open_client(f"sqlite:///{tmp_path / 'second.db'}").search_experiments()[0].name == "Default"
    assert template.stat().st_mtime_ns == made, "the template is made once per MLflow release"
    assert sorted(path.name for path in cache.iterdir()) == [template.name], "nothing else is left in the cache"
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == [], "no staged copy is left"


def test_without_a_usable_cache_mlflow_makes_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv(fresh_store.TEMPLATE_ENV, raising=False)
    db = tmp_path / "mlflow.db"
    assert not fresh_store.seed(db)
    assert open_client(f"sqlite:///{db}").search_experiments()[0].name == "Default"
    assert set(os.listdir(tmp_path)) == {"not-a-folder", "mlflow.db"}, "no staged copy is left"
