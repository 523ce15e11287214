"""A sweep's plan: every trial it will run, composed and validated before any runs.

:func:`plan_sweep` is what the tracking callback calls before a sweep starts. It expands the
sweep exactly as the sweeper will (preset ``hydra.sweeper.params`` plus command-line overrides,
their cartesian product), runs ``serial`` once per (workload, n) whatever ``workers`` says
(:func:`serial_once`), composes every job's config (:class:`~runner.app.compose.JobComposer`),
validates it into a spec and a scheduling policy, and resolves each distinct interpreter
(``python=...``). The first mistake stops the launch with one line, before any trial runs.

The plan is kept for the rest of the launch (:attr:`runner.app.launch.Launch.plan`), with the
primary config it was made from and its composer: the sweeper launches its jobs (minus those
``resume`` found finished) and the launcher runs the very configs that were validated
(:func:`job_config`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf, read_write

from runner.app.compose import JobComposer, hydra_config_of
from runner.execute.interpreters import Interpreter, resolve, workload_imports
from runner.trial.spec import ConfigError, Policy, TrialSpec, build_policy, build_spec
from runner.trial.values import integral_override

MAX_KEPT_CONFIGS = 2000  # beyond this many jobs the launcher composes them again (cheaply)


def sweep_arguments(config: DictConfig) -> list[str]:
    """The sweep as override strings: preset params first, the command line after (it wins)."""
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()]
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    assert isinstance(task, list)
    return arguments + [str(line) for line in task]


def cartesian_jobs(overrides: Sequence[Override]) -> list[list[str]]:
    """Every combination of the swept values, one override list per job, in Hydra's order.

    What a sweeper does with ``key=a,b`` and ``key=range(1,4)``: the last override of a key
    wins, the keys keep the order they first appeared in, values vary fastest at the end.
    """
    lists: dict[str, list[str]] = {}
    for override in overrides:
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise ConfigError(key, override.get_value_element_as_str(), "only lists (a,b,c) and range(...) can be swept here")
            lists[key] = [integral_override(f"{key}={value}") for value in override.sweep_string_iterator()]
        else:
            lists[key] = [integral_override(f"{key}={override.get_value_element_as_str()}")]
    return [list(combination) for combination in itertools.product(*lists.values())]


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


@dataclass
class PlannedTrial:
    """One trial of the plan: its overrides, what it measures, how, and under which interpreter."""

    overrides: list[str]
    spec: TrialSpec
    policy: Policy
    interpreter: Interpreter
    config: DictConfig | None = field(default=None, repr=False)


@dataclass
class Plan:
    """Every trial of a sweep; ``skipped`` are those ``resume`` found already FINISHED. A sweep's
    plan keeps the primary config it was made from and the composer of its jobs."""

    trials: list[PlannedTrial]
    skipped: list[PlannedTrial] = field(default_factory=list)
    primary: DictConfig | None = field(default=None, repr=False, compare=False)
    composer: JobComposer | None = field(default=None, repr=False, compare=False)

    @property
    def to_run(self) -> list[PlannedTrial]:
        skipped = {id(trial) for trial in self.skipped}
        return [trial for trial in self.trials if id(trial) not in skipped]

    @property
    def plan_hash(self) -> str:
        """What ``resume=true`` matches: the experiment and the set of trials (their config hashes)."""
        identity = sorted({trial.spec.config_hash() for trial in self.trials})
        experiment = self.trials[0].spec.experiment if self.trials else ""
        return hashlib.sha256("\n".join([experiment, *identity]).encode()).hexdigest()[:16]

    def skip(self, trials: Sequence[PlannedTrial]) -> None:
        self.skipped = list(trials)

    def use_sweep_dir(self) -> None:
        """The sweep's folder was claimed after its jobs were composed (:mod:`runner.app.folders`):
        give it to those jobs, and compose later ones with it (it is in ``hydra.overrides.hydra``)."""
        if self.primary is None or self.composer is None:
            return
        folder = str(self.primary.hydra.sweep.dir)
        for trial in self.trials:
            if trial.config is not None:
                with read_write(trial.config.hydra):
                    trial.config.hydra.sweep.dir = folder
        self.composer = JobComposer(self.primary, self.composer.loader)


def job_config(job: Sequence[str], master: DictConfig, plan: Plan | None) -> DictConfig:
    """The config ``plan`` composed for ``job`` (handed out once), else a fresh composition (with the
    plan's composer when there is a plan of ``master``'s sweep)."""
    if plan is not None:
        for trial in plan.trials:
            if trial.config is not None and trial.overrides == list(job):
                config, trial.config = trial.config, None
                return config
    composer = plan.composer if plan is not None and plan.composer is not None else JobComposer(master)
    return composer.compose(job)


def plan_sweep(config: DictConfig) -> Plan:
    """Every trial of the sweep, composed and validated; raises :class:`ConfigError` on the first bad one."""
    loader = GlobalHydra.instance().config_loader()
    parser = OverridesParser.create(config_loader=loader)
    arguments = sweep_arguments(config)
    try:
        overrides = parser.parse_overrides(arguments)
    except Exception as exc:
        raise ConfigError("overrides", " ".join(arguments), _first_line(exc)) from None
    jobs = serial_once(cartesian_jobs(overrides), config)
    composer = JobComposer(config, loader)
    trials = []
    for job in jobs:
        try:
            job_cfg = composer.compose(job)
        except Exception as exc:
            raise ConfigError(" ".join(job), "", _first_line(exc)) from None
        trial = _planned(job, job_cfg)
        trial.config = job_cfg if len(jobs) <= MAX_KEPT_CONFIGS else None
        trials.append(trial)
    return Plan(trials, primary=config, composer=composer)


def _planned(job: list[str], job_cfg: DictConfig) -> PlannedTrial:
    if _uses_hydra_resolver(job_cfg):  # ${hydra:runtime.cwd} in workload.pythonpath, say
        with hydra_config_of(job_cfg):
            spec, policy = build_spec(job_cfg), build_policy(job_cfg)
    else:  # setting HydraConfig copies the whole config twice: a few ms a job
        spec, policy = build_spec(job_cfg), build_policy(job_cfg)
    return PlannedTrial(job, spec, policy, _interpreter(spec))


HYDRA_RESOLVER = re.compile(r"\$\{\s*hydra\s*:")


def _uses_hydra_resolver(job_cfg: DictConfig) -> bool:
    """Whether a value outside the ``hydra`` node reads ``${hydra:...}``."""
    own = OmegaConf.to_container(job_cfg, resolve=False)
    assert isinstance(own, dict)
    own.pop("hydra", None)
    return HYDRA_RESOLVER.search(repr(own)) is not None


def planned_trial(job_cfg: DictConfig, plan: Plan | None) -> PlannedTrial:
    """The plan's trial for a job's config (matched by its overrides), else planned now."""
    overrides = [str(o) for o in OmegaConf.to_container(job_cfg.hydra.overrides.task, resolve=False) or []]
    if plan is not None:
        for trial in plan.trials:
            if trial.overrides == overrides:
                return trial
    return _planned(overrides, job_cfg)


def plan_trial(config: DictConfig) -> Plan:
    """The plan of a lone trial (``parsweep`` without ``-m``): its spec, policy and interpreter."""
    spec, policy = build_spec(config), build_policy(config)
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False) if "hydra" in config else []
    plan = Plan([PlannedTrial([str(o) for o in task or []], spec, policy, _interpreter(spec))])
    return plan


def _interpreter(spec: TrialSpec) -> Interpreter:
    return resolve(spec.python, spec.gil, workload_imports(spec))


def _first_line(exc: BaseException) -> str:
    from runner.tracking.store import first_line

    return first_line(exc)

