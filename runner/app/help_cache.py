"""``parsweep --help`` from a cache: the text Hydra's compose made last time, without importing Hydra.

``import hydra`` alone takes 0.17-0.23 s here, and composing the help another ~0.1 s, against a
goal of 0.3 s for the whole ``--help`` (issue 21). The text is the same every time its inputs are,
so the first ``--help`` renders it as before (:mod:`runner.app.help`) and keeps it, and a repeated
one prints the kept text: standard library and ``platformdirs`` only, no Hydra, OmegaConf or MLflow.

Where: ``platformdirs.user_cache_dir("parsweep")/help/<key>.txt`` (e.g. ``~/.cache/parsweep/help/``;
``XDG_CACHE_HOME`` moves it), one small file per command line asked for, written whole (a private
file renamed into place), the newest :data:`KEPT` kept. The key is a SHA-256 over everything the text depends on:

- the command line, word for word (the full path parses it with Hydra's own parser; a kept text
  is only ever found for the exact words that produced it, so nothing is parsed here);
- the contents of the config folder Hydra composes from (``conf/``, or the package's
  ``runner.conf``) and of parsweep's code (``runner/``, ``hydra_plugins/parsweep*``: the schemas,
  the defaults and the help itself come from it);
- Hydra's and OmegaConf's installed ``__init__``/``version`` files (their versions; reading them
  costs microseconds, ``importlib.metadata`` ~40 ms), the interpreter's version and prefix;
- the names in each ``hydra_plugins`` folder on the path (the plugins Hydra's scan finds; the full
  path stops when parsweep's own is not among them).

Only a help :func:`runner.app.help.print_help` printed is kept, and never one with ``--resolve``
(resolving may read the clock, the environment or the CPU count). A cache that cannot be read or
written is skipped: the help is rendered as without it. ``PARSWEEP_HELP_CACHE=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

CACHE_ENV = "PARSWEEP_HELP_CACHE"
#: Bump when what a kept text means changes (the format of the file or of the key).
FORMAT = "1"
HELP_FLAGS = ("--help", "-h")
#: How many texts the cache folder keeps (the newest; a few KB each).
KEPT = 64
_RUNNER = Path(__file__).resolve().parents[1]
_CHECKOUT = _RUNNER.parent


def wanted(arguments: Sequence[str]) -> bool:
    """Whether this command line may be looked up: it asks for help, and the cache is on."""
    return os.environ.get(CACHE_ENV, "1") != "0" and any(flag in arguments for flag in HELP_FLAGS)


def _sources() -> list[Path]:
    """The files the help text is made from: the config folder, parsweep's code, Hydra's version files."""
    from runner.app.paths import config_path

    folders = [_RUNNER, *sorted(_CHECKOUT.joinpath("hydra_plugins").glob("parsweep*"))]
    config = config_path()
    if not config.startswith("pkg://"):  # else runner/conf, inside _RUNNER
        folders.append(Path(config))
    files = sorted(p for folder in folders for p in folder.rglob("*") if p.suffix in (".py", ".yaml") and "__pycache__" not in p.parts)
    for package, name in (("hydra", "__init__.py"), ("omegaconf", "version.py")):
        spec = find_spec(package)  # finds the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise OSError(f"{package} not found")
        files.append(Path(next(iter(spec.submodule_search_locations))) / name)
    return files


def _plugins() -> list[str]:
    """The folders Hydra scans for plugins (``hydra_plugins`` on the path) and what each holds: a
    plugin installed or removed, or parsweep's own hidden by an editable install, changes the key."""
    spec = find_spec("hydra_plugins")  # a namespace package: found, not imported
    locations = sorted(spec.submodule_search_locations or []) if spec else []
    return [f"{location}:{','.join(sorted(os.listdir(location)))}" for location in locations]


@functools.lru_cache(maxsize=1)  # a first --help looks it up, renders, then keeps it: one hashing
def _entry(arguments: tuple[str, ...]) -> Path:
    """The file that keeps the help of this command line with today's sources."""
    import platformdirs

    key = hashlib.sha256()
    for part in (FORMAT, sys.version, sys.prefix, *_plugins(), "", *arguments):
        key.update(part.encode("utf-8", "surrogateescape") + b"\0")
    key.update(b"\1")
    for path in _sources():
        content = path.read_bytes()
        key.update(f"{path}\0{len(content)}\0".encode("utf-8", "surrogateescape") + content)
    return Path(platformdirs.user_cache_dir("parsweep")) / "help" / f"{key.hexdigest()}.txt"


def cached(arguments: Sequence[str]) -> str | None:
    """The kept help of this command line, or None (not kept, sources changed, cache off or unreadable)."""
    if not wanted(arguments):
        return None
    try:
        return _entry(tuple(arguments)).read_text(encoding="utf-8")
    except (OSError, ValueError):  # not kept yet, unreadable, not UTF-8
        return None


def keep(arguments: Sequence[str], text: str) -> None:
    """Keep the help ``print_help`` printed for this command line; silently not when the cache cannot be written."""
    if not wanted(arguments):
        return
    with contextlib.suppress(OSError, ValueError):
        path = _entry(tuple(arguments))
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}.new")
        try:
            scratch.write_text(text, encoding="utf-8")
            os.replace(scratch, path)  # readers see the whole text or none
        finally:
            with contextlib.suppress(OSError):
                scratch.unlink()
        _prune(path.parent)


def _prune(folder: Path) -> None:
    """Keep the :data:`KEPT` newest texts: each edit of the configs or the code leaves one stale."""
    entries = sorted(folder.glob("*.txt"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for stale in entries[KEPT:]:
        with contextlib.suppress(OSError):
            stale.unlink()
