"""Shell completion for ``parsweep`` (Hydra's ``--shell-completion``), checked once for bash.

``eval "$(parsweep -sc install=bash)"`` installs a bash function that, on Tab, runs
``parsweep -sc query=bash`` with the line being edited in COMP_LINE / COMP_POINT and offers
what it prints. The test runs both halves the way bash does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import clean_env, parsweep_command


def complete(line: str, cwd: Path) -> list[str]:
    """What Tab offers after ``line`` (as Hydra's bash completion function queries it)."""
    env = clean_env(COMP_LINE=line, COMP_POINT=str(len(line)))
    done = subprocess.run(parsweep_command() + ["-sc", "query=bash"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completion_installs_and_completes_backends(tmp_path: Path) -> None:
    install = subprocess.run(
        parsweep_command() + ["-sc", "install=bash"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert install.returncode == 0, install.stderr
    assert "hydra_bash_completion" in install.stdout
    assert install.stdout.rstrip().endswith("parsweep"), install.stdout[-200:]

    assert "backend=" in complete("parsweep -m back", tmp_path)
    backends = complete("parsweep -m backend=", tmp_path)
    for name in ("serial", "threading", "multiprocessing", "thread_pool", "process_pool"):
        assert f"backend={name}" in backends, backends
    assert "sweep=quick" in complete("parsweep -m sweep=", tmp_path)
