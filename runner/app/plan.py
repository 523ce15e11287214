"""Expanding a sweep into trials, validating all of them before any runs.

:func:`plan_sweep` is what the tracking callback calls before a sweep starts: it expands
the sweep exactly as Hydra's basic sweeper does (preset ``hydra.sweeper.params`` plus
command-line overrides), runs ``serial`` once per (workload, n) whatever ``workers`` says,
composes every job's config and validates it. :class:`ParsweepSweeper` is Hydra's basic
sweeper with that same serial rule (it lives in ``hydra_plugins.parsweep_sweeper``, where
Hydra requires plugins to be), so what runs is what was validated. With ``resume=true``,
:func:`jobs_to_launch` leaves out the trials that already have a FINISHED run.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf

from runner.trial.spec import ConfigError, TrialSpec, build_spec


def sweep_arguments(config: DictConfig) -> list[str]:
    """The sweep as override strings: preset params first, the command line after (it wins)."""
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()]
    arguments += list(config.hydra.overrides.task)
    return arguments


def serial_once(jobs: list[list[str]], primary: DictConfig) -> list[list[str]]:
    """Collapse the ``workers`` and ``chunks`` variants of serial jobs into one job.

    Serial runs one chunk in one thread whatever those say, so it runs once per (workload, n)
    with ``workers=1`` (and ``chunks`` left at its default). Order is kept: the serial job
    stands where its first variant stood.
    """
    default_backend = primary.hydra.runtime.choices.get("backend")
    seen: set[tuple[str, ...]] = set()
    planned = []
    for job in jobs:
        backend = next((o.split("=", 1)[1] for o in job if o.startswith("backend=")), default_backend)
        if backend == "serial":
            job = [("workers=1" if o.startswith("workers=") else o) for o in job if not o.startswith("chunks=")]
        key = tuple(job)
        if key not in seen:
            seen.add(key)
            planned.append(job)
    return planned


class JobComposer:
    """Each job's config exactly as Hydra's ``load_sweep_config`` composes it, at a fraction of the cost.

    Hydra composes every job from scratch, ~50 ms each: the defaults list, loading and merging
    every config file, the schema. Yet only a job's config-group overrides (``backend=ray``,
    ``hydra/launcher=...``) change what is loaded and merged; its value overrides
    (``workers=2``, ``n=1e8``) Hydra applies afterwards to the composed tree. So this composes
    once per distinct set of group overrides, with Hydra, and builds each job from a copy of that
    template (unpickled: OmegaConf configs pickle whole, flags and types included) the way Hydra
    finishes a composition: the value overrides applied by Hydra's own
    ``_apply_overrides_to_config``, then ``hydra.overrides`` and ``hydra.job.override_dirname``
    set as ``_load_configuration_impl`` sets them (~1 ms a job). ``tests/test_core_compose.py``
    holds the result equal to Hydra's full compose, job by job.
    """

    def __init__(self, master: DictConfig) -> None:
        self.master = master
        self.loader = GlobalHydra.instance().config_loader()
        self._parser = OverridesParser.create(config_loader=self.loader)
        self._parsed: dict[str, Override] = {}
        self._is_group: dict[str, bool] = {}
        self._templates: dict[tuple[str, ...], _Template] = {}
        self._master_hydra_overrides = list(master.hydra.overrides.hydra)

    def compose(self, job: Sequence[str]) -> DictConfig:
        """The job's config; raises what Hydra raises for a bad override."""
        overrides = [self._parse(line) for line in job]
        structural = tuple(o.input_line for o in overrides if self._shapes_composition(o))
        template = self._templates.get(structural)
        if template is None:
            template = self._templates[structural] = _Template(self.loader.load_sweep_config(self.master, list(structural)))
        config = template.copy()
        ConfigLoaderImpl._apply_overrides_to_config([o for o in overrides if not self._shapes_composition(o)], config)
        task = [o for o in overrides if not o.is_hydra_override()]
        config.hydra.overrides.hydra = self._master_hydra_overrides + [o.input_line for o in overrides if o.is_hydra_override()]
        config.hydra.overrides.task = [o.input_line for o in task]
        dirname = config.hydra.job.config.override_dirname
        config.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep, exclude_keys=dirname.exclude_keys
        )
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
        key = override.key_or_group
        if key == "hydra.searchpath" or override.package is not None:
            return True
        if isinstance(override.value(), dict):
            return False
        if key not in self._is_group:
            self._is_group[key] = self.loader.repository.group_exists(key)
        return self._is_group[key]


class _Template:
    """A composed config to copy from: unpickled from bytes, ~6x faster than a deep copy."""

    def __init__(self, config: DictConfig) -> None:
        self.config = config
        try:
            self._pickled: bytes | None = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # a value that does not pickle: deep copies then
            self._pickled = None

    def copy(self) -> DictConfig:
        if self._pickled is None:
            return copy.deepcopy(self.config)
        config = pickle.loads(self._pickled)
        assert isinstance(config, DictConfig)
        return config


# What plan_sweep composed and validated in this process, by job (its override list): with
# these the sweeper need not validate a job again (ParsweepSweeper.validate_batch_is_legal),
# resume needs no compose for the specs, and the local launcher runs the very config that was
# validated (ParsweepLauncher). Configs are kept only for sweeps of a size whose configs fit in
# memory; beyond that the launcher composes them again, cheaply, with the same JobComposer.
VALIDATED_JOBS: dict[tuple[str, ...], TrialSpec] = {}
COMPOSED_JOBS: dict[tuple[str, ...], DictConfig] = {}
MAX_KEPT_CONFIGS = 2000
_COMPOSERS: list[JobComposer] = []


def composer_for(master: DictConfig) -> JobComposer:
    """The JobComposer of this sweep's primary config (one per sweep, kept for the launcher)."""
    if not _COMPOSERS or _COMPOSERS[-1].master is not master:
        _COMPOSERS[:] = [JobComposer(master)]
    return _COMPOSERS[-1]


def job_config(job: Sequence[str], master: DictConfig) -> DictConfig:
    """The config plan_sweep composed for ``job`` (handed out once), else a fresh composition."""
    kept = COMPOSED_JOBS.pop(tuple(job), None)
    return kept if kept is not None else composer_for(master).compose(job)


@dataclass
class PlannedTrial:
    overrides: list[str]
    spec: TrialSpec


def plan_sweep(config: DictConfig) -> list[PlannedTrial]:
    """Every trial of the sweep, composed and validated; raises :class:`ConfigError` on the first bad one."""
    loader = GlobalHydra.instance().config_loader()
    parser = OverridesParser.create(config_loader=loader)
    try:
        overrides = parser.parse_overrides(sweep_arguments(config))
    except Exception as exc:
        raise ConfigError("overrides", " ".join(sweep_arguments(config)), _first_line(exc)) from None
    jobs = serial_once(BasicSweeper.split_arguments(overrides, None)[0], config)
    composer = composer_for(config)
    planned = []
    composed = {}
    for job in jobs:
        try:
            job_config = composer.compose(job)
        except Exception as exc:
            raise ConfigError(" ".join(job), "", _first_line(exc)) from None
        planned.append(PlannedTrial(job, build_spec(job_config)))
        if len(jobs) <= MAX_KEPT_CONFIGS:
            composed[tuple(job)] = job_config
    VALIDATED_JOBS.update((tuple(trial.overrides), trial.spec) for trial in planned)
    COMPOSED_JOBS.update(composed)
    return planned


def resume_enabled(config: DictConfig) -> bool:
    """``resume=true``: skip the trials that already have a FINISHED run (see :func:`skipped_by_resume`)."""
    from runner.trial.spec import parse_flag

    return parse_flag("resume", config.get("resume", False))


def skipped_by_resume(config: DictConfig, plan: list[PlannedTrial], tracker: Any) -> list[PlannedTrial]:
    """The planned trials whose config hash already has a FINISHED run in their experiment."""
    if not plan:
        return []
    done = tracker.finished_hashes(tracker.experiment_id(plan[0].spec.experiment))
    return [trial for trial in plan if trial.spec.config_hash() in done]


def jobs_to_launch(jobs: list[list[str]], config: DictConfig) -> list[list[str]]:
    """What the sweeper launches: :func:`serial_once`, then with ``resume=true`` only the unfinished.

    The tracking callback makes the same choice in ``on_multirun_start`` (and says so).
    """
    jobs = serial_once(jobs, config)
    if not resume_enabled(config):
        return jobs
    from runner.tracking.store import Tracker, resolve_uri

    def spec_of(job: list[str]) -> TrialSpec:
        known = VALIDATED_JOBS.get(tuple(job))
        return known if known is not None else build_spec(composer_for(config).compose(job))

    plan = [PlannedTrial(job, spec_of(job)) for job in jobs]
    tracker = Tracker(resolve_uri(config.tracking.get("uri"), config.hydra.runtime.cwd))
    skip = {tuple(trial.overrides) for trial in skipped_by_resume(config, plan, tracker)}
    return [job for job in jobs if tuple(job) not in skip]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class ParsweepLauncherConf:
    _target_: str = "hydra_plugins.parsweep_sweeper.ParsweepLauncher"


@dataclass
class ParsweepSweeperConf:
    _target_: str = "hydra_plugins.parsweep_sweeper.ParsweepSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Any] = None


def register_sweeper() -> None:
    """Make ``hydra/sweeper=parsweep`` available, whether or not Hydra's plugin scan sees it.

    (An editable install hides ``hydra_plugins`` from the scan, so the class is registered
    explicitly, through the API Hydra offers for that.)
    """
    from hydra.core.plugins import Plugins

    plugins = Plugins.instance()  # scan first: the scan re-executes BasicSweeper's module
    from hydra_plugins.parsweep_sweeper import ParsweepLauncher, ParsweepSweeper

    plugins.register(ParsweepSweeper)
    plugins.register(ParsweepLauncher)
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="parsweep", node=ParsweepSweeperConf, provider="parsweep")
    store.store(group="hydra/launcher", name="parsweep", node=ParsweepLauncherConf, provider="parsweep")
