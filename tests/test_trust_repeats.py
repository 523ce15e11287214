"""repeats=auto stops by each of its three rules, logs how many it ran and why, and its
keys are validated with one clear line before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import all_runs, run_parsweep, runs_with_role, sqlite_uri
from runner.app.overrides import check_overrides
from runner.trial.bench import run_trial
from runner.trial.spec import ConfigError, build_spec
from runner.trial.stats import summarize

pytestmark = pytest.mark.timeout(120)

SLEEP_20MS = ["backend=serial", "workload=sleep", "n=10_000", "workload.sleep_per_item_s=2e-6", "warmup=0"]


def auto_trial(hydra_conf, *overrides: str):
    spec = build_spec(hydra_conf("config", overrides=["repeats=auto", *overrides]))
    return spec, run_trial(spec)


def test_stops_when_the_median_is_known_well_enough(hydra_conf) -> None:
    spec, result = auto_trial(hydra_conf, *SLEEP_20MS, "target_rel_ci=0.25", "max_repeats=60", "max_time_s=30")
    assert result.correct and result.repeats_stop == "target_rel_ci"
    summary = summarize(result.wall_times_s)
    assert summary.ci_level >= 0.95 and summary.rel_ci_half_width <= 0.25
    assert 6 <= len(result.wall_times_s) < 60
    assert result.metrics()["repeats_done"] == len(result.wall_times_s)
    assert not any("repeats=auto stopped" in w for w in result.warnings)


def test_stops_at_max_repeats(hydra_conf) -> None:
    _, result = auto_trial(hydra_conf, "backend=serial", "n=1e4", "warmup=0", "target_rel_ci=1e-9", "max_repeats=7", "max_time_s=null")
    assert result.repeats_stop == "max_repeats"
    assert len(result.wall_times_s) == 7
    (warning,) = [w for w in result.warnings if "repeats=auto stopped" in w]
    assert "stopped by max_repeats after 7 repetitions" in warning and "target_rel_ci=1e-09" in warning


def test_stops_before_max_time_s(hydra_conf) -> None:
    _, result = auto_trial(hydra_conf, *SLEEP_20MS, "target_rel_ci=1e-9", "max_repeats=10000", "max_time_s=0.3")
    assert result.repeats_stop == "max_time_s"
    # About 0.3 s / 20 ms repetitions, never one that would end past the limit (noise aside).
    assert 4 <= len(result.wall_times_s) <= 15
    assert sum(result.wall_times_s) <= 0.3
    assert any("stopped by max_time_s" in w and "raise max_time_s" in w for w in result.warnings)


@pytest.mark.slow
def test_auto_is_logged_as_auto(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["repeats=auto", "n=1e4", "warmup=0", "max_repeats=8", "target_rel_ci=1e-9"], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    (run,) = runs_with_role(all_runs(uri), "trial")
    assert run.data.params["repeats"] == "auto"
    assert run.data.metrics["repeats_done"] == 8.0
    assert run.data.tags["parsweep.repeats_stop"] == "max_repeats"


@pytest.mark.parametrize(
    "argument, key",
    [
        ("repeats=sometimes", "repeats"),
        ("repeats=0", "repeats"),
        ("target_rel_ci=0", "target_rel_ci"),
        ("target_rel_ci=5", "target_rel_ci"),
        ("max_repeats=3", "max_repeats"),
        ("max_time_s=-1", "max_time_s"),
        ("chunks=-2", "chunks"),
        ("chunks=2,0", "chunks"),
    ],
)
def test_bad_values_get_one_line_naming_the_key(argument: str, key: str) -> None:
    with pytest.raises(ConfigError) as bad:
        check_overrides([argument])
    assert str(bad.value).startswith(f"{key}=") and "\n" not in str(bad.value)


def test_good_values_pass_the_command_line_check() -> None:
    check_overrides(["repeats=auto", "target_rel_ci=0.05", "max_repeats=20", "max_time_s=10", "chunks=8"])
    check_overrides(["repeats=3,auto", "max_time_s=null", "chunks=null"])


def test_max_time_s_must_fit_in_the_timeout(hydra_conf) -> None:
    with pytest.raises(ConfigError, match=r"^max_time_s=30: with repeats=auto it must be below timeout_s=20"):
        build_spec(hydra_conf("config", overrides=["repeats=auto", "timeout_s=20"]))
    build_spec(hydra_conf("config", overrides=["repeats=5", "timeout_s=20"]))  # fixed repeats: no bound needed


@pytest.mark.slow
def test_a_bad_repeats_stops_a_launch_before_any_run(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "repeats=auto,often", "n=1e3"], launch_dir, uri=uri)
    assert launch.returncode != 0
    assert launch.stderr_lines[-1].startswith("parsweep: error: repeats=often:")
    assert not (launch_dir / "mlflow.db").exists() or not all_runs(uri)


def test_a_contender_whose_baseline_reached_the_limit_is_told_so() -> None:
    """A baseline that reaches max_repeats leaves its contenders without pairs, and they end with
    its rule (runner.trial.measure.decide_stops), some after far fewer of their own repetitions
    (a contender stopped on its target early, read again at the end). Its warning says the
    baseline's limit ended it, after its own count; one that reached the limit itself is told
    that. (A quick sweep printed "stopped by max_repeats after 20 repetitions" with
    max_repeats=100.)"""
    from runner.trial.measure import Repetition
    from runner.trial.quality import assess
    from runner.trial.results import TrialResult

    spec = build_spec({"backend": {"name": "threading"}, "workload": {"name": "sum_range"}, "n": 10_000,
                       "repeats": "auto", "max_repeats": 100, "warmup": 0, "target_speedup_ci": 0.05})
    said = {}
    for count in (20, 100):
        result = TrialResult()
        result.keep([Repetition(0.01 + 0.0001 * (i % 3), 0.01, 0.0, [0.01], round=i) for i in range(count)])
        result.repeats_stop, result.paired_rel_ci = "max_repeats", 0.052
        assess(spec, result, usable=2, threshold_cores=1.0)
        (said[count],) = [w for w in result.warnings if w.startswith("repeats=auto")]
    assert said[20].startswith("repeats=auto ended when its baseline (serial) reached max_repeats, after 20 of its own repetitions, "
                               "with the paired speedup's 95% CI at ±5.2%, short of target_speedup_ci=0.05"), said[20]
    assert said[100].startswith("repeats=auto stopped by max_repeats after 100 repetitions with the paired speedup's 95% CI at ±5.2%"), said[100]
