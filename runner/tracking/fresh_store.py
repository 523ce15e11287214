"""A new sqlite store starts as a copy of an empty one MLflow made, not by migrating from scratch.

MLflow creates a sqlite store by running every Alembic migration since its first release, paid by
each sweep that starts in a new folder (a user's first sweep, and most tests): a lone trial in a
new folder took 3.15 s with it and 2.32 s with the copy (``benchmarks/startup.py --against``). The result is the same file every time, so parsweep keeps one per MLflow release
in its cache folder (``platformdirs.user_cache_dir("parsweep")``, e.g.
``~/.cache/parsweep/mlflow-3.17.2-empty.db``), made by MLflow itself the first time it is
needed, and a new store is a copy of it (milliseconds). MLflow then opens the copy as it opens
any existing store: it checks the schema's revision, and would refuse a stale one.

What differs between two empty stores is the ``Default`` experiment's row: MLflow points its
artifact location at ``./mlruns/0`` of the folder it was created from and stamps its creation
time. :func:`seed` writes both as MLflow would have, in the opener's folder and at this moment.
That one ``UPDATE`` knows MLflow's ``experiments`` table (a private schema, not an API):
``tests/test_fresh_store.py`` pins that a seeded store reads back exactly like one MLflow
created, and that MLflow opens it. When anything here fails (no cache folder, a read-only
disk, a schema that moved), the store is left for MLflow to create the slow way.

``PARSWEEP_STORE_TEMPLATE=0`` turns the copy off.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

TEMPLATE_ENV = "PARSWEEP_STORE_TEMPLATE"


def template_path() -> Path:
    """Where this MLflow release's empty store is kept (made on first use)."""
    import mlflow
    import platformdirs

    return Path(platformdirs.user_cache_dir("parsweep")) / f"mlflow-{mlflow.__version__}-empty.db"


def _make_template(path: Path) -> None:
    """MLflow creates an empty store in a private file; it becomes the template in one rename."""
    from mlflow.tracking import MlflowClient

    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.new")
    snapshot = path.with_name(f".{path.name}.{os.getpid()}.copy")
    try:
        MlflowClient(tracking_uri=f"sqlite:///{scratch}").search_experiments()
        # sqlite's own backup: a consistent file whatever MLflow's engine still holds open
        with contextlib.closing(sqlite3.connect(scratch)) as source, contextlib.closing(sqlite3.connect(snapshot)) as copy:
            source.backup(copy)
        os.replace(snapshot, path)  # two racing makers both write a whole file; either one wins
    finally:
        for leftover in (scratch, snapshot):
            with contextlib.suppress(OSError):
                leftover.unlink()


def seed(db: Path) -> bool:
    """Make ``db`` (absent or empty) a copy of the empty-store template. Called while the store's
    open lock is held (:func:`runner.tracking.store._store_init_lock`). False when it did not:
    MLflow then creates the store itself."""
    if os.environ.get(TEMPLATE_ENV, "1") == "0":
        return False
    with contextlib.suppress(FileNotFoundError):
        if db.stat().st_size > 0:
            return False
    staged = db.with_name(f".{db.name}.{os.getpid()}.seed")
    try:
        template = template_path()
        if not template.is_file():
            _make_template(template)
        with contextlib.closing(sqlite3.connect(template)) as source, contextlib.closing(sqlite3.connect(staged)) as copy:
            source.backup(copy)
            now_ms = int(time.time() * 1000)
            default_location = str(Path.cwd() / "mlruns" / "0")
            with copy:
                changed = copy.execute(
                    "UPDATE experiments SET artifact_location = ?, creation_time = ?, last_update_time = ? WHERE experiment_id = 0",
                    (default_location, now_ms, now_ms),
                ).rowcount
        if changed != 1:
            return False
        with contextlib.suppress(FileNotFoundError):
            db.unlink()  # an empty file (touched, never written): sqlite would have filled it in place
        os.link(staged, db)  # never over a store another process made meanwhile
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()
