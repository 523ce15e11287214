"""Right answers from every backend across awkward (n, workers), with real threads and processes."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from conftest import MARKER, TESTS_DIR, describe_processes, wait_for_no_processes
from runner.execute.schedule import run_isolated
from runner.trial.bench import run_trial
from runner.trial.chunking import split_range
from runner.trial.spec import TrialSpec, build_spec

pytestmark = pytest.mark.timeout(180)

BACKENDS = [
    ("serial", None),
    ("threading", None),
    ("multiprocessing", "fork"),
    ("multiprocessing", "spawn"),
    ("multiprocessing", "forkserver"),
    ("thread_pool", None),
    ("process_pool", "fork"),
    ("process_pool", "spawn"),
    ("process_pool", "forkserver"),
]
# (n, workers): fewer items than workers, a prime n, n not divisible by workers, even split.
AWKWARD = [(1, 4), (10_007, 3), (10, 4), (1_000, 2)]


def make_spec(backend: str, method: str | None, n: int, workers: int, **extra) -> TrialSpec:
    backend_cfg = {"name": backend}
    if method:
        backend_cfg["start_method"] = method
    cfg = {
        "backend": backend_cfg,
        "workload": {"name": "sum_range"},
        "workers": workers,
        "n": n,
        "repeats": 2,
        "warmup": 1,
        "timeout_s": 120,
        "experiment": "tests",
    }
    cfg.update(extra)
    return build_spec(cfg)


def backend_id(item) -> str:
    return f"{item[0]}-{item[1]}" if item[1] else item[0]


def check_result(result, spec: TrialSpec) -> None:
    assert result.error is None, result.error
    assert result.correct
    assert len(result.wall_times_s) == spec.repeats, "warm-up repetitions must not be recorded"
    assert len(result.cpu_times_s) == spec.repeats
    assert all(w > 0 for w in result.wall_times_s)
    assert result.startup_s is not None and result.startup_s >= 0
    metrics = result.metrics()
    assert metrics["correct"] == 1.0
    for name in ("wall_time_s", "wall_time_min_s", "wall_time_std_s", "cpu_time_s", "cpu_utilization", "startup_s"):
        assert name in metrics
    assert metrics["wall_time_min_s"] <= metrics["wall_time_s"]


@pytest.mark.parametrize("n, workers", AWKWARD, ids=[f"n{n}-w{w}" for n, w in AWKWARD])
@pytest.mark.parametrize("backend", BACKENDS, ids=[backend_id(b) for b in BACKENDS])
def test_run_trial_gives_the_right_answer(backend, n: int, workers: int) -> None:
    spec = make_spec(*backend, n=n, workers=workers)
    assert spec.workers == (1 if backend[0] == "serial" else workers)
    check_result(run_trial(spec), spec)


@pytest.mark.parametrize("backend", BACKENDS, ids=[backend_id(b) for b in BACKENDS])
def test_run_trial_with_an_empty_range(backend) -> None:
    # n = 0 is refused by the config (n >= 1), but split_range allows it and the answer is still exact.
    spec = dataclasses.replace(make_spec(*backend, n=5, workers=3), n=0)
    result = run_trial(spec)
    assert result.error is None and result.correct


@pytest.mark.parametrize("backend", BACKENDS, ids=[backend_id(b) for b in BACKENDS])
def test_run_isolated_gives_the_right_answer(backend) -> None:
    spec = make_spec(*backend, n=10_007, workers=3)
    check_result(run_isolated(spec), spec)


def test_run_isolated_reports_every_repetition() -> None:
    from runner.execute.schedule import Silent

    seen = []

    class Watching(Silent):
        def repetition(self, job, done, total, wall_s):
            seen.append((done, total))

    spec = make_spec("threading", None, n=1000, workers=2)
    result = run_isolated(spec, observer=Watching())
    assert result.correct
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_run_isolated_timeout_leaves_no_process_behind() -> None:
    spec = make_spec("multiprocessing", "fork", n=10**9, workers=2, timeout_s=0.5, warmup=0, repeats=1)
    began = time.perf_counter()
    result = run_isolated(spec)
    took = time.perf_counter() - began
    assert result.failed and "timed out" in result.error and "timeout_s" in result.error
    assert took < 10
    # The trial and its workers lead their own process group; none of them may survive.
    left = wait_for_no_processes(os.environ[MARKER], exclude_pgid=os.getpgid(0), within_s=5)
    assert not left, describe_processes(left)


def test_trial_processes_come_from_one_fork_server_per_interpreter() -> None:
    """Each trial's process is forked from a server of its interpreter, started once; closing
    the servers leaves no process behind."""
    from runner.execute import processes

    spec = make_spec("thread_pool", None, n=10_007, workers=2, warmup=0, repeats=1)
    try:
        check_result(run_isolated(spec), spec)
        servers = processes.fork_server_pids()
        assert len(servers) == 1
        check_result(run_isolated(spec), spec)
        assert processes.fork_server_pids() == servers, "the second trial came from the same server"
    finally:
        processes.close_fork_servers()
    assert processes.fork_server_pids() == []
    left = wait_for_no_processes(os.environ[MARKER], exclude_pgid=os.getpgid(0), within_s=5)
    assert not left, describe_processes(left)


def test_a_launcher_killed_outright_leaves_no_trial_process(tmp_path) -> None:
    """A launcher killed with SIGKILL (no cleanup at all) while a trial process waits for its
    next command: the fork server and the trial process both end on their own."""
    import subprocess
    import sys

    script = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(TESTS_DIR)!r})\n"
        "from test_core_backends import make_spec\n"
        "from runner.execute.processes import TrialProcess\n"
        "trial = TrialProcess(sys.executable)\n"
        "trial.send(('spec', make_spec('thread_pool', None, n=1000, workers=2, warmup=0, repeats=1), os.getcwd(), None))\n"
        "assert trial.receive(None)[0] == 'ready'\n"
        "print(trial.server.process.pid, trial.pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    marker = f"standby-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, MARKER: marker, "PARSWEEP_LOCK_FILE": str(tmp_path / "lock")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert all(int(pid) > 0 for pid in done.stdout.split())
    left = wait_for_no_processes(marker, within_s=10)
    assert not left, describe_processes(left)


def test_custom_workload_in_process() -> None:
    cfg = {
        "backend": {"name": "thread_pool"},
        "workload": {
            "name": "custom",
            "function": "faults:good_sum",
            "expected": "faults:expected_sum",
            "allow": ["faults"],
            "pythonpath": str(TESTS_DIR),
        },
        "workers": 3,
        "n": 10_007,
        "repeats": 1,
        "warmup": 0,
        "timeout_s": 60,
        "experiment": "tests",
    }
    assert run_trial(build_spec(cfg)).correct


# -- chunking ---------------------------------------------------------------------------

PAIRS = [(n, parts) for n in [0, 1, 2, 3, 7, 10, 99, 100, 101, 1000, 10_007, 65_537] for parts in [1, 2, 3, 4, 5, 7, 8, 16, 64, 100]]


@pytest.mark.parametrize("n, parts", PAIRS)
def test_split_range_is_exact(n: int, parts: int) -> None:
    chunks = split_range(n, parts)
    assert len(chunks) == parts
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    for (_, end), (start, _) in zip(chunks, chunks[1:]):
        assert end == start, "chunks must be contiguous"
    sizes = [end - start for start, end in chunks]
    assert all(size >= 0 for size in sizes)
    assert max(sizes) - min(sizes) <= 1
    assert sum(sizes) == n
    covered = [i for start, end in chunks for i in range(start, end)]
    assert covered == list(range(n))
    assert sum(sum(range(start, end)) for start, end in chunks) == n * (n - 1) // 2


def test_split_range_many_pairs_quickly() -> None:
    for n in range(0, 300):
        for parts in range(1, 40):
            chunks = split_range(n, parts)
            assert sum(end - start for start, end in chunks) == n
            assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))


def test_split_range_one_item_four_parts() -> None:
    assert split_range(1, 4) == [(0, 1), (1, 1), (1, 1), (1, 1)]


@pytest.mark.parametrize("n, parts", [(-1, 2), (5, 0), (5, -3)])
def test_split_range_refuses_nonsense(n: int, parts: int) -> None:
    with pytest.raises(ValueError):
        split_range(n, parts)
