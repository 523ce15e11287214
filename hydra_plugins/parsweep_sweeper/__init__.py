"""parsweep's sweeper. Hydra only accepts sweeper classes defined under ``hydra_plugins``."""

from __future__ import annotations

from typing import List, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override

from runner.sweep import serial_once


class ParsweepSweeper(BasicSweeper):
    """Hydra's basic sweeper, running ``serial`` once per (workload, n) whatever ``workers`` says."""

    def split_arguments(  # type: ignore[override]
        self, overrides: List[Override], max_batch_size: Optional[int]
    ) -> List[List[List[str]]]:
        assert self.config is not None
        jobs = serial_once(BasicSweeper.split_arguments(overrides, None)[0], self.config)
        return list(BasicSweeper.split_overrides_to_chunks(jobs, max_batch_size))
