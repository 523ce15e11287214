"""runner.app.plan.JobComposer builds each job's config from a template; it must equal Hydra's own.

Hydra's ``load_sweep_config`` composes every job from scratch (~50 ms); the composer composes
once per set of config-group overrides and applies the rest with Hydra's own function. These
tests compose the same jobs both ways, with real Hydra and the shipped ``conf/``, and compare
everything: the YAML of the whole config (the ``hydra`` node included), the flags, the types.
"""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from conftest import CONF_DIR

MASTER_OVERRIDES = [
    "backend=serial,threading,process_pool",
    "workers=1,2",
    "n=1e4,100_000",
    "hydra.sweep.dir=/tmp/parsweep-compose-test",
    "hydra.job.config.override_dirname.exclude_keys=[n]",
]

JOBS = [
    ["backend=serial", "workers=1", "n=1e4"],
    ["backend=threading", "workers=2", "n=100_000"],
    ["backend=process_pool", "workers=2", "n=1e4", "backend.start_method=spawn"],
    ["backend=multiprocessing", "workers=3", "n=7", "backend.start_method=fork", "chunks=5"],
    ["workload=count_primes", "backend=process_pool", "workers=2", "n=1000", "repeats=auto", "max_repeats=4"],
    ["workload=sleep", "workload.sleep_per_item_s=1e-5", "n=10", "backend=thread_pool", "workers=2"],
    ["backend=serial", "n=1e4", "tracking=server", "tracking.uri=http://127.0.0.1:5999"],
    ["n=1e4", "hydra.job.chdir=true", "experiment=other", "timeout_s=5", "quiet=true"],
    ["backend=threading", "+hydra.job.env_set.PARSWEEP_COMPOSE_TEST=1", "workers=2"],
    ["sweep=seed", "backend=multiprocessing", "workers=2"],
]


@pytest.fixture()
def master():
    """The sweep's primary config, composed by Hydra as ``parsweep -m`` composes it."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    import runner.app.main  # noqa: F401  registers the schema, the sweeper and the resolver

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR), job_name="parsweep"):
        hydra = GlobalHydra.instance().hydra
        assert hydra is not None
        yield hydra.compose_config("config", MASTER_OVERRIDES, run_mode=RunMode.MULTIRUN)


def test_every_job_equals_hydras_own_compose(master) -> None:
    from hydra.core.global_hydra import GlobalHydra

    from runner.app.compose import JobComposer

    loader = GlobalHydra.instance().config_loader()
    composer = JobComposer(master)
    for num, job in enumerate(JOBS):
        ours = composer.compose(job)
        hydras = loader.load_sweep_config(master, list(job))
        assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(hydras), job
        for config in (ours, hydras):  # as the launcher does; the sweep subdir needs it
            config.hydra.job.num = config.hydra.job.id = num
        assert OmegaConf.to_yaml(ours, resolve=True) == OmegaConf.to_yaml(hydras, resolve=True), job
        assert OmegaConf.is_struct(ours) and OmegaConf.is_struct(hydras)
        assert OmegaConf.get_type(ours) is OmegaConf.get_type(hydras)
        assert OmegaConf.get_type(ours, "backend") is OmegaConf.get_type(hydras, "backend")
        assert OmegaConf.is_readonly(ours.hydra) == OmegaConf.is_readonly(hydras.hydra)
    # Jobs that differ only in values share one Hydra composition.
    assert len(composer._templates) < len(JOBS)


def test_jobs_do_not_share_state(master) -> None:
    """Each job gets its own tree: changing one never shows in another or in the template."""
    from runner.app.compose import JobComposer

    composer = JobComposer(master)
    first = composer.compose(["backend=threading", "workers=2", "n=1e4"])
    first.workers = 99
    first.hydra.overrides.task.append("workers=99")
    second = composer.compose(["backend=threading", "workers=1", "n=1e4"])
    assert second.workers == 1
    assert list(second.hydra.overrides.task) == ["backend=threading", "workers=1", "n=1e4"]


def test_a_bad_value_fails_as_hydra_fails(master) -> None:
    """A value the schema refuses raises when the job is composed, as in Hydra's compose."""
    from hydra.core.global_hydra import GlobalHydra

    from runner.app.compose import JobComposer

    loader = GlobalHydra.instance().config_loader()
    for job in (["backend=nosuch"], ["no_such_key=1"], ["+n=2"], ["~no_such_key"], ["hydra.job.chdir=maybe"]):
        with pytest.raises(Exception) as hydras:
            loader.load_sweep_config(master, job)
        with pytest.raises(Exception) as ours:
            JobComposer(master).compose(job)
        assert type(ours.value) is type(hydras.value), job
        assert str(ours.value).splitlines()[0] == str(hydras.value).splitlines()[0], job
