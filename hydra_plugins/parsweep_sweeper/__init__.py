"""parsweep's sweeper. Hydra only accepts sweeper classes defined under ``hydra_plugins``."""

from __future__ import annotations

from typing import List, Optional, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override

from runner.sweep import VALIDATED_JOBS, jobs_to_launch


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
