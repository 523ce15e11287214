"""parsweep's sweeper and launcher. Hydra only accepts plugin classes defined under ``hydra_plugins``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional, Sequence

import yaml
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf._utils import OmegaConfDumper, get_omega_conf_dumper

from runner.execute.isolation import expect_another_trial
from runner.app.plan import VALIDATED_JOBS, job_config, jobs_to_launch


class ParsweepLauncher(BasicLauncher):
    """Hydra's basic launcher (jobs one after another, in this process), made cheap per job.

    Each job runs the config the tracking callback composed and validated for it (see
    ``runner.app.plan.JobComposer``) rather than composing it again, through :func:`run_trial_job`;
    each trial's process is started as the previous trial ends
    (``runner.execute.isolation.expect_another_trial``).
    """

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        runs: List[JobReturn] = []
        logging_set: list[Any] = []
        try:
            for position, overrides in enumerate(job_overrides):
                expect_another_trial(position < len(job_overrides) - 1)  # its process starts early
                idx = initial_job_idx + position
                sweep_config = job_config(overrides, self.config)
                with open_dict(sweep_config):
                    sweep_config.hydra.job.id = idx
                    sweep_config.hydra.job.num = idx
                runs.append(run_trial_job(self.hydra_context, self.task_function, sweep_config, logging_set))
        finally:
            expect_another_trial(False)
        return runs


class _FastYamlDumper(yaml.CDumper):  # type: ignore[misc]
    """OmegaConf's YAML dumper (strings that read as numbers or booleans quoted) on libyaml's
    emitter: ~4x faster, the same content; it wraps long strings at other points."""


_FastYamlDumper.add_representer(str, OmegaConfDumper.str_representer)


def to_yaml(container: Any, exact: bool = True) -> str:
    """``OmegaConf.to_yaml`` of a container; ``exact=False`` may wrap long strings differently."""
    dumper = get_omega_conf_dumper() if exact or not yaml.__with_libyaml__ else _FastYamlDumper
    return str(yaml.dump(container, default_flow_style=False, allow_unicode=True, sort_keys=False, Dumper=dumper))


def run_trial_job(
    hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig, logging_set: list[Any]
) -> JobReturn:
    """What Hydra's ``hydra.core.utils.run_job`` does for a sweep's job, minus its copies.

    Hydra's version costs ~15 ms a job before the task runs: the config deep-copied twice, the
    hydra node copied twice into ``HydraConfig``, logging configured again, three YAML files
    written with PyYAML's pure-Python emitter. Here, for the same outcome: ``HydraConfig`` holds
    the job's config itself; the output dir, chdir, ``env_set`` and the callbacks' order are
    Hydra's; logging is configured again only when the job's logging settings differ from the
    last job's; ``.hydra/config.yaml`` and ``overrides.yaml`` hold Hydra's very text, and
    ``hydra.yaml`` the same content (written with libyaml), all from one container. The task
    gets the job's config itself (its ``hydra`` node included; parsweep's task reads only its
    own keys) instead of a copy without it.
    """
    callbacks = hydra_context.callbacks
    old_cwd = os.getcwd()
    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    # What HydraConfig.set_config does, minus its copy of the hydra node: HydraConfig.get()
    # reads `cfg.hydra`, which is the job's own (read-only) node either way.
    OmegaConf.set_readonly(config.hydra, True)
    hydra_config.cfg = config  # type: ignore[assignment]  # a ${hydra:...} in the sweep dir needs it
    output_dir = os.path.abspath(os.path.join(str(config.hydra.sweep.dir), str(config.hydra.sweep.subdir)))
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = output_dir
    chdir = False
    try:
        container = OmegaConf.to_container(config, resolve=False, enum_to_str=True)
        assert isinstance(container, dict)
        hydra_container = container.pop("hydra")
        ret = JobReturn()
        ret.cfg = config
        ret.hydra_cfg = config
        ret.overrides = list(hydra_container["overrides"]["task"])
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        chdir = bool(config.hydra.job.chdir)  # None means False from version_base 1.2 on
        if chdir:
            os.chdir(output_dir)
        ret.working_dir = os.getcwd()
        logging_settings = [hydra_container["job_logging"], hydra_container["verbose"]]
        if logging_set != logging_settings:
            configure_log(config.hydra.job_logging, config.hydra.verbose)
            logging_set[:] = logging_settings
        if config.hydra.output_subdir is not None:
            files = {
                "config.yaml": to_yaml(container),
                "hydra.yaml": to_yaml({"hydra": hydra_container}, exact=False),
                "overrides.yaml": to_yaml(hydra_container["overrides"]["task"]),
            }
            hydra_output = Path(output_dir) / str(config.hydra.output_subdir)
            hydra_output.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (hydra_output / name).write_text(text, encoding="utf-8")
        with env_override(dict(config.hydra.job.env_set)):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(config)
                ret.status = JobStatus.COMPLETED
            except Exception as exc:
                ret.return_value = exc
                ret.status = JobStatus.FAILED
        ret.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=ret)
        return ret
    finally:
        hydra_config.cfg = previous
        if chdir:
            os.chdir(old_cwd)


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
