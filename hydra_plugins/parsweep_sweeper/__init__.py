"""parsweep's Hydra sweeper and launcher: two thin classes and their configs.

Hydra imports every installed plugin when any Hydra app starts, so this module stays light:
it imports only Hydra's public plugin interfaces, registers ``hydra/launcher=parsweep`` and
``hydra/sweeper=parsweep`` in Hydra's ConfigStore (as Hydra's own plugins do) and changes
nothing else. The work is in ``runner.app.launcher`` and ``runner.app.sweeper``, imported
when a sweep actually uses these classes. (No ``from __future__ import annotations``: Hydra's
scan runs this module outside ``sys.modules``, where dataclasses cannot resolve string annotations.)
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class ParsweepLauncherConf:
    _target_: str = "hydra_plugins.parsweep_sweeper.ParsweepLauncher"


@dataclass
class ParsweepSweeperConf:
    _target_: str = "hydra_plugins.parsweep_sweeper.ParsweepSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


ConfigStore.instance().store(group="hydra/launcher", name="parsweep", node=ParsweepLauncherConf, provider="parsweep")
ConfigStore.instance().store(group="hydra/sweeper", name="parsweep", node=ParsweepSweeperConf, provider="parsweep")


class ParsweepLauncher(Launcher):
    """Jobs in this process through Hydra's ``run_job``; parsweep's trials measured first, interleaved."""

    def __init__(self) -> None:
        super().__init__()
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from runner.app.launcher import launch

        return launch(self, job_overrides, initial_job_idx)


class ParsweepSweeper(Sweeper):
    """Hydra's basic sweep (cartesian product, batches), with parsweep's plan: serial once, resume."""

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None) -> None:
        super().__init__()
        self.max_batch_size = max_batch_size
        self.params = params or {}
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from runner.app.sweeper import sweep

        return sweep(self, arguments)
