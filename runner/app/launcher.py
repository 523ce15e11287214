"""What ``hydra/launcher=parsweep`` does: jobs in this process, through Hydra's own ``run_job``.

For any Hydra app the launcher is Hydra's basic launcher: each job's config composed by
Hydra, then run by ``hydra.core.utils.run_job`` (output directory, ``.hydra`` files, logging,
callbacks, the task), one after another. For parsweep's own task it measures first, then
records: the jobs' trials are measured by the scheduler (:mod:`runner.execute.schedule`,
interleaved by default: a (workload, n)'s trials in shuffled rounds), and as each group of
trials is measured, each job goes through ``run_job`` with a task that returns its measured
result (:class:`Measured`), so Hydra's callbacks record it as they would any job's result.
Jobs a plan composed and validated before the sweep began (the launch's plan: :mod:`runner.app.launch`)
run with that very config.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

if TYPE_CHECKING:
    from runner.app.plan import Plan


class Measured:
    """The task ``run_job`` runs for a job the launcher measured: it returns that job's result,
    handed over as an argument rather than through a module global."""

    def __init__(self, result: Any) -> None:
        self.result = result

    def __call__(self, cfg: DictConfig) -> Any:
        return self.result


def is_parsweep_task(task_function: Any) -> bool:
    """Whether ``task_function`` is parsweep's trial task (any other app's task runs as Hydra runs it)."""
    return getattr(task_function, "__module__", "") == "runner.app.main" and getattr(task_function, "__name__", "") == "task"


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    """Run one batch of jobs; the returns come in job order."""
    setup_globals()
    config: DictConfig = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    parsweep = is_parsweep_task(launcher.task_function)
    plan = None
    if parsweep:
        from runner.app.launch import current
        from runner.app.plan import job_config

        plan = current().plan_of(config)
    configs = []
    for position, overrides in enumerate(job_overrides):
        idx = initial_job_idx + position
        if parsweep:
            job_cfg = job_config(overrides, config, plan)
        else:
            job_cfg = launcher.hydra_context.config_loader.load_sweep_config(config, list(overrides))
        with read_write(job_cfg.hydra), open_dict(job_cfg):  # a planned config's hydra node is read-only
            job_cfg.hydra.job.id = idx
            job_cfg.hydra.job.num = idx
        configs.append(job_cfg)
    if not parsweep:
        return [_run(launcher, job_cfg) for job_cfg in configs]
    return _measure_then_run(launcher, configs, plan)


def _run(launcher: Any, job_cfg: DictConfig, task_function: Any = None) -> JobReturn:
    ret = run_job(
        hydra_context=launcher.hydra_context,
        task_function=launcher.task_function if task_function is None else task_function,
        config=job_cfg,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    return ret


def _measure_then_run(launcher: Any, configs: list[DictConfig], plan: Plan | None) -> list[JobReturn]:
    from runner.app import launch
    from runner.app.plan import planned_trial
    from runner.execute.schedule import Budget, Job, Scheduler
    from runner.ui import progress
    from runner.ui.terminal import trial_name

    jobs: list[Job] = []
    by_key: dict[int, DictConfig] = {}
    policies: list[Any] = []
    for job_cfg in configs:
        trial = planned_trial(job_cfg, plan)
        key = int(job_cfg.hydra.job.num)
        jobs.append(Job(key, trial.spec, trial.interpreter, trial_name(trial.spec), _job_cwd(job_cfg)))
        by_key[key] = job_cfg
        policies.append(trial.policy)
    returns: dict[int, JobReturn] = {}
    observer = progress.observer()
    budget = Budget(policies[0].budget_s) if policies else None
    # Jobs with different scheduling settings (a swept `schedule=...`) are measured apart.
    for policy in list(dict.fromkeys(policies)):
        chosen = [job for job, p in zip(jobs, policies) if p == policy]
        in_flight = launch.current().in_flight
        for job, result in Scheduler(policy, observer, budget, in_flight).measure(chosen):
            try:
                returns[job.key] = _run(launcher, by_key[job.key], Measured(result))
            finally:
                in_flight.handed_over(job)
    return [returns[int(job_cfg.hydra.job.num)] for job_cfg in configs]


def _job_cwd(job_cfg: DictConfig) -> str | None:
    """Where the job's trial runs: its output directory with ``hydra.job.chdir=true``, else here.

    Hydra's rule: unset means false from ``version_base`` 1.2 on (parsweep declares 1.3), true
    before; ``run_job`` applies the same to the task.
    """
    from hydra import version

    chdir = job_cfg.hydra.job.chdir
    if chdir is None:
        chdir = not version.base_at_least("1.2")
    if not chdir:
        return None
    from runner.app.compose import hydra_config_of

    with hydra_config_of(job_cfg):  # the subdir may say ${hydra:job.override_dirname}
        directory = os.path.join(str(OmegaConf.select(job_cfg, "hydra.sweep.dir")), str(OmegaConf.select(job_cfg, "hydra.sweep.subdir")))
    Path(directory).mkdir(parents=True, exist_ok=True)
    return os.path.abspath(directory)
