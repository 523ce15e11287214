"""The ``parsweep`` command: a thin Hydra entry around plain code.

``parsweep [overrides]`` runs one trial, ``parsweep -m [overrides]`` a sweep (the quick
sweep when no overrides are given). Validation, tracking and reporting live in the
callback (:mod:`runner.callbacks`); the task below only runs the trial, isolated.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from runner import terminal
from runner.config import check_overrides, register_schema
from runner.hostinfo import host_facts
from runner.isolation import run_isolated
from runner.paths import config_path
from runner.results import TrialResult
from runner.spec import ConfigError, TrialSpec, build_spec
from runner.sweep import register_sweeper

QUICK_PRESET = "sweep=quick"


def workers_up_to_cores(factor: str | int = 2) -> str:
    """Resolver for presets: ``1,2,...,factor x usable cores`` as a sweep list."""
    usable = int(host_facts()["host"]["cpu_usable"])
    return ",".join(str(w) for w in range(1, int(factor) * usable + 1))


register_schema()
register_sweeper()
OmegaConf.register_new_resolver("parsweep.workers_up_to_cores", workers_up_to_cores, replace=True)


def oversubscription_warnings(spec: TrialSpec, usable: int) -> list[str]:
    if spec.workers > usable:
        return [
            f"workers={spec.workers} is more than the {usable} usable CPU cores: the workers take turns "
            "on the cores, so expect speedup to flatten (lower workers to measure scaling)"
        ]
    return []


def run_task(cfg: DictConfig) -> TrialResult:
    """Run the trial a composed config describes; failures come back in the result, not raised."""
    try:
        spec = build_spec(cfg)
        result = run_isolated(spec)
        result.warnings += oversubscription_warnings(spec, int(host_facts()["host"]["cpu_usable"]))
        return result
    except ConfigError as exc:
        return TrialResult(error=str(exc))
    except Exception as exc:  # a bug of ours must not stop the sweep either
        return TrialResult(error=f"internal error: {terminal.describe(exc)}")


@hydra.main(version_base="1.3", config_path=config_path(), config_name="config")
def hydra_main(cfg: DictConfig) -> TrialResult:
    return run_task(cfg)


def main() -> None:
    """Console entry: check the command line first, so that mistakes get one clear line."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # no INFO chatter about DB tables
    arguments = sys.argv[1:]
    try:
        check_overrides(arguments)
    except ConfigError as exc:
        terminal.error(str(exc))
        raise SystemExit(2) from None
    multirun = any(a in ("-m", "--multirun") for a in arguments)
    if multirun and not any(not a.startswith("-") for a in arguments):
        sys.argv.append(QUICK_PRESET)
    hydra_main()
