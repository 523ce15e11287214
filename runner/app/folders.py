"""A launch's output folder is its own: claimed atomically before its first file is written.

Hydra names a sweep's folder after the second it started (``multirun/DATE/TIME``), so two
sweeps started in the same second (two shells, a script, two hosts writing to one shared
folder) would share it: their trial folders, ``multirun.yaml`` and journal would mix, and
"re-run from files" would re-run another sweep's trial. So once a launch has been validated
(bad input leaves no folder), :func:`claim` takes its folder by creating the journal in it
with ``O_CREAT | O_EXCL``, which one launch alone can win, on a shared file system too. A
folder that already holds a sweep or a trial (a journal, ``multirun.yaml``, a ``.hydra``) is
never written into: the launch takes the next free name, ``TIME_2``, ``TIME_3``..., and says
so in one line. That goes for a folder the user named (``hydra.sweep.dir=...``) too, so a
script that reuses a name keeps working and never overwrites an earlier sweep's trials.

The claimed folder reaches every job the way Hydra passes any setting to its jobs: as a
``hydra.sweep.dir=...`` entry of ``hydra.overrides.hydra``, which Hydra's public
``load_sweep_config`` applies to every job it composes (whatever the launcher); the configs
the plan composed already are given it too (:meth:`runner.app.plan.Plan.use_sweep_dir`).

``PARSWEEP_NOW`` (ISO 8601, ``2026-12-02T18:31:38``) pins the time Hydra's ``${now:...}``
reads in this launch: for scripts and tests that want a known folder name, or two launches
"in the same second" on purpose.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from runner.tracking.journal import JOURNAL_NAME
from runner.trial.values import ConfigError

NOW_ENV = "PARSWEEP_NOW"
MAX_SUFFIX = 10_000  # a folder name taken this many times is a loop of ours, not a busy host
_PLAIN = re.compile(r"[A-Za-z0-9_./+-]+")


def pin_clock(config: DictConfig) -> None:
    """With ``PARSWEEP_NOW`` set, ``${now:pattern}`` formats that time instead of the clock's.

    Hydra registers ``now`` when it starts (``hydra.core.utils.setup_globals``) and may have
    read it while composing ``config``; this runs after both and before any folder is made, so
    the composed config forgets what it read (``now`` is the only cached resolver).
    """
    text = os.environ.get(NOW_ENV, "").strip()
    if not text:
        return
    try:
        pinned = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(NOW_ENV, text, "must be a time in ISO 8601, e.g. 2026-12-02T18:31:38 (or unset, for the clock's)") from None
    OmegaConf.register_new_resolver("now", lambda pattern: pinned.strftime(pattern), use_cache=True, replace=True)
    OmegaConf.clear_cache(config)


def holds_a_launch(folder: Path) -> str | None:
    """What in ``folder`` shows that a launch (sweep or trial) wrote there, or None."""
    for name in (JOURNAL_NAME, "multirun.yaml", ".hydra"):
        if (folder / name).exists():
            return name
    try:
        for child in folder.iterdir():
            if (child / ".hydra").is_dir():
                return f"{child.name}/.hydra"
    except OSError:
        pass
    return None


def candidates(folder: str) -> Iterator[str]:
    """``folder``, then ``folder_2``, ``folder_3``..."""
    yield folder
    for number in range(2, MAX_SUFFIX):
        yield f"{folder}_{number}"


def claim(folder: str) -> str:
    """Make ``folder`` this launch's (or the first free ``folder_N``); returns the one taken.

    Taken means: the folder exists and this launch created its journal file, exclusively.
    """
    for candidate in candidates(folder):
        path = Path(candidate)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file of that name
            continue
        except OSError as exc:
            raise ConfigError("hydra.sweep.dir", folder, f"cannot create the output folder ({exc.strerror})") from None
        if holds_a_launch(path):
            continue
        try:
            fd = os.open(path / JOURNAL_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:  # another launch won this one a moment ago
            continue
        except OSError as exc:
            raise ConfigError("hydra.sweep.dir", folder, f"cannot write in the output folder ({exc.strerror})") from None
        os.close(fd)
        return candidate
    raise ConfigError("hydra.sweep.dir", folder, f"{MAX_SUFFIX} folders of that name are taken; name another")


def override_value(text: str) -> str:
    """``text`` as a value in a Hydra override (quoted when it holds more than path characters)."""
    if _PLAIN.fullmatch(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def claim_output_dir(config: DictConfig, key: str) -> tuple[str, str | None]:
    """Claim the launch's folder (``key``: ``sweep`` or ``run``) and point ``config`` at it.

    Returns the folder and, when it is not the one asked for, the line that says so.
    """
    node = config.hydra[key]
    wanted = str(node.dir)
    taken = claim(wanted)
    with read_write(config.hydra), open_dict(config.hydra):
        node.dir = taken
        if key == "sweep":  # every job composed from here on (any launcher) gets it from Hydra
            # As text, never resolved: an override may hold ${hydra.job.num}, known only per job.
            written = OmegaConf.to_container(config.hydra.overrides.hydra, resolve=False)
            entries = [str(e) for e in written or [] if not str(e).startswith("hydra.sweep.dir=")]
            config.hydra.overrides.hydra = [*entries, f"hydra.sweep.dir={override_value(taken)}"]
    said = None
    if taken != wanted:
        said = f"parsweep: {wanted} holds another launch's files; this one writes to {taken}"
    return taken, said
