"""parsweep's launcher and sweeper against Hydra's own conformance suites, as Hydra's plugins test theirs.

``hydra.test_utils.launcher_common_tests`` is what every maintained Hydra launcher (joblib,
ray, rq, submitit) runs in its own tests: sweeps of Hydra's test apps, composition, output
directories, job names, ``hydra.job.chdir``, interpolations in ``hydra.*`` overrides, batches.
Here they run with ``hydra/launcher=parsweep`` and ``hydra/sweeper=parsweep``, plus the checks a
plugin's tests usually make: discovery by Hydra's plugin scan, configs registered on import,
and a light import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.test_utils.launcher_common_tests import BatchedSweeperTestSuite, IntegrationTestSuite, LauncherTestSuite

from conftest import REPO

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def fresh_version_base(hydra_restore_singletons):
    """The suites expect Hydra as a fresh process has it: no version_base chosen yet (it then
    behaves as 1.1, e.g. jobs change directory). Other tests in this session chose 1.3;
    Hydra's fixture restores whatever was there afterwards."""
    from hydra import version

    version.setbase("1.1")
    yield


def test_discovery_finds_the_launcher_and_the_sweeper() -> None:
    assert "ParsweepLauncher" in [cls.__name__ for cls in Plugins.instance().discover(Launcher)]
    assert "ParsweepSweeper" in [cls.__name__ for cls in Plugins.instance().discover(Sweeper)]


def test_discovery_in_a_fresh_interpreter_of_this_install() -> None:
    """Hydra's scan, in a new process of this (editable) install, with nothing of parsweep imported first."""
    script = (
        "from hydra.core.plugins import Plugins\n"
        "from hydra.plugins.launcher import Launcher\n"
        "from hydra.plugins.sweeper import Sweeper\n"
        "import json\n"
        "print(json.dumps([[c.__module__ for c in Plugins.instance().discover(t)] for t in (Launcher, Sweeper)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd="/")
    assert done.returncode == 0, done.stderr
    launchers, sweepers = json.loads(done.stdout.splitlines()[-1])
    assert "hydra_plugins.parsweep_sweeper" in launchers and "hydra_plugins.parsweep_sweeper" in sweepers


def test_importing_the_plugin_registers_its_configs_and_nothing_heavy() -> None:
    """Hydra imports every installed plugin in every Hydra app: the import must be light and
    change nothing global beyond Hydra's ConfigStore entries."""
    script = (
        "import sys, time, json, multiprocessing.forkserver as fs\n"
        "before = set(sys.modules)\n"
        "preload = list(getattr(fs._forkserver, '_preload_modules', None) or [])\n"
        "began = time.perf_counter()\n"
        "import hydra_plugins.parsweep_sweeper\n"
        "took = time.perf_counter() - began\n"
        "from hydra.core.config_store import ConfigStore\n"
        "new = sorted(set(sys.modules) - before)\n"
        "print(json.dumps({'new': new, 'took': took,\n"
        "  'preload_changed': list(getattr(fs._forkserver, '_preload_modules', None) or []) != preload,\n"
        "  'launchers': ConfigStore.instance().list('hydra/launcher'),\n"
        "  'sweepers': ConfigStore.instance().list('hydra/sweeper')}))\n"
    )
    done = subprocess.run([sys.executable, "-c", "import hydra.core.plugins\n" + script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    heavy = [m for m in found["new"] if m.split(".")[0] in ("runner", "analysis", "mlflow", "pandas", "numpy", "rich", "psutil")]
    assert heavy == [], heavy
    assert not found["preload_changed"], "the plugin's import changed the fork server's preload list"
    assert "parsweep.yaml" in found["launchers"] and "parsweep.yaml" in found["sweepers"]


def test_the_configs_are_registered_in_this_process() -> None:
    import hydra_plugins.parsweep_sweeper  # noqa: F401

    assert "parsweep.yaml" in ConfigStore.instance().list("hydra/launcher")
    assert "parsweep.yaml" in ConfigStore.instance().list("hydra/sweeper")


@pytest.mark.parametrize(
    "launcher_name, overrides",
    [("parsweep", []), ("parsweep", ["hydra/sweeper=parsweep"])],
    ids=["basic sweeper", "parsweep sweeper"],
)
class TestParsweepLauncher(LauncherTestSuite):
    """Hydra's launcher suite on parsweep's launcher (with Hydra's sweeper, then parsweep's)."""


@pytest.mark.slow
@pytest.mark.parametrize(
    "task_launcher_cfg, extra_flags",
    [({}, ["-m", "hydra/launcher=parsweep"]), ({}, ["-m", "hydra/launcher=parsweep", "hydra/sweeper=parsweep"])],
    ids=["launcher", "launcher and sweeper"],
)
class TestParsweepLauncherIntegration(IntegrationTestSuite):
    """Hydra's integration suite: real apps in subprocesses, the plugin found by Hydra's scan."""


@pytest.mark.parametrize(
    "launcher_name, overrides",
    [("basic", ["hydra/sweeper=parsweep", "hydra.sweeper.max_batch_size=2"]),
     ("parsweep", ["hydra/sweeper=parsweep", "hydra.sweeper.max_batch_size=2"])],
    ids=["with Hydra's launcher", "with parsweep's launcher"],
)
class TestParsweepSweeperBatches(BatchedSweeperTestSuite):
    """Hydra's batched-sweeper suite on parsweep's sweeper."""


def test_the_plugin_source_holds_no_private_hydra_import() -> None:
    text = (REPO / "hydra_plugins" / "parsweep_sweeper" / "__init__.py").read_text()
    assert "_internal" not in text and "omegaconf._" not in text
