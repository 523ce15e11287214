"""The ``python`` key: which interpreter a trial runs under, found and checked before anything runs.

``python=current`` (the default) is the interpreter running parsweep; anything else is a
command on PATH (``python3.13t``, ``python3.12``) or a path to one. Each distinct
(interpreter, ``gil``) of a sweep is resolved once, before the first trial: found,
executable, CPython, at least 3.10, able to import parsweep's trial code and the workloads
and backends the sweep uses, and able to run those backends (``backend=interpreters`` needs
CPython 3.14+), each failure one :class:`ConfigError` naming ``python=...``.
The probe also tells what the interpreter is (version, free-threaded build or not, GIL state
with ``PYTHON_GIL`` applied) for the plan and the report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.execute.processes import trial_code_path, trial_environment
from runner.host.facts import interpreter_facts
from runner.trial.probe import UNSUPPORTED, import_problems
from runner.trial.spec import CURRENT_PYTHON
from runner.trial.values import ConfigError

PROBE_TIMEOUT_S = 60.0
MIN_VERSION = (3, 10)
# Valid Python 2 and 3 alike, so that any interpreter can say what it is.
BASIC_PROBE = (
    "import sys, platform, sysconfig; "
    "print('%s %s %s' % (platform.python_implementation(), '.'.join(map(str, sys.version_info[:3])), "
    "sysconfig.get_config_var('Py_GIL_DISABLED') or 0))"
)
FULL_PROBE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
problems = []
try:
    importlib.import_module("runner.trial.forkserver")
    importlib.import_module("runner.trial.bench")
    from runner.trial.probe import import_problems
except Exception as exc:
    problems.append(["trial code", "%s: %s" % (type(exc).__name__, exc), "import"])
else:
    problems += import_problems(json.loads(sys.argv[2]))
facts = {}
if not problems:
    from runner.host.facts import interpreter_facts
    facts = interpreter_facts()
print(json.dumps({"problems": problems, "facts": facts}))
"""


@dataclass(frozen=True)
class Interpreter:
    """A resolved ``python`` choice: its executable and what it is."""

    name: str
    executable: str
    gil: int | None = None
    facts: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        """``3.11.7``, ``3.13.5t``, ``3.13.5t+GIL`` (see :func:`runner.host.facts.python_label`)."""
        return str(self.facts.get("label", self.name))

    @property
    def key(self) -> str:
        """How the plan names it: ``python=python3.13t`` (``gil=1`` added when set)."""
        return f"python={self.name}" + (f" gil={self.gil}" if self.gil is not None else "")


_RESOLVED: dict[tuple[str, int | None, tuple[Any, ...]], Interpreter] = {}


def _refuse(name: str, why: str) -> ConfigError:
    return ConfigError("python", name, why)


def locate(name: str, cwd: str | os.PathLike[str] | None = None) -> str:
    """The executable ``name`` stands for: ``current``, a command on PATH, or a path."""
    if name == CURRENT_PYTHON:
        return sys.executable
    if os.sep in name or name.startswith("~"):
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = Path(cwd or os.getcwd()) / path
        if not path.exists():
            raise _refuse(name, "no such file; give a command on PATH (python3.13t), a path to an interpreter, or current")
        if path.is_dir() or not os.access(path, os.X_OK):
            raise _refuse(name, "is not an executable file; give a command on PATH (python3.13t), a path to an interpreter, or current")
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise _refuse(name, "not found on PATH; give a command on PATH (python3.13t), a path to an interpreter, or current")
    return found


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)


def _last_line(text: str) -> str:
    """The last non-blank line of an interpreter's output: for a traceback, the error itself
    (its first line is only ``Traceback (most recent call last):``)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def resolve(
    name: str, gil: int | None = None, imports: Iterable[tuple[str, str, str | None]] = (), cwd: str | None = None
) -> Interpreter:
    """Find and check the interpreter ``python=name`` (with ``PYTHON_GIL=gil`` when set).

    ``imports``: ``(what, module, extra sys.path entry)`` the trials will import (the
    workloads of the sweep), each of which must import. Raises :class:`ConfigError`.
    """
    wanted = tuple(sorted(set(imports), key=str))
    key = (name, gil, wanted)
    if key in _RESOLVED:
        return _RESOLVED[key]
    executable = locate(name, cwd)
    # A user's own modules (workload=custom) are imported in a probe process, never into the
    # launcher: their side effects and their folder on sys.path must not reach it.
    users_code = any(":" in str(module) for _, module, _ in wanted)
    if executable == sys.executable and gil is None and name == CURRENT_PYTHON and not users_code:
        facts = interpreter_facts()
        free_threaded = bool(facts["free_threaded"])
        problems = import_problems(wanted)
    else:
        try:
            basic = _run([executable, "-c", BASIC_PROBE], trial_environment(None))
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _refuse(name, f"cannot be run ({exc})") from None
        if basic.returncode != 0:
            raise _refuse(name, f"cannot be run: {_last_line(basic.stderr)}")
        try:
            implementation, version, ft = basic.stdout.split()
        except ValueError:
            raise _refuse(name, f"is not a Python interpreter (it answered: {_last_line(basic.stdout or basic.stderr)})") from None
        if implementation != "CPython":
            raise _refuse(name, f"is {implementation} {version}, not CPython: parsweep compares CPython's GIL and free-threaded builds")
        if tuple(int(p) for p in version.split(".")[:2]) < MIN_VERSION:
            raise _refuse(name, f"is Python {version}; the trials need CPython >= {'.'.join(map(str, MIN_VERSION))}")
        free_threaded = ft not in ("0", "None")
        if gil is not None and not free_threaded:
            raise ConfigError(
                "gil", gil, f"python={name} (CPython {version}) is not a free-threaded build; gil=0/1 (PYTHON_GIL) applies to free-threaded builds such as python3.13t"
            )
        try:
            full = _run([executable, "-c", FULL_PROBE, trial_code_path(), json.dumps([list(w) for w in wanted])], trial_environment(gil))
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _refuse(name, f"cannot be run ({exc})") from None
        if full.returncode != 0:
            raise _refuse(name, f"cannot import parsweep's trial code: {_last_line(full.stderr)}")
        answer = json.loads(full.stdout.strip().splitlines()[-1])
        problems = answer["problems"]
        facts = answer["facts"]
    if gil is not None and not free_threaded:
        raise ConfigError("gil", gil, f"python={name} is not a free-threaded build; gil=0/1 (PYTHON_GIL) applies to free-threaded builds such as python3.13t")
    for what, problem, kind in problems:
        if what.startswith("workload.") and "=" in what:  # a custom workload's function
            setting, _, value = what.partition("=")
            raise ConfigError(setting, value, f"{problem}; check the name and workload.pythonpath")
        if what == "trial code":
            raise _refuse(name, f"cannot import parsweep's trial code ({problem})")
        if kind == UNSUPPORTED:
            raise _refuse(name, problem)
        raise _refuse(name, f"cannot run {what} ({problem}); install what it needs into that interpreter")
    interpreter = Interpreter(name, executable, gil, facts)
    _RESOLVED[key] = interpreter
    return interpreter


def workload_imports(spec: Any) -> list[tuple[str, str, str | None]]:
    """What a trial of ``spec`` imports beyond the trial code: its workload's module (and those it
    declares its chunks import, ``Workload.imports``) and its backend's (whose ``BACKEND`` is then asked whether the interpreter can run it, see
    :mod:`runner.trial.probe`), and a custom workload's functions (``module:function``: a
    typo'd name is refused before any run, not found inside the trial)."""
    from runner.trial import workloads

    imports: list[tuple[str, str, str | None]] = [
        (f"workload={spec.workload}", f"runner.trial.workloads.{spec.workload}", None),
        *((f"workload={spec.workload}", module, None) for module in workloads.get(spec.workload).imports),
        (f"backend={spec.backend}", f"runner.trial.backends.{spec.backend}", None),
    ]
    if spec.workload == "custom":  # its functions must exist before a run is made for them
        pythonpath = spec.workload_options.get("pythonpath")
        for key in ("function", "combine", "expected"):
            ref = spec.workload_options.get(key)
            if ref:
                imports.append((f"workload.{key}={ref}", str(ref), str(pythonpath) if pythonpath else None))
    return imports


# Where `make interpreters` (.ci/build-python) and shared/tools/build-free-threaded-python put them.
OPT_PYTHONS = "/opt/python3.*t/bin/python3.*t"


def _is_free_threaded(executable: str) -> bool:
    try:
        done = _run([executable, "-c", BASIC_PROBE], trial_environment(None))
    except (OSError, subprocess.TimeoutExpired):
        return False
    parts = done.stdout.split()
    return done.returncode == 0 and len(parts) == 3 and parts[0] == "CPython" and parts[2] not in ("0", "None")


def free_threaded_pythons() -> list[str]:
    """Free-threaded CPythons here, newest first: ``python3.Nt`` commands on PATH (by name), then
    the builds under ``/opt`` (by path) that PATH does not already give."""
    import glob
    import re

    found: dict[str, tuple[tuple[int, int], str]] = {}  # real path -> (version, how to name it)
    for minor in range(13, 30):
        command = f"python3.{minor}t"
        path = shutil.which(command)
        if path:
            found.setdefault(os.path.realpath(path), ((3, minor), command))
    for path in glob.glob(OPT_PYTHONS):
        match = re.search(r"python3\.(\d+)t$", path)
        if match and os.access(path, os.X_OK):
            found.setdefault(os.path.realpath(path), ((3, int(match.group(1))), path))
    ranked = sorted(found.values(), reverse=True)
    return [name for _, name in ranked if _is_free_threaded(name if os.sep in name else shutil.which(name) or name)]


# What a build is, for matching a free-threaded build with its GIL twin: version and configure flags.
BUILD_PROBE = (
    "import json, platform, shlex, sysconfig; "
    "print(json.dumps([platform.python_version(), shlex.split(sysconfig.get_config_var('CONFIG_ARGS') or '')]))"
)


def _build(executable: str) -> tuple[str, list[str]] | None:
    """``(X.Y.Z, configure flags without --prefix and --disable-gil)`` of a CPython, None when unknown."""
    try:
        done = _run([executable, "-c", BUILD_PROBE], trial_environment(None))
        version, flags = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError, TypeError):
        return None
    return str(version), sorted(f for f in flags if not f.startswith("--prefix=") and f != "--disable-gil")


def gil_twin(free_threaded: str) -> str | None:
    """The GIL build of the same version and configure flags as ``free_threaded`` (a command or a
    path), as the sweep names it: ``/opt/python3.13/bin/python3.13`` beside ``/opt/python3.13t``
    (what ``make interpreters`` builds), else ``python3.13`` on PATH when it is that build; None
    when there is no such twin (Debian's python3.13 is built with other flags, so it is not one)."""
    import re

    match = re.search(r"python(3\.\d+)t$", free_threaded)
    path = free_threaded if os.sep in free_threaded else shutil.which(free_threaded)
    if not match or not path:
        return None
    version = match.group(1)
    wanted = _build(path)
    if wanted is None:
        return None
    prefix = Path(os.path.realpath(path)).parent.parent  # .../python3.13t/bin/python3.13t -> .../python3.13t
    candidates = [str(prefix.with_name(f"python{version}") / "bin" / f"python{version}"), f"python{version}"]
    for candidate in candidates:
        found = candidate if os.sep in candidate else shutil.which(candidate)
        if not found or not os.access(found, os.X_OK) or _is_free_threaded(found):
            continue
        if _build(found) == wanted:
            return candidate
    return None


def free_threaded_sweep_value(note: Callable[[str], None]) -> str:
    """Resolver ``${parsweep.free_threaded_pythons:}`` for the ``sweep=gil`` preset: the newest
    free-threaded CPython found and its reference, as a sweep list. The reference is its GIL
    twin (:func:`gil_twin`: same version, same source, same flags but ``--disable-gil``) when
    there is one, so that the single-thread cost is free-threading's alone; else ``current``.
    ``current`` alone when there is no free-threaded build, told to ``note`` (one line: the
    preset still runs, on the GIL build; the caller says it once)."""
    found = free_threaded_pythons()
    if found:
        return f"{gil_twin(found[0]) or CURRENT_PYTHON},{found[0]}"
    note(
        "parsweep: note: no free-threaded CPython found (python3.13t, python3.14t... on PATH, or "
        f"{OPT_PYTHONS}): measuring python=current alone; `make interpreters` builds /opt/python3.13t"
    )
    return CURRENT_PYTHON
