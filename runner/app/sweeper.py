"""What ``hydra/sweeper=parsweep`` does: Hydra's basic sweep, with parsweep's plan applied.

For any Hydra app it is Hydra's basic sweeper: the cartesian product of the swept values
(``hydra.sweeper.params`` first, the command line after), in batches of
``hydra.sweeper.max_batch_size`` jobs, each batch validated and launched. For parsweep's own
sweeps the tracking callback has already planned them (:mod:`runner.app.plan`, kept on the launch: :mod:`runner.app.launch`): ``serial``
runs once per (workload, n), ``resume`` leaves out what already finished, and the planned jobs
need no second validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn
from omegaconf import OmegaConf

from runner.app.launch import current
from runner.app.plan import cartesian_jobs, serial_once


def batches(jobs: list[list[str]], size: int | None) -> list[list[list[str]]]:
    """``jobs`` in batches of ``size`` (None or -1: one batch)."""
    if size is None or size == -1:
        return [jobs] if jobs else []
    if size < 1:
        raise ValueError(f"hydra.sweeper.max_batch_size={size}: must be >= 1, or null for one batch")
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


def sweep(sweeper: Any, arguments: Sequence[str]) -> list[Sequence[JobReturn]]:
    """Expand, batch, validate and launch the sweep; Hydra's return: one list of returns per batch."""
    config, launcher = sweeper.config, sweeper.launcher
    params = [f"{key}={value}" for key, value in (sweeper.params or {}).items()]
    parser = OverridesParser.create(config_loader=sweeper.hydra_context.config_loader)
    jobs = cartesian_jobs(parser.parse_overrides(params + list(arguments)))
    plan = current().plan_of(config)
    planned: set[tuple[str, ...]] = set()
    if plan is not None:
        jobs = serial_once(jobs, config)
        skipped = {tuple(trial.overrides) for trial in plan.skipped}
        jobs = [job for job in jobs if tuple(job) not in skipped]
        planned = {tuple(trial.overrides) for trial in plan.trials}
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    returns: list[Sequence[JobReturn]] = []
    first = 0
    for batch in batches(jobs, sweeper.max_batch_size):
        # Hydra's own check that every job composes; the planned ones were composed already.
        sweeper.validate_batch_is_legal([job for job in batch if tuple(job) not in planned])
        results = launcher.launch(batch, initial_job_idx=first)
        for result in results:
            _ = result.return_value  # a job whose task raised stops the sweep, as in Hydra
        first += len(batch)
        returns.append(results)
    return returns
