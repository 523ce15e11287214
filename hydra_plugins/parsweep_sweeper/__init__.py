"""parsweep's sweeper and launcher. Hydra only accepts plugin classes defined under ``hydra_plugins``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn, run_job, setup_globals
from omegaconf import open_dict

from runner.sweep import VALIDATED_JOBS, jobs_to_launch, take_composed


class ParsweepLauncher(BasicLauncher):
    """Hydra's basic launcher (jobs one after another, in this process), running the config
    the tracking callback composed and validated for each job instead of composing it again."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        runs: List[JobReturn] = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            sweep_config = take_composed(overrides)
            if sweep_config is None:
                sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = idx
                sweep_config.hydra.job.num = idx
            runs.append(
                run_job(
                    hydra_context=self.hydra_context,
                    task_function=self.task_function,
                    config=sweep_config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            )
        return runs


class ParsweepSweeper(BasicSweeper):
    """Hydra's basic sweeper, running ``serial`` once per (workload, n) whatever ``workers`` says,
    and with ``resume=true`` only the trials that have no FINISHED run yet."""

    def split_arguments(  # type: ignore[override]
        self, overrides: List[Override], max_batch_size: Optional[int]
    ) -> List[List[List[str]]]:
        assert self.config is not None
        jobs = jobs_to_launch(BasicSweeper.split_arguments(overrides, None)[0], self.config)
        if not jobs:  # resume=true and everything already finished
            return []
        return list(BasicSweeper.split_overrides_to_chunks(jobs, max_batch_size))

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        # The tracking callback's plan_sweep already composed and validated these jobs (same
        # loader, same overrides) before the sweep began; a Hydra compose costs ~40 ms a trial.
        super().validate_batch_is_legal([job for job in batch if tuple(job) not in VALIDATED_JOBS])
