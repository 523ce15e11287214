"""``parsweep-reproduce RUN_ID`` and reproducing from files alone.

End to end: a real sweep, then its re-run (whole, and one trial) from what MLflow logged,
with the comparison table and the ``parsweep.reproduces`` tags; a trial's ``.hydra`` folder
re-run with ``parsweep --config-dir DIR --config-name config`` and logged like any run; a
logged custom workload refused unless allowed locally or ``--trust``. Below, the pieces:
the power rule of the verdict and of the re-run's repetitions, the safety checks and the
environment comparison.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from analysis.claims.reproduction import environment_differences, noise_verdict, rerun_repeats
from conftest import all_runs, clean_env, multirun_trial_dirs, run_parsweep, runs_with_role, sqlite_uri
from runner.app.reproduce import config_problems

SMALL = ["n=1e4", "repeats=3", "warmup=0"]


def reproduce(args: list[str], cwd: Path, uri: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runner.app.reproduce", *args, "--tracking-uri", uri],
        cwd=cwd, capture_output=True, text=True, env=clean_env(**env), timeout=240,
    )


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> tuple[Path, str, object]:
    cwd = tmp_path_factory.mktemp("original")
    uri = sqlite_uri(cwd / "mlflow.db")
    launch = run_parsweep(["-m", "backend=serial,threading", "workers=2", *SMALL], cwd, uri=uri)
    assert launch.returncode == 0, launch.explain()
    (sweep,) = runs_with_role(all_runs(uri), "sweep")
    return cwd, uri, sweep


@pytest.mark.slow
def test_reproduce_a_sweep(logged) -> None:
    cwd, uri, sweep = logged
    originals = {r.info.run_id: r for r in runs_with_role(all_runs(uri), "trial")}
    done = reproduce([sweep.info.run_id], cwd, uri)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "within noise?" in done.stdout and "Mann-Whitney p=" in done.stdout
    # the originals have 3 repetitions: the re-run gets 5, so that its test can decide
    assert "parsweep-reproduce: repeats=5" in done.stdout
    assert "all 2 re-run(s) gave the right answer" in done.stdout
    runs = all_runs(uri)
    (new_sweep,) = [r for r in runs_with_role(runs, "sweep") if r.info.run_id != sweep.info.run_id]
    assert new_sweep.data.tags["parsweep.reproduces"] == sweep.info.run_id
    new_trials = [r for r in runs_with_role(runs, "trial") if r.data.tags["mlflow.parentRunId"] == new_sweep.info.run_id]
    assert len(new_trials) == 2
    for trial in new_trials:
        original = originals[trial.data.tags["parsweep.reproduces"]]
        assert {k: v for k, v in trial.data.params.items() if k != "repeats"} == \
            {k: v for k, v in original.data.params.items() if k != "repeats"}
        assert trial.data.params["repeats"] == "5" and original.data.params["repeats"] == "3"
        assert trial.data.metrics["correct"] == 1.0


@pytest.mark.slow
def test_reproduce_one_trial(logged) -> None:
    cwd, uri, sweep = logged
    trial = next(r for r in runs_with_role(all_runs(uri), "trial") if r.data.params["backend"] == "threading"
                 and "parsweep.reproduces" not in r.data.tags)
    done = reproduce([trial.info.run_id], cwd, uri)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "threading" in done.stdout and "x  " in done.stdout  # the ratio column
    new = [r for r in runs_with_role(all_runs(uri), "trial") if r.data.tags.get("parsweep.reproduces") == trial.info.run_id]
    assert new and new[-1].data.params["backend"] == trial.data.params["backend"] and "mlflow.parentRunId" not in new[-1].data.tags
    assert new[-1].data.params["repeats"] == "5"


@pytest.mark.slow
def test_reproduce_from_files_alone(logged, tmp_path: Path) -> None:
    cwd, uri, _ = logged
    job = next(d for d in multirun_trial_dirs(cwd) if "threading" in (d / ".hydra" / "overrides.yaml").read_text())
    before = {r.info.run_id for r in all_runs(uri)}
    launch = run_parsweep(["--config-dir", str(job / ".hydra"), "--config-name", "config"], tmp_path, uri=uri)
    assert launch.returncode == 0, launch.explain()
    assert "threading" in launch.stdout and "workers=2" in launch.stdout
    (new,) = [r for r in all_runs(uri) if r.info.run_id not in before]
    assert new.data.tags["parsweep.role"] == "trial"
    assert new.data.params["backend"] == "threading" and new.data.params["workers"] == "2"


@pytest.mark.slow
def test_unknown_run_id_is_one_line(logged) -> None:
    cwd, uri, _ = logged
    done = reproduce(["0" * 32], cwd, uri)
    assert done.returncode == 2 and "no such run" in done.stderr


WORK = textwrap.dedent(
    """
    def work(start, end):
        return sum(range(start, end))


    def expected(n):
        return n * (n - 1) // 2
    """
)


@pytest.mark.slow
def test_custom_workload_refused_unless_trusted(tmp_path: Path) -> None:
    (tmp_path / "mywork.py").write_text(WORK)
    uri = sqlite_uri(tmp_path / "mlflow.db")
    launch = run_parsweep(["workload=custom", "workload.function=mywork:work", "workload.expected=mywork:expected",
                           "workload.allow=[mywork]", *SMALL], tmp_path, uri=uri)
    assert launch.returncode == 0, launch.explain()
    (trial,) = all_runs(uri)
    refused = reproduce([trial.info.run_id], tmp_path, uri)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refused" in refused.stderr and "'mywork' is not on your allowlist" in refused.stderr and "--trust" in refused.stderr
    assert len(all_runs(uri)) == 1, "something ran"
    trusted = reproduce([trial.info.run_id, "--trust"], tmp_path, uri)
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert len(all_runs(uri)) == 2


# -- the pieces ------------------------------------------------------------------------------


def test_noise_verdict_knows_its_power() -> None:
    same = [1.00, 1.01, 0.99, 1.02, 0.98]
    within, text = noise_verdict(same, [1.005, 0.995, 1.015, 0.985, 1.0])
    assert within is True and text.startswith("yes (Mann-Whitney p=")
    changed, text = noise_verdict(same, [1.5, 1.6, 1.55, 1.52, 1.58])
    assert changed is False and text.startswith("NO: 1.55x slower (Mann-Whitney p=0.008")
    # the case: 2.14x slower on 3 vs 3 repetitions said "within noise? yes (p=0.400)"
    original, slower = [1.0, 1.1, 0.95], [2.14, 2.3, 2.0]
    within, text = noise_verdict(original, slower)
    assert within is None and text == "cannot tell: 3 vs 3 repetitions are too few (the test cannot go below p=0.1)"
    assert noise_verdict([1.0], [1.0])[0] is None
    # enough repetitions, but too noisy to say "within noise": a wide interval is no evidence of sameness
    within, text = noise_verdict([1.0, 0.5, 1.5, 0.7, 1.3], [1.0, 0.6, 1.6, 0.5, 1.4])
    assert within is None and text.startswith("cannot tell: too noisy")
    # a 2x change never reads as within noise, at any number of repetitions
    for count in range(1, 9):
        base = [1.0 + 0.01 * i for i in range(count)]
        assert noise_verdict(base, [2 * v for v in base])[0] is not True, count


def test_rerun_repeats_lets_the_test_decide() -> None:
    assert rerun_repeats([3]) == 5  # 3 vs 5: smallest p 0.036 < 0.05 (3 vs 3: 0.10, 3 vs 4: 0.057)
    assert rerun_repeats([5, 3]) == 5 and rerun_repeats([7]) == 7  # never fewer than the original's
    assert rerun_repeats([2]) == 8 and rerun_repeats([1]) == 40 and rerun_repeats([60]) == 50
    assert rerun_repeats([]) is None  # nothing logged to test against: the logged repeats stand


def test_config_problems() -> None:
    base = {"backend": {"name": "serial"}, "workload": {"name": "sum_range"}, "workers": 1, "n": 10, "repeats": 1}
    assert config_problems(base, []) == []
    custom = {**base, "workload": {"name": "custom", "function": "evil:run", "allow": ["evil"], "pythonpath": "${hydra:runtime.cwd}"}}
    assert any("'evil' is not on your allowlist" in p for p in config_problems(custom, []))
    assert config_problems(custom, ["evil"]) == []
    assert any("pythonpath" in p for p in config_problems({**custom, "workload": {**custom["workload"], "pythonpath": "/tmp/x"}}, ["evil"]))
    assert any("hydra" in p for p in config_problems({**base, "hydra": {"callbacks": {}}}, []))
    assert any("_target_" in p for p in config_problems({**base, "backend": {"name": "serial", "_target_": "os.system"}}, []))
    assert any("interpolation" in p for p in config_problems({**base, "experiment": "${oc.env:AWS_SECRET_ACCESS_KEY}"}, []))
    # the interpreter: current, or a command on *your* PATH; a path is a program the run chose
    for python in ("current", "python3.13t"):
        assert config_problems({**base, "python": python, "gil": None, "schedule": "interleaved"}, []) == []
    assert any(p.startswith("python=/tmp/evil: the run names an interpreter by path") for p in config_problems({**base, "python": "/tmp/evil"}, []))


def test_environment_differences_name_each() -> None:
    original = {"host": {"name": "a", "cpu_model": "X", "cpu_usable": 2}, "python": {"version": "3.11.7", "build": "main"},
                "packages": {"mlflow": "3.17.1", "pandas": "3.1.0"}, "git": {"commit": "abc", "dirty": False}}
    current = {"host": {"name": "b", "cpu_model": "X", "cpu_usable": 2}, "python": {"version": "3.12.1", "build": "main"},
               "packages": {"mlflow": "3.17.2", "pandas": "3.1.0"}, "git": {"commit": "def", "dirty": False}}
    lines = environment_differences(original, current)
    assert any(line.startswith("host differs: name") for line in lines)
    assert any(line.startswith("Python build differs: version") for line in lines)
    assert any(line.startswith("package version differs: mlflow") for line in lines)
    assert any(line.startswith("git commit differs: commit") for line in lines)
    assert len(lines) == 4
    assert environment_differences(original, original) == []


def test_a_logged_config_becomes_an_option_of_parsweeps_own_config(tmp_path: Path) -> None:
    """A composed config (no defaults, no hydra section) runs with parsweep's groups: its backend,
    workload and tracking are chosen in a defaults list; a primary config of one's own is left alone."""
    import yaml

    from runner.app.logged import option_text, read_logged

    (tmp_path / "config.yaml").write_text("backend:\n  name: multiprocessing\n  start_method: spawn\nworkload:\n  name: sum_range\n"
                                          "tracking:\n  kind: local\n  uri: null\nn: 10\n")
    logged = read_logged(str(tmp_path), "config")
    assert logged is not None
    text = option_text(logged)
    assert text.startswith("# @package _global_\n")
    document = yaml.safe_load(text)
    assert document["defaults"] == [{"override /backend": "multiprocessing"}, {"override /workload": "sum_range"},
                                    {"override /tracking": "local"}, "_self_"]
    assert document["backend"] == {"name": "multiprocessing", "start_method": "spawn"} and document["n"] == 10
    again = yaml.safe_load(option_text(logged, chosen_again=["backend"]))  # the command line chooses another backend
    assert {"override /backend": "multiprocessing"} not in again["defaults"] and "backend" not in again
    (tmp_path / "own.yaml").write_text("defaults:\n  - _self_\nhydra:\n  run:\n    dir: x\n")
    assert read_logged(str(tmp_path), "own") is None
