"""Failing trials in the middle of a real sweep, and timeouts that stop a trial whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import (
    TESTS_DIR,
    Launch,
    all_runs,
    describe_processes,
    read_artifact,
    run_parsweep,
    runs_with_role,
    sqlite_uri,
    wait_for_no_processes,
)

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

BACKENDS = ["threading", "multiprocessing", "process_pool"]
# In sweep order: the failing functions sit between good ones.
FUNCTIONS = ["good_sum", "raise_in_worker", "wrong_sum", "kill_own_process", "exit_own_process", "good_sum_again"]
GOOD = {"good_sum", "good_sum_again"}


def error_is_useful(function: str, backend: str, error: str) -> bool:
    """What a user must be able to read from ``parsweep.error``."""
    if function == "raise_in_worker":
        return "ValueError" in error and "injected fault" in error
    if function == "wrong_sum":
        return "wrong answer" in error and "expected" in error
    if function == "kill_own_process":
        # threading: the trial process itself dies; processes: one worker dies.
        return "SIGKILL" in error or "terminated abruptly" in error
    if function == "exit_own_process":
        return "code 3" in error or "terminated abruptly" in error
    raise AssertionError(function)


class FailingSweep:
    def __init__(self, launch: Launch, uri: str, artifacts: Path) -> None:
        self.launch, self.uri = launch, uri
        runs = all_runs(uri)
        self.parents = runs_with_role(runs, "sweep")
        self.trials = runs_with_role(runs, "trial")
        # Which function each run used: from its logged overrides (the params name only "custom").
        self.by_key: dict[tuple[str, str], object] = {}
        self.order: list[tuple[str, str]] = []
        for index, run in enumerate(self.trials):
            overrides = yaml.safe_load(read_artifact(uri, run.info.run_id, ".hydra/overrides.yaml", artifacts / str(index)))
            values = dict(o.split("=", 1) for o in overrides)
            key = (values["backend"], values["workload.function"].split(":")[1])
            self.by_key[key] = run
            self.order.append(key)


@pytest.fixture(scope="module")
def failing(tmp_path_factory) -> FailingSweep:
    launch_dir = tmp_path_factory.mktemp("failing")
    uri = sqlite_uri(launch_dir / "failing.db")
    launch = run_parsweep(
        [
            "-m",
            f"backend={','.join(BACKENDS)}",
            "workload=custom",
            "workload.function=" + ",".join(f"faults:{f}" for f in FUNCTIONS),
            "workload.expected=faults:expected_sum",
            "workload.allow=[faults]",
            f"workload.pythonpath={TESTS_DIR}",
            "workers=2",
            "n=1e4",
            "repeats=1",
            "warmup=0",
        ],
        launch_dir,
        uri=uri,
    )
    return FailingSweep(launch, uri, launch_dir / "artifacts")


def test_the_sweep_runs_to_the_end_and_exits_1(failing: FailingSweep) -> None:
    assert failing.launch.returncode == 1, failing.launch.explain()
    assert len(failing.trials) == len(BACKENDS) * len(FUNCTIONS)
    assert set(failing.by_key) == {(b, f) for b in BACKENDS for f in FUNCTIONS}
    assert "Traceback" not in failing.launch.stderr


def test_failing_trials_sit_between_good_ones(failing: FailingSweep) -> None:
    statuses = [failing.by_key[key].info.status for key in failing.order]
    for backend in BACKENDS:
        sequence = [(f, failing.by_key[(b, f)].info.status) for b, f in failing.order if b == backend]
        assert [f for f, _ in sequence] == FUNCTIONS, "the sweep keeps its order"
        assert sequence[0][1] == "FINISHED" and sequence[-1][1] == "FINISHED", sequence
    # The very last trial of the sweep is a good one that ran after every failure.
    assert statuses[-1] == "FINISHED"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_trial_status_and_error(failing: FailingSweep, backend: str, function: str) -> None:
    run = failing.by_key[(backend, function)]
    tags, metrics = run.data.tags, run.data.metrics
    if function in GOOD:
        assert run.info.status == "FINISHED", tags.get("parsweep.error")
        assert "parsweep.error" not in tags
        assert metrics["correct"] == 1.0
    else:
        assert run.info.status == "FAILED"
        error = tags.get("parsweep.error", "")
        assert error_is_useful(function, backend, error), error
        assert metrics.get("correct") == 0.0
        # A failed trial still says what it was.
        assert run.data.params["backend"] == backend and run.data.params["workload"] == "custom"


def test_parent_run_is_failed(failing: FailingSweep) -> None:
    assert len(failing.parents) == 1
    assert failing.parents[0].info.status == "FAILED"


def test_stderr_lists_what_failed(failing: FailingSweep) -> None:
    stderr = failing.launch.stderr
    failed = [key for key in failing.order if key[1] not in GOOD]
    assert f"{len(failed)} of {len(failing.trials)} trials failed" in stderr, stderr
    for key in failed:
        error = failing.by_key[key].data.tags["parsweep.error"]
        assert error in stderr, (key, stderr)
    assert "injected fault" in stderr and "wrong answer" in stderr


# -- timeouts ----------------------------------------------------------------------------


def test_timeout_fails_the_trial_and_leaves_no_process(tmp_path: Path) -> None:
    """Threads cannot be stopped from inside a process: the whole trial process goes.

    Also: ``n`` written as 100000000 and as 1e8 is the same integer: one trial, logged as
    such (the multiprocessing timeout is in test_core_backends, 100_000_000 in the next test).
    """
    uri = sqlite_uri(tmp_path / "timeout.db")
    launch = run_parsweep(
        ["-m", "backend=threading", "workers=2", "n=100000000,1e8", "timeout_s=0.5", "repeats=1", "warmup=0"],
        tmp_path,
        uri=uri,
    )
    assert launch.returncode == 1, launch.explain()
    trials = runs_with_role(all_runs(uri), "trial")
    assert len(trials) == 1
    for run in trials:
        assert run.info.status == "FAILED"
        error = run.data.tags["parsweep.error"]
        assert "timed out" in error and "timeout_s" in error, error
        assert run.data.params["n"] == "100000000"
    left = wait_for_no_processes(launch.marker, within_s=10)
    assert not left, "processes of the sweep outlived it:\n" + describe_processes(left)


def test_lone_trial_timeout_with_underscored_n(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "lone-timeout.db")
    launch = run_parsweep(
        ["backend=process_pool", "workers=2", "n=100_000_000", "timeout_s=0.5", "repeats=1", "warmup=0"], tmp_path, uri=uri
    )
    assert launch.returncode == 1, launch.explain()
    runs = all_runs(uri)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FAILED"
    assert "timed out" in run.data.tags["parsweep.error"]
    assert run.data.params["n"] == "100000000"
    assert "timed out" in launch.stdout + launch.stderr
    left = wait_for_no_processes(launch.marker, within_s=10)
    assert not left, describe_processes(left)
