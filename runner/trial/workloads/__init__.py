"""Workloads: what each chunk computes, how partial results combine, and the right answer.

A workload is a module ``runner.trial.workloads.<name>`` exposing ``WORKLOAD``, a
:class:`~runner.trial.workloads.base.Workload` subclass; adding one is that module plus
``conf/workload/<name>.yaml``.
"""

from __future__ import annotations

import importlib
import pkgutil

from runner.trial.values import ConfigError
from runner.trial.workloads.base import Workload

__all__ = ["Workload", "available", "get", "preloaded"]

_HELPER_MODULES = {"base", "numpy_chunk"}


def available() -> list[str]:
    """Names of the workloads shipped with parsweep."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _HELPER_MODULES)


def get(name: object) -> type[Workload]:
    """The workload class called ``name``; a one-line ConfigError when there is none."""
    if not isinstance(name, str) or name not in available():
        raise ConfigError("workload", name, f"unknown workload; choose one of: {', '.join(available())}")
    module = importlib.import_module(f"{__name__}.{name}")
    workload: type[Workload] = module.WORKLOAD
    return workload


def preloaded() -> list[str]:
    """The modules of the workloads the fork servers import before forking (``Workload.preload``)."""
    return [f"{__name__}.{name}" for name in available() if get(name).preload]
