"""How `make test` runs the suite on pytest-xdist workers, checked on a small real suite.

Two promises of tests/conftest.py: tests of one group (a module's shared sweep, the README's
parts, the Ray tests) run on one worker, in order; and a test marked ``alone`` runs with no other
test beside it, a module's ``alone`` tests in turn with none between them. Each is checked by a real ``pytest -n 2 --dist loadgroup`` over a few tests written
here, with this suite's conftest.py as a plugin, so a pytest or pytest-xdist release that breaks
either (pytest 9.2 made xdist ignore every group: pyproject.toml's pin) fails here, not silently.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTS_DIR, clean_env

pytestmark = pytest.mark.timeout(120)

SUITE = '''
import json, os, time
import pytest

def record(name):
    began = time.time()
    time.sleep(0.3)
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps([name, os.environ["PYTEST_XDIST_WORKER"], began, time.time()]) + "\\n")

@pytest.mark.xdist_group("together")
@pytest.mark.parametrize("i", range(4))
def test_grouped(i):
    record(f"grouped{i}")

@pytest.mark.parametrize("i", range(6))
def test_free(i):
    record(f"free{i}")

@pytest.mark.alone
@pytest.mark.parametrize("i", range(2))
def test_alone(i):
    record(f"alone{i}")
'''


def test_groups_stay_on_one_worker_and_alone_tests_run_alone(tmp_path: Path) -> None:
    (tmp_path / "test_small.py").write_text(SUITE)
    record = tmp_path / "record.jsonl"
    env = clean_env(RECORD=str(record), PYTHONPATH=str(TESTS_DIR))
    env.pop("PARSWEEP_TEST_SESSION", None)  # a session of its own, with its own lock files
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "conftest", "-p", "no:cacheprovider",
         "-q", "-o", "addopts=", "-o", "markers=alone", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(runs) == 12, runs
    assert len({worker for name, worker, *_ in runs}) == 2, runs  # both workers took tests
    grouped = [run for run in runs if run[0].startswith("grouped")]
    assert len({worker for _, worker, *_ in grouped}) == 1, grouped
    assert [name for name, *_ in sorted(grouped, key=lambda run: run[2])] == [f"grouped{i}" for i in range(4)]
    for name, _, began, ended in runs:
        if name.startswith("alone"):
            beside = [other for other in runs if other[0] != name and other[2] < ended and began < other[3]]
            assert not beside, (name, beside)
    # a module's alone tests run in turn on one worker, which keeps the machine from the first to the last
    alone = sorted((run for run in runs if run[0].startswith("alone")), key=lambda run: run[2])
    assert len({worker for _, worker, *_ in alone}) == 1, alone
    between = [run for run in runs if not run[0].startswith("alone") and alone[0][3] < run[3] and run[2] < alone[-1][2]]
    assert not between, between
