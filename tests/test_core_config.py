"""Composition of every config group with real Hydra, and the spec's validation rules."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from conftest import CONF_DIR, TESTS_DIR
from runner.trial.spec import ConfigError, build_spec, parse_count

pytestmark = pytest.mark.timeout(120)

BACKEND_OPTIONS = sorted(p.stem for p in (CONF_DIR / "backend").glob("*.yaml"))
TRACKING_OPTIONS = sorted(p.stem for p in (CONF_DIR / "tracking").glob("*.yaml"))
SWEEP_PRESETS = sorted(p.stem for p in (CONF_DIR / "sweep").glob("*.yaml"))
CUSTOM = [
    "workload=custom",
    "workload.function=faults:good_sum",
    "workload.expected=faults:expected_sum",
    "workload.allow=[faults]",
    f"workload.pythonpath={TESTS_DIR}",
]


def test_the_groups_hold_what_the_spec_names() -> None:
    assert {"serial", "threading", "multiprocessing", "thread_pool", "process_pool"} <= set(BACKEND_OPTIONS)
    assert "sum_range" in {p.stem for p in (CONF_DIR / "workload").glob("*.yaml")}
    assert {"local", "server"} <= set(TRACKING_OPTIONS)
    assert {"quick", "seed", "scaling"} <= set(SWEEP_PRESETS)


def test_defaults_compose_to_a_valid_trial(hydra_conf) -> None:
    cfg = hydra_conf("config")
    spec = build_spec(cfg)
    assert spec.backend == "serial" and spec.workload == "sum_range"
    assert spec.experiment == "parsweep"
    assert spec.start_method == "none"
    assert set(cfg) >= {"backend", "workload", "tracking", "workers", "n", "repeats", "warmup", "timeout_s", "experiment"}


@pytest.mark.parametrize("backend", BACKEND_OPTIONS)
def test_every_backend_composes(hydra_conf, backend: str) -> None:
    spec = build_spec(hydra_conf("config", overrides=[f"backend={backend}", "workers=3"]))
    assert spec.backend == backend
    if backend == "serial":
        assert spec.workers == 1, "serial ignores workers"
    else:
        assert spec.workers == 3
    if backend in ("multiprocessing", "process_pool"):
        assert spec.start_method == "fork"
    else:
        assert spec.start_method == "none"


@pytest.mark.parametrize("backend", ["multiprocessing", "process_pool"])
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_start_methods_compose(hydra_conf, backend: str, method: str) -> None:
    spec = build_spec(hydra_conf("config", overrides=[f"backend={backend}", f"backend.start_method={method}"]))
    assert spec.start_method == method


def test_sum_range_workload_composes(hydra_conf) -> None:
    assert build_spec(hydra_conf("config", overrides=["workload=sum_range"])).workload == "sum_range"


def test_custom_workload_composes(hydra_conf) -> None:
    spec = build_spec(hydra_conf("config", overrides=CUSTOM))
    assert spec.workload == "custom"
    assert spec.workload_options["function"] == "faults:good_sum"
    assert spec.workload_options["pythonpath"] == str(TESTS_DIR)


def test_custom_workload_default_pythonpath_is_the_launch_dir(hydra_conf) -> None:
    # ${hydra:runtime.cwd} needs Hydra's config set, as it is inside a real launch.
    from hydra.core.hydra_config import HydraConfig

    cfg = hydra_conf("config", overrides=CUSTOM[:-1], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    spec = build_spec(cfg)
    assert spec.workload_options["pythonpath"] == cfg.hydra.runtime.cwd


@pytest.mark.parametrize("tracking", TRACKING_OPTIONS)
def test_every_tracking_option_composes(hydra_conf, tracking: str) -> None:
    cfg = hydra_conf("config", overrides=[f"tracking={tracking}"])
    build_spec(cfg)
    assert cfg.tracking.kind == tracking
    if tracking == "local":
        assert cfg.tracking.uri is None
    else:
        assert str(cfg.tracking.uri).startswith("http")


@pytest.mark.parametrize("preset", SWEEP_PRESETS)
def test_every_sweep_preset_composes_and_sets_sweeper_params(hydra_conf, preset: str) -> None:
    cfg = hydra_conf("config", overrides=[f"sweep={preset}"], return_hydra_config=True)
    build_spec(cfg)
    params = cfg.hydra.sweeper.params
    assert params is not None
    assert {"backend", "workers", "n"} <= set(params.keys())
    assert cfg.hydra.runtime.choices.sweep == preset


def test_quick_sweep_is_threads_processes_and_a_pool_measured_until_known(hydra_conf) -> None:
    cfg = hydra_conf("config", overrides=["sweep=quick"], return_hydra_config=True)
    backends = str(cfg.hydra.sweeper.params.backend).split(",")
    assert set(backends) == {"serial", "threading", "multiprocessing", "process_pool"}
    assert cfg.repeats == "auto" and cfg.target_speedup_ci == 0.05 and cfg.sweep_budget_s <= 90


def test_seed_sweep_is_the_classic_experiment(hydra_conf) -> None:
    cfg = hydra_conf("config", overrides=["sweep=seed"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert set(str(params.backend).split(",")) == {"serial", "multiprocessing"}
    assert parse_count("n", params.n, 1) == 100_000_000
    assert str(params.workers) == "2"


def test_scaling_sweep_goes_to_twice_the_usable_cores(hydra_conf, usable_cores: int) -> None:
    cfg = hydra_conf("config", overrides=["sweep=scaling"], return_hydra_config=True)
    workers = [int(w) for w in str(cfg.hydra.sweeper.params.workers).split(",")]
    assert workers == list(range(1, 2 * usable_cores + 1))


def test_quick_sweep_plan_runs_serial_once_per_n(hydra_conf) -> None:
    from runner.app.plan import plan_sweep

    cfg = hydra_conf("config", overrides=["sweep=quick"], return_hydra_config=True)
    plan = plan_sweep(cfg).trials
    params = cfg.hydra.sweeper.params
    n_values = str(params.n).split(",")
    workers = str(params.workers).split(",")
    parallel = [b for b in str(params.backend).split(",") if b != "serial"]
    assert len(plan) == len(n_values) * (1 + len(parallel) * len(workers))
    serial = [trial.spec for trial in plan if trial.spec.backend == "serial"]
    assert sorted(spec.n for spec in serial) == sorted(parse_count("n", v, 1) for v in n_values)
    assert all(spec.workers == 1 for spec in serial)


def test_a_sweeps_plan_is_found_on_its_launch_by_its_own_primary_config_only(hydra_conf) -> None:
    """The sweeper and the launcher take the plan from the launch (runner.app.launch), and only for the
    primary config it was made from: planning leaves nothing in a module for a later sweep."""
    from runner.app.launch import Launch
    from runner.app.plan import job_config, plan_sweep

    cfg = hydra_conf("config", overrides=["sweep=quick"], return_hydra_config=True)
    other = hydra_conf("config", overrides=["sweep=quick"], return_hydra_config=True)
    plan = plan_sweep(cfg)
    assert Launch().plan_of(cfg) is None  # a new launch knows no plan
    launch = Launch(plan=plan)
    assert launch.plan_of(cfg) is plan and launch.plan_of(other) is None
    first = plan.trials[0]
    kept = first.config
    assert job_config(first.overrides, cfg, launch.plan_of(cfg)) is kept  # the very config that was validated
    again = job_config(first.overrides, cfg, launch.plan_of(cfg))  # handed out once, then composed anew
    assert again is not kept and again == kept


@pytest.mark.parametrize("given", ["100000000", "1e8", "100_000_000", 100000000, 1e8])
def test_n_accepts_every_spelling(hydra_conf, given) -> None:
    assert parse_count("n", given, 1) == 100_000_000
    assert build_spec(hydra_conf("config", overrides=[f"n={given}"])).n == 100_000_000


@pytest.mark.parametrize(
    "override, key",
    [
        ("workers=0", "workers"),
        ("n=-5", "n"),
        ("n=abc", "n"),
        ("n=1.5", "n"),
        ("n=0", "n"),
        ("repeats=0", "repeats"),
        ("warmup=-1", "warmup"),
        ("timeout_s=0", "timeout_s"),
        ("backend.start_method=vfork", "backend.start_method"),
    ],
)
def test_build_spec_refuses_bad_values(hydra_conf, override: str, key: str) -> None:
    extra = ["backend=multiprocessing"] if override.startswith("backend.") else []
    cfg = hydra_conf("config", overrides=[*extra, override])
    with pytest.raises(ConfigError) as caught:
        build_spec(cfg)
    message = str(caught.value)
    assert caught.value.key == key
    assert "\n" not in message and message.startswith(f"{key}=")


def test_unknown_backend_in_a_plain_dict() -> None:
    cfg = OmegaConf.create({"backend": {"name": "foo"}, "workload": {"name": "sum_range"}, "workers": 2, "n": 10})
    with pytest.raises(ConfigError, match=r"^backend=foo: .*serial"):
        build_spec(cfg)


def test_hydra_types_the_settings_it_can_check(hydra_conf) -> None:
    """The schema's typed settings (``runner.app.schema.CHECKED_TYPES``) are settings of DEFAULTS whose
    defaults have that type; Hydra converts what it is given to it; every other setting stays ``Any``."""
    from runner.app.schema import CHECKED_TYPES
    from runner.trial.spec import DEFAULTS

    for key, kind in CHECKED_TYPES.items():
        head, _, rest = key.partition(".")
        default = DEFAULTS[head][rest] if rest else DEFAULTS[head]
        assert isinstance(default, kind), key
    cfg = hydra_conf("config", overrides=["quiet=yes", "target_rel_ci=5e-2", "interference.threshold=0.2", "n=1e4", "repeats=auto"])
    assert cfg.quiet is True and cfg.target_rel_ci == 0.05 and cfg.interference.threshold == 0.2
    spec = build_spec(cfg)  # Any: parsweep, not Hydra, reads the 1e7 spellings and repeats=auto
    assert spec.n == 10_000 and spec.repeats == "auto"
