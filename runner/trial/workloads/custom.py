"""A user's own function, benchmarked like any built-in workload.

``workload=custom workload.function=mymodule:work`` runs ``mymodule.work(start, end)`` on
every chunk. ``workload.combine`` (``module:function`` taking the list of partial results;
default: ``sum``) and ``workload.expected`` (``module:function`` taking ``n``) are
optional. Without ``expected`` the answer cannot be known in advance, so every repetition
is checked against the first instead (a wrong-but-stable answer then goes unnoticed; say
what the answer is when you can).

Only modules on the allowlist are ever imported: ``workload.allow`` (a list) plus the
comma-separated ``PARSWEEP_ALLOW_MODULES`` environment variable. An entry allows that
module and everything below it (``mypkg`` allows ``mypkg.sub``). Modules are imported
from ``sys.path`` with ``workload.pythonpath`` (default: the launch directory) in front.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, Optional

from runner.trial.values import ConfigError
from runner.trial.workloads.base import Workload

ALLOW_ENV = "PARSWEEP_ALLOW_MODULES"
_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def allowed_modules(listed: Any) -> list[str]:
    """The allowlist: the config's entries plus those of ``PARSWEEP_ALLOW_MODULES``."""
    entries = [str(m).strip() for m in (listed or [])]
    entries += os.environ.get(ALLOW_ENV, "").split(",")
    return [e for e in entries if e]


def is_allowed(module: str, allow: list[str]) -> bool:
    return any(module == entry or module.startswith(entry + ".") for entry in allow)


def resolve(ref: str, pythonpath: str | None) -> Callable[..., Any]:
    """Import ``module:function``; the caller has already checked the allowlist."""
    module_name, _, attr = ref.partition(":")
    if pythonpath and pythonpath not in sys.path:
        sys.path.insert(0, pythonpath)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"{ref}: cannot import module '{module_name}' ({exc}); check workload.pythonpath") from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise AttributeError(f"{ref}: module '{module_name}' has no function '{attr}'")
    checked: Callable[..., Any] = function
    return checked


class CallChunk:
    """A picklable chunk function that imports the user's function where it runs."""

    def __init__(self, ref: str, pythonpath: str | None) -> None:
        self.ref, self.pythonpath = ref, pythonpath
        self._fn: Callable[[int, int], Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"ref": self.ref, "pythonpath": self.pythonpath, "_fn": None}

    def __call__(self, start: int, end: int) -> Any:
        if self._fn is None:
            self._fn = resolve(self.ref, self.pythonpath)
        return self._fn(start, end)


class Custom(Workload):
    name = "custom"
    preload = True
    # module:function references (str: Hydra's conversion of 5 or true to text fails the same check);
    # function has no default ('???': OmegaConf's mark for a value that must be given)
    OPTIONS = {
        "function": (str, "???"),
        "combine": (Optional[str], None),  # noqa: UP045 (OmegaConf reads typing's Optional)
        "expected": (Optional[str], None),  # noqa: UP045
        "allow": (Any, []),
        "pythonpath": (Any, None),
    }

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        for key in options:
            if key not in cls.OPTIONS:
                raise ConfigError(f"workload.{key}", options[key], f"unknown key; custom takes: {', '.join(cls.OPTIONS)}")
        allow = allowed_modules(options.get("allow"))
        checked: dict[str, Any] = {"allow": sorted(set(allow)), "pythonpath": options.get("pythonpath")}
        for key in ("function", "combine", "expected"):
            ref = options.get(key)
            if ref is None and key != "function":
                checked[key] = None
                continue
            if not isinstance(ref, str) or not _REF.match(ref):
                raise ConfigError(f"workload.{key}", ref, "must name a function as module:function")
            module = ref.partition(":")[0]
            if not is_allowed(module, allow):
                raise ConfigError(
                    f"workload.{key}",
                    ref,
                    f"module '{module}' is not on the allowlist; add it to workload.allow or {ALLOW_ENV}",
                )
            checked[key] = ref
        return checked

    @property
    def chunk_function(self) -> Callable[[int, int], Any]:
        return CallChunk(self.options["function"], self.options.get("pythonpath"))

    def combine(self, partials: list[Any]) -> Any:
        ref = self.options.get("combine")
        if ref is None:
            return sum(partials)
        return resolve(ref, self.options.get("pythonpath"))(partials)

    def check(self, total: Any, n: int) -> str | None:
        ref = self.options.get("expected")
        if ref is None:
            first = self.options.setdefault("_first_total", total)
            if total != first:
                return f"unstable answer: got {total!r}, the first repetition gave {first!r}"
            return None
        want = resolve(ref, self.options.get("pythonpath"))(n)
        if total != want:
            return f"wrong answer: got {total!r}, expected {want!r}"
        return None


WORKLOAD = Custom
