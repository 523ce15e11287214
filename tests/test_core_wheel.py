"""parsweep works from a wheel install, not only from the checkout: configs come as package data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, all_runs, clean_env, run_parsweep, runs_with_role, sqlite_uri

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

# What the wheel is built from; copied so that building never writes into the checkout.
SOURCES = ["pyproject.toml", "README.md", "runner", "conf", "analysis", "hydra_plugins"]


def pip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


def can_build_without_isolation() -> bool:
    """setuptools >= 69 and wheel in this venv (pyproject's build requirements)."""
    try:
        import setuptools
        import wheel  # noqa: F401
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 69


@pytest.fixture(scope="module")
def wheel_target(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "parsweep"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, source / name)
    dist = base / "dist"
    isolation = ["--no-build-isolation"] if can_build_without_isolation() else []
    built = pip("wheel", "--no-deps", *isolation, "-w", str(dist), str(source), cwd=base)
    if built.returncode != 0:  # one retry: an isolated build environment is fetched from the registry
        built = pip("wheel", "--no-deps", *isolation, "-w", str(dist), str(source), cwd=base)
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = list(dist.glob("parsweep-*.whl"))
    assert len(wheels) == 1
    target = base / "target"
    installed = pip("install", "--no-deps", "--target", str(target), str(wheels[0]), cwd=base)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return target


def wheel_env(target: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(target)}


def test_the_wheel_ships_the_configs(wheel_target: Path) -> None:
    conf = wheel_target / "runner" / "conf"
    assert (conf / "config.yaml").is_file()
    for group, option in [("backend", "serial"), ("backend", "multiprocessing"), ("workload", "sum_range"),
                          ("tracking", "local"), ("sweep", "quick"), ("sweep", "scaling")]:
        assert (conf / group / f"{option}.yaml").is_file(), (group, option)
    assert (wheel_target / "hydra_plugins" / "parsweep_sweeper" / "__init__.py").is_file()


def test_runner_from_the_wheel_reads_configs_as_package_data(wheel_target: Path, tmp_path: Path) -> None:
    code = "import runner, runner.app.paths; print(runner.__file__); print(runner.app.paths.config_path())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=clean_env(**wheel_env(wheel_target)), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    module_file, config_path = done.stdout.split()
    assert Path(module_file).is_relative_to(wheel_target)
    assert config_path == "pkg://runner.conf"


def test_cfg_job_from_the_wheel(wheel_target: Path, tmp_path: Path) -> None:
    launch = run_parsweep(["--cfg", "job"], tmp_path, env=wheel_env(wheel_target), command=[sys.executable, "-m", "runner"])
    assert launch.returncode == 0, launch.explain()
    assert "backend:" in launch.stdout and "sum_range" in launch.stdout
    assert "Traceback" not in launch.stderr
    info = run_parsweep(["--info", "searchpath"], tmp_path, env=wheel_env(wheel_target), command=[sys.executable, "-m", "runner"])
    assert info.returncode == 0, info.explain()
    assert "pkg://runner.conf" in info.stdout
    assert str(REPO / "conf") not in info.stdout


def test_help_from_the_wheel_is_kept(wheel_target: Path, tmp_path: Path) -> None:
    """The help cache's key covers the package's configs (``runner/conf``): rendered once, then kept."""
    env = {**wheel_env(wheel_target), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    command = [sys.executable, "-X", "importtime", "-m", "runner"]
    first, second = (run_parsweep(["--help"], tmp_path, env=env, command=command) for _ in range(2))
    assert first.returncode == second.returncode == 0, first.explain() + second.explain()
    assert first.stdout == second.stdout and "backend: dask, interpreters" in first.stdout
    hydra = re.compile(r"^import time:.*\| +hydra$", re.MULTILINE)  # -X importtime's line for the package
    assert hydra.search(first.stderr) and not hydra.search(second.stderr), second.stderr


def test_a_tiny_sweep_from_the_wheel(wheel_target: Path, tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "wheel.db")
    launch = run_parsweep(
        ["-m", "backend=serial,process_pool", "workers=2", "n=1e4", "repeats=1", "warmup=0"],
        tmp_path,
        uri=uri,
        env=wheel_env(wheel_target),
        command=[sys.executable, "-m", "runner"],
    )
    assert launch.returncode == 0, launch.explain()
    runs = all_runs(uri)
    trials = runs_with_role(runs, "trial")
    assert len(runs_with_role(runs, "sweep")) == 1 and len(trials) == 2
    assert all(run.info.status == "FINISHED" and run.data.metrics["correct"] == 1.0 for run in trials)
