"""Backends: how the chunks of one repetition run in parallel.

A backend is a module ``runner.trial.backends.<name>`` exposing ``BACKEND``, a
:class:`~runner.trial.backends.base.Backend` subclass; adding one is that module plus
``conf/backend/<name>.yaml``. Backends know nothing about MLflow or Hydra.
"""

from __future__ import annotations

import importlib
import pkgutil

from runner.trial.backends.base import Backend, ChunkResult, WorkerError
from runner.trial.values import ConfigError

__all__ = ["Backend", "ChunkResult", "WorkerError", "available", "get", "preloaded", "table_order"]

_HELPER_MODULES = {"base", "pools", "cluster"}


def available() -> list[str]:
    """Names of the backends shipped with parsweep."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _HELPER_MODULES)


def get(name: object) -> type[Backend]:
    """The backend class called ``name``; a one-line ConfigError when there is none."""
    if not isinstance(name, str) or name not in available():
        raise ConfigError("backend", name, f"unknown backend; choose one of: {', '.join(available())}")
    module = importlib.import_module(f"{__name__}.{name}")
    backend: type[Backend] = module.BACKEND
    return backend


def preloaded() -> list[str]:
    """The modules of the backends the fork servers import before forking (``Backend.preload``)."""
    return [f"{__name__}.{name}" for name in available() if get(name).preload]


def of_kind(kind: str) -> tuple[str, ...]:
    """The backends whose workers are of ``kind`` (``Backend.kind``), in table order."""
    return tuple(name for name in table_order() if get(name).kind == kind)


def declaring(attribute: str) -> tuple[str, ...]:
    """The backends that declare ``attribute`` true (``takes_chunks``, ``workers_per_repetition``...)."""
    return tuple(name for name in table_order() if getattr(get(name), attribute))


def table_order() -> list[str]:
    """Every backend, in the order report tables list them (each backend's ``table_order``)."""
    return sorted(available(), key=lambda name: (get(name).table_order, name))
