"""Each command imports what it uses: ``--help``, ``--cfg`` and ``--dry-run`` neither MLflow nor
pandas; a lone trial no analysis; a sweep its analysis only once its trials are done (issue 21).

Real ``parsweep`` subprocesses under ``python -X importtime``: CPython prints one line per module
as its import ends, on stderr; with stdout unbuffered into the same pipe, the lines fall in order
with what parsweep printed. No timing is asserted (benchmarks/startup.py measures the time).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY, clean_env, run_parsweep, sqlite_uri

#: Modules that cost a noticeable part of a second to import, none of which a path may load unless it uses them.
HEAVY = ("mlflow", "pandas", "numpy", "scipy", "matplotlib", "sqlalchemy", "analysis")
IMPORTTIME = [sys.executable, "-X", "importtime", "-m", "runner"]


def imported(output: str) -> list[tuple[str, int]]:
    """``(module, depth)`` per ``-X importtime`` line, in the order the imports ended (depth 0: imported by parsweep itself)."""
    found = []
    for line in output.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            name = line.split("|", 2)[2][1:]
            found.append((name.strip(), (len(name) - len(name.lstrip())) // 2))
    return found


def top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--cfg", "job"], ["-m", "backend=serial,threading", "workers=1,2", "--dry-run"]],
    ids=["help", "cfg", "dry-run"],
)
def test_help_cfg_and_dry_run_import_nothing_heavy(launch_dir: Path, args: list[str]) -> None:
    launch = run_parsweep(args, launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"), command=IMPORTTIME)
    assert launch.returncode == 0, launch.explain()
    heavy = sorted({top(name) for name, _ in imported(launch.stderr) if top(name) in HEAVY})
    assert heavy == [], f"parsweep {' '.join(args)} imported {heavy}"
    assert imported(launch.stderr), "no -X importtime output: the check would prove nothing"
    assert not (launch_dir / "mlflow.db").exists(), "a dry run, --help or --cfg touched the store"


def test_a_lone_trial_loads_mlflow_and_no_analysis(launch_dir: Path) -> None:
    """pandas, numpy and scipy come with ``import mlflow`` (its own imports), SQLAlchemy with the sqlite
    store; parsweep adds none of them."""
    launch = run_parsweep(["n=1e3", "repeats=1", "warmup=0", "interference.retries=0"], launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"), command=IMPORTTIME)
    assert launch.returncode == 0, launch.explain()
    modules = imported(launch.stderr)
    assert [n for n, _ in modules if top(n) in ("analysis", "matplotlib")] == []
    # Walk each module up to the import parsweep made (depth 0): heavy ones must sit under mlflow's.
    owner, strays, owners = "", {}, set()
    for name, depth in reversed(modules):  # a parent's line comes after its children's
        if depth == 0:
            owner = name
        owners.add(top(owner))
        if top(name) in ("pandas", "numpy", "scipy", "matplotlib") and top(owner) != "mlflow":
            strays[name] = owner
    assert "mlflow" in owners, "the trial's run was not logged through MLflow"
    assert strays == {}, f"imported outside MLflow's own import: {strays}"

def test_a_sweep_loads_its_analysis_after_its_trials(launch_dir: Path) -> None:
    env = clean_env(PYTHONUNBUFFERED="1", MLFLOW_TRACKING_URI=sqlite_uri(launch_dir / "mlflow.db"))
    done = subprocess.run(
        [*IMPORTTIME, "-m", "backend=serial,threading", "workers=2", *TINY, "interference.retries=0"],
        cwd=launch_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one pipe: import lines and trial lines in the order they happened
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    last_trial = max(i for i, line in enumerate(lines) if line.startswith("[2/2]"))
    first_analysis = min(i for i, line in enumerate(lines) if any(top(name) in ("analysis", "matplotlib") for name, _ in imported(line)))
    assert last_trial < first_analysis, "the analysis (or matplotlib) was imported before the sweep's trials were done"
    assert "Speedup vs serial" in "\n".join(lines[first_analysis:]), "the report did not follow"


def test_a_report_with_nothing_to_resample_leaves_scipy_stats_unloaded(launch_dir: Path) -> None:
    """One repetition per trial: no interval to bootstrap, so the report does not pay scipy.stats's ~1 s import."""
    launch = run_parsweep(
        ["-m", "backend=serial,threading", "n=1e3", "repeats=1", "warmup=0", "interference.retries=0"],
        launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"), command=IMPORTTIME,
    )
    assert launch.returncode == 0, launch.explain()
    assert "Speedup vs serial" in launch.stdout, "the report was not built"
    assert [name for name, _ in imported(launch.stderr) if name.startswith("scipy.stats")] == []


def test_help_is_the_text_hydra_prints(launch_dir: Path) -> None:
    """``parsweep --help`` lists only the app's config groups (issue 21): the text stays Hydra's own."""
    overrides = ["backend=threading", "workers=4"]
    hydra_own = subprocess.run(
        [sys.executable, "-c", "import sys; from runner.app.main import hydra_main; hydra_main()", *overrides, "--help"],
        cwd=launch_dir, env=clean_env(), capture_output=True, text=True, timeout=120,
    )
    assert hydra_own.returncode == 0, hydra_own.stderr
    ours = run_parsweep([*overrides, "--help"], launch_dir)
    assert ours.returncode == 0, ours.explain()
    assert ours.stdout == hydra_own.stdout
    assert "backend: dask, interpreters" in ours.stdout and "name: threading" in ours.stdout


def test_help_with_a_mistake_says_one_line(launch_dir: Path) -> None:
    launch = run_parsweep(["wrkers=3", "--help"], launch_dir)
    assert launch.returncode == 2, launch.explain()
    assert launch.stderr_lines == [line for line in launch.stderr_lines if line.startswith("parsweep: error: wrkers=3: unknown key")]
    assert len(launch.stderr_lines) == 1 and launch.stdout == ""
