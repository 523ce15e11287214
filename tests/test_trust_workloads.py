"""Every workload under every backend, through real Hydra composition and real trials:
each repetition's answer is checked exactly, chunks work everywhere, and pools given more
chunks than workers even out count_primes' unbalanced load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import CONF_DIR
from runner.trial.bench import run_trial
from runner.trial.chunking import split_range
from runner.trial.spec import ConfigError, build_spec
from runner.trial.workloads.count_primes import count_primes_chunk, primes_below
from runner.trial.workloads.numpy_chunk import numpy_sum_chunk
from runner.trial.workloads.sleep import sleep_chunk

pytestmark = pytest.mark.timeout(120)

BACKENDS = sorted(p.stem for p in (CONF_DIR / "backend").glob("*.yaml") if p.stem in {
    "serial", "threading", "multiprocessing", "thread_pool", "process_pool"})
WORKLOADS = ["sum_range", "count_primes", "numpy_sum", "sleep", "custom"]
# Small sizes: these tests check answers and plumbing, not speed.
SIZES = {"sum_range": "n=20_001", "count_primes": "n=5000", "numpy_sum": "n=300_001", "sleep": "n=20_000", "custom": "n=20_001"}

USER_MODULE = textwrap.dedent(
    """\
    def cubes(start, end):
        return sum(i ** 3 for i in range(start, end))


    def cubes_expected(n):
        return (n * (n - 1) // 2) ** 2


    def combine_sum(parts):
        return sum(parts)
    """
)


@pytest.fixture(scope="module")
def user_module(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("usercode")
    (directory / "trust_user_code.py").write_text(USER_MODULE)
    return directory


def workload_overrides(workload: str, user_module: Path) -> list[str]:
    if workload == "custom":
        return [
            "workload=custom",
            "workload.function=trust_user_code:cubes",
            "workload.expected=trust_user_code:cubes_expected",
            "workload.combine=trust_user_code:combine_sum",
            "workload.allow=[trust_user_code]",
            f"workload.pythonpath={user_module}",
        ]
    extra = ["workload.sleep_per_item_s=1e-6"] if workload == "sleep" else []
    return [f"workload={workload}", *extra]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_every_workload_under_every_backend(hydra_conf, user_module: Path, workload: str, backend: str) -> None:
    cfg = hydra_conf(
        "config",
        overrides=[f"backend={backend}", "workers=2", SIZES[workload], "repeats=2", "warmup=1", *workload_overrides(workload, user_module)],
    )
    spec = build_spec(cfg)
    result = run_trial(spec)
    assert result.error is None, result.error
    assert result.correct
    assert len(result.wall_times_s) == 2
    metrics = result.metrics()
    assert metrics["correct"] == 1.0
    assert metrics["wall_time_ci_low_s"] <= metrics["wall_time_s"] <= metrics["wall_time_ci_high_s"]
    workers = 1 if backend == "serial" else 2
    assert len(result.series()["worker_busy_s"]) == workers
    assert metrics["load_imbalance"] >= 1.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("chunks", [1, 7])
def test_chunks_work_with_every_backend(hydra_conf, backend: str, chunks: int) -> None:
    """7 chunks dealt to 3 workers (uneven), and 1 chunk for 3 workers: still exact."""
    spec = build_spec(
        hydra_conf("config", overrides=[f"backend={backend}", "workers=3", f"chunks={chunks}", "workload=count_primes", "n=3001", "repeats=2", "warmup=0"])
    )
    result = run_trial(spec)
    assert result.error is None and result.correct, result.error
    if backend == "serial":
        assert spec.chunk_count == 1
    else:
        assert spec.chunk_count == chunks
        busy = result.series()["worker_busy_s"]
        assert len(busy) == 3  # every worker is counted, idle ones at 0
        if chunks == 1:
            assert busy[1:] == [0.0, 0.0]
            assert any("chunks=1 is fewer than workers=3" in w for w in result.warnings)


def test_workload_answers_are_exact_at_the_edges() -> None:
    n = 10_008
    assert sum(count_primes_chunk(a, b) for a, b in split_range(n, 7)) == primes_below(n) == 1230  # pi(10^4) = 1229, and 10007 is prime
    assert primes_below(2) == 0 and primes_below(3) == 1 and count_primes_chunk(0, 3) == 1
    assert sum(numpy_sum_chunk(a, b, block=1000) for a, b in split_range(n, 3)) == n * (n - 1) // 2
    assert numpy_sum_chunk(5, 5) == 0
    assert sum(sleep_chunk(a, b, 0.0) for a, b in split_range(n, 4)) == n * (n - 1) // 2
    with pytest.raises(OverflowError):
        numpy_sum_chunk(2**62, 2**62 + 10, block=4)


@pytest.mark.slow
def test_pools_balance_count_primes_when_given_more_chunks(hydra_conf) -> None:
    """Equal chunks of count_primes are unequal work; 16 chunks on a 2-process pool even it out."""
    imbalance = {}
    for chunks in (2, 16):
        spec = build_spec(
            hydra_conf(
                "config",
                overrides=["backend=process_pool", "workers=2", f"chunks={chunks}", "workload=count_primes", "n=1e6", "repeats=2", "warmup=0"],
            )
        )
        result = run_trial(spec)
        assert result.error is None and result.correct
        imbalance[chunks] = result.metrics()["load_imbalance"]
    # Two halves: the upper one costs ~1.7x the lower, so max/mean is ~1.25 (noise aside).
    assert imbalance[2] > 1.1, imbalance
    assert imbalance[16] < imbalance[2] - 0.05, imbalance


def test_custom_refuses_modules_off_the_allowlist(hydra_conf, user_module: Path, monkeypatch) -> None:
    base = ["workload=custom", "workload.function=trust_user_code:cubes", f"workload.pythonpath={user_module}"]
    monkeypatch.delenv("PARSWEEP_ALLOW_MODULES", raising=False)
    with pytest.raises(ConfigError) as refused:
        build_spec(hydra_conf("config", overrides=base))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("workload.function=trust_user_code:cubes:")
    assert "not on the allowlist" in message and "PARSWEEP_ALLOW_MODULES" in message
    with pytest.raises(ConfigError, match="workload.expected=os:getcwd"):
        build_spec(hydra_conf("config", overrides=[*base, "workload.allow=[trust_user_code]", "workload.expected=os:getcwd"]))
    # The environment variable allows it too, and then it runs.
    monkeypatch.setenv("PARSWEEP_ALLOW_MODULES", "json,trust_user_code")
    spec = build_spec(hydra_conf("config", overrides=[*base, "n=1000", "repeats=1", "warmup=0"]))
    result = run_trial(spec)
    assert result.correct and result.error is None


def test_custom_names_a_missing_function_clearly(hydra_conf, user_module: Path) -> None:
    spec = build_spec(
        hydra_conf(
            "config",
            overrides=["workload=custom", "workload.function=trust_user_code:nope", "workload.allow=[trust_user_code]",
                       f"workload.pythonpath={user_module}", "n=100", "repeats=1", "warmup=0"],
        )
    )
    result = run_trial(spec)
    assert result.failed
    assert "trust_user_code:nope: module 'trust_user_code' has no function 'nope'" in result.error


def test_workload_options_are_checked_with_one_line(hydra_conf) -> None:
    for overrides, key in (
        (["workload=sleep", "workload.sleep_per_item_s=-1"], "workload.sleep_per_item_s"),
        (["workload=numpy_sum", "workload.block=0"], "workload.block"),
        (["chunks=0"], "chunks"),
    ):
        with pytest.raises(ConfigError) as bad:
            build_spec(hydra_conf("config", overrides=overrides))
        assert str(bad.value).startswith(f"{key}=") and "\n" not in str(bad.value)
