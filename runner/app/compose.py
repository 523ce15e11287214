"""Each job's config exactly as Hydra's ``load_sweep_config`` composes it, at a fraction of the cost.

Hydra composes every job of a sweep from scratch (35-50 ms each here): the defaults list,
loading and merging every config file, the schema. Yet only a job's config-group overrides
(``backend=ray``, ``hydra/launcher=...``) change what is loaded and merged; its value overrides
(``workers=2``, ``n=1e8``) Hydra applies afterwards to the composed tree. So
:class:`JobComposer` composes once per distinct set of group overrides, with Hydra's public
``load_sweep_config``, and builds each job from a deep copy of that template the way Hydra
finishes a composition: the value overrides applied by Hydra's own function, then
``hydra.overrides`` and ``hydra.job.override_dirname`` set as Hydra sets them (see
:mod:`runner.app.hydra_private`). ``tests/test_core_compose.py`` holds every job equal to
Hydra's full compose.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf

from runner.app.hydra_private import apply_value_overrides, override_dirname


class JobComposer:
    """Composes the jobs of one sweep from ``master``, its primary (multirun) config."""

    def __init__(self, master: DictConfig, loader: Any = None) -> None:
        self.master = master
        self.loader = loader if loader is not None else GlobalHydra.instance().config_loader()
        self._parser = OverridesParser.create(config_loader=self.loader)
        self._parsed: dict[str, Override] = {}
        self._is_group: dict[str, bool] = {}
        self._shapes: dict[str, bool] = {}  # per override line: _shapes_composition's answer
        self._templates: dict[tuple[str, ...], DictConfig] = {}
        # As text, never resolved: a hydra.* override may hold ${hydra.job.num}, known only per job.
        hydra_overrides = OmegaConf.to_container(master.hydra.overrides.hydra, resolve=False)
        assert isinstance(hydra_overrides, list)
        self._master_hydra_overrides = [str(line) for line in hydra_overrides]

    def compose(self, job: Sequence[str]) -> DictConfig:
        """The job's config; raises what Hydra raises for a bad override."""
        overrides = [self._parse(line) for line in job]
        structural = tuple(str(o.input_line) for o in overrides if self._shapes_composition(o))
        template = self._templates.get(structural)
        if template is None:
            template = self._templates[structural] = self.loader.load_sweep_config(self.master, list(structural))
        config = copy.deepcopy(template)
        apply_value_overrides([o for o in overrides if not self._shapes_composition(o)], config)
        task = [o for o in overrides if not o.is_hydra_override()]
        config.hydra.overrides.hydra = self._master_hydra_overrides + [o.input_line for o in overrides if o.is_hydra_override()]
        config.hydra.overrides.task = [o.input_line for o in task]
        config.hydra.job.override_dirname = override_dirname(task, config.hydra.job.config.override_dirname)
        OmegaConf.copy_cache(from_config=self.master, to_config=config)
        return config

    def _parse(self, line: str) -> Override:
        parsed = self._parsed.get(line)
        if parsed is None:
            (parsed,) = self._parser.parse_overrides([line])
            self._parsed[line] = parsed
        return parsed

    def _shapes_composition(self, override: Override) -> bool:
        """Whether the override changes what Hydra loads (the same test as Hydra's defaults list)."""
        line = str(override.input_line)
        shapes = self._shapes.get(line)
        if shapes is None:
            shapes = self._shapes[line] = self._decide_shapes(override)
        return shapes

    def _decide_shapes(self, override: Override) -> bool:
        key = override.key_or_group
        if key == "hydra.searchpath" or override.package is not None:
            return True
        if isinstance(override.value(), dict):
            return False
        if key not in self._is_group:
            parent, _, name = key.rpartition("/")
            self._is_group[key] = name in self.loader.list_groups(parent)
        return self._is_group[key]


@contextlib.contextmanager
def hydra_config_of(config: DictConfig) -> Iterator[None]:
    """``HydraConfig`` set to a job's config for the block (``${hydra:...}`` values resolve
    against it, as inside the job), then set back to what it was."""
    hydra_config = HydraConfig.instance()
    previous: Any = hydra_config.cfg  # typed HydraConf, holds the DictConfig set_config was given
    hydra_config.set_config(config)
    try:
        yield
    finally:
        if previous is not None:
            hydra_config.set_config(previous)
