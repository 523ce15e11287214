"""Each command imports what it uses: ``--help``, ``--cfg`` and ``--dry-run`` neither MLflow nor
pandas; a lone trial no analysis; a sweep its analysis only once its trials are done (issue 21).

Real ``parsweep`` subprocesses under ``python -X importtime``: CPython prints one line per module
as its import ends, on stderr; with stdout unbuffered into the same pipe, the lines fall in order
with what parsweep printed. No timing is asserted (benchmarks/startup.py measures the time).
"""

from __future__ import annotations

import os
import shutil
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


def test_a_one_trial_sweep_draws_no_plot_and_leaves_matplotlib_unloaded(launch_dir: Path) -> None:
    """One trial has nothing to compare: no plot is drawn (analysis.render.plots.PLOTS), so the
    sweep's end does not pay matplotlib's import and three figures (benchmarks/startup.py: 0.6 s);
    the report files still come, without a picture. plots=true: run_parsweep would otherwise add
    plots=false, and the test would pass whatever the rule did."""
    launch = run_parsweep(
        ["-m", "backend=serial", "n=1e3", "repeats=1", "warmup=0", "plots=true", "interference.retries=0"],
        launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"), command=IMPORTTIME,
    )
    assert launch.returncode == 0, launch.explain()
    assert "Speedup vs serial" in launch.stdout, "the report was not built"
    assert [name for name, _ in imported(launch.stderr) if top(name) == "matplotlib"] == []
    report = next(launch_dir.glob("mlruns/*/artifacts/report"))
    assert (report / "report.md").is_file() and not list(report.glob("*.png"))
    assert ".png" not in (report / "report.md").read_text()


def test_plots_false_leaves_the_pictures_out_and_matplotlib_unloaded(launch_dir: Path) -> None:
    """``plots=false``: the sweep's report, its files and its table, without the PNG plots it would
    draw for these two trials (nor matplotlib's import)."""
    launch = run_parsweep(
        ["-m", "backend=serial,threading", "n=1e3", "repeats=2", "warmup=0", "plots=false", "interference.retries=0"],
        launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"), command=IMPORTTIME,
    )
    assert launch.returncode == 0, launch.explain()
    assert "Speedup vs serial" in launch.stdout and "threading" in launch.stdout, "the report was not built"
    assert [name for name, _ in imported(launch.stderr) if top(name) == "matplotlib"] == []
    report = next(launch_dir.glob("mlruns/*/artifacts/report"))
    assert {"report.md", "report.csv", "report.html"} <= {path.name for path in report.iterdir()}
    assert not list(report.glob("*.png")) and ".png" not in (report / "report.md").read_text()


def hydra_help(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """The help ``@hydra.main`` itself prints for ``args``."""
    hydra_own = subprocess.run(
        [sys.executable, "-c", "import sys; from runner.app.main import hydra_main; hydra_main()", *args],
        cwd=cwd, env=clean_env(**(env or {})), capture_output=True, text=True, timeout=120,
    )
    assert hydra_own.returncode == 0, hydra_own.stderr
    return hydra_own.stdout


def help_launch(args: list[str], cwd: Path, cache: Path, **env: str) -> tuple[str, bool]:
    """``parsweep ARGS`` under ``-X importtime`` with ``cache`` as XDG_CACHE_HOME: its output, and
    whether it rendered the help (imported Hydra) rather than printing a kept one."""
    launch = run_parsweep(args, cwd, env={"XDG_CACHE_HOME": str(cache), **env}, command=IMPORTTIME)
    assert launch.returncode == 0, launch.explain()
    modules = {top(name) for name, _ in imported(launch.stderr)}
    assert "runner" in modules, "no -X importtime output: the check would prove nothing"
    assert not modules & {"mlflow", "pandas"}, launch.explain()
    rendered = "hydra" in modules
    assert rendered or not modules & {"omegaconf"}, "a kept help imported OmegaConf"
    return launch.stdout, rendered


def test_help_is_the_text_hydra_prints(launch_dir: Path) -> None:
    """``parsweep --help`` lists only the app's config groups (issue 21): the text stays Hydra's own,
    rendered (an empty cache) and kept (the next launch: no Hydra, no OmegaConf imported)."""
    args = ["backend=threading", "workers=4", "--help"]
    hydra_own = hydra_help(args, launch_dir)
    cache = launch_dir / "cache"
    assert help_launch(args, launch_dir, cache) == (hydra_own, True)
    assert help_launch(args, launch_dir, cache) == (hydra_own, False)
    assert "backend: dask, interpreters" in hydra_own and "name: threading" in hydra_own
    assert help_launch(args, launch_dir, cache, PARSWEEP_HELP_CACHE="0") == (hydra_own, True), "PARSWEEP_HELP_CACHE=0 did not turn it off"


def test_a_kept_help_follows_the_command_line_and_the_configs(tmp_path: Path, launch_dir: Path) -> None:
    """Another override, an edited YAML under conf/ or another plugin: the text is rendered again. parsweep runs
    from a copy of its code and configs here (first on PYTHONPATH), so that the edit is the test's own."""
    copy = tmp_path / "checkout"
    root = Path(__file__).resolve().parents[1]
    for folder in ("runner", "conf", "hydra_plugins"):
        shutil.copytree(root / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(copy)}
    cache = tmp_path / "cache"
    three, four = ["workers=3", "--help"], ["workers=4", "--help"]
    text_three = hydra_help(three, launch_dir, env)
    assert help_launch(three, launch_dir, cache, **env) == (text_three, True)
    assert help_launch(three, launch_dir, cache, **env) == (text_three, False)
    text_four = hydra_help(four, launch_dir, env)
    assert "workers: 4" in text_four and text_four != text_three
    assert help_launch(four, launch_dir, cache, **env) == (text_four, True)
    config = copy / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("parsweep: how much faster", "parsweep (edited): how much faster", 1))
    edited = hydra_help(three, launch_dir, env)
    assert "parsweep (edited): how much faster" in edited
    assert help_launch(three, launch_dir, cache, **env) == (edited, True)
    assert help_launch(three, launch_dir, cache, **env) == (edited, False)
    (copy / "hydra_plugins" / "another_plugin").mkdir()  # a plugin installed: Hydra's scan imports it
    (copy / "hydra_plugins" / "another_plugin" / "__init__.py").write_text("")
    assert help_launch(three, launch_dir, cache, **env) == (edited, True)


def test_help_without_a_usable_cache_is_rendered(tmp_path: Path, launch_dir: Path) -> None:
    """A cache folder that cannot be made (its parent is a file: unwritable even for root) and a kept
    text that is not UTF-8: the help is rendered each time, as without a cache."""
    args = ["--help"]
    hydra_own = hydra_help(args, launch_dir)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    for _ in range(2):
        assert help_launch(args, launch_dir, blocked) == (hydra_own, True)
    cache = tmp_path / "cache"
    assert help_launch(args, launch_dir, cache) == (hydra_own, True)
    (kept,) = (cache / "parsweep" / "help").iterdir()
    kept.write_bytes(b"\xff not text")
    assert help_launch(args, launch_dir, cache) == (hydra_own, True)
    assert help_launch(args, launch_dir, cache) == (hydra_own, False), "the broken entry was not replaced"


def test_help_with_a_mistake_says_one_line(launch_dir: Path) -> None:
    launch = run_parsweep(["wrkers=3", "--help"], launch_dir)
    assert launch.returncode == 2, launch.explain()
    assert launch.stderr_lines == [line for line in launch.stderr_lines if line.startswith("parsweep: error: wrkers=3: unknown key")]
    assert len(launch.stderr_lines) == 1 and launch.stdout == ""


def test_the_help_cache_keeps_only_the_newest_texts(tmp_path: Path, launch_dir: Path) -> None:
    from runner.app.help_cache import KEPT

    folder = tmp_path / "cache" / "parsweep" / "help"
    folder.mkdir(parents=True)
    for number in range(KEPT + 5):  # stale texts, older than any new one
        (folder / f"{number:064x}.txt").write_text("stale")
        os.utime(folder / f"{number:064x}.txt", (1_000_000 + number, 1_000_000 + number))
    help_launch(["--help"], launch_dir, tmp_path / "cache")
    left = {p.name for p in folder.iterdir()}
    stale_left = {f"{number:064x}.txt" for number in range(6, KEPT + 5)}  # the new text and the KEPT - 1 newest stale ones
    assert len(left) == KEPT and stale_left < left, sorted(left)
    assert help_launch(["--help"], launch_dir, tmp_path / "cache")[1] is False, "the new text was pruned"


def test_the_fork_server_boots_while_the_first_trial_waits_for_the_host_lock(launch_dir: Path, tmp_path: Path) -> None:
    """The fork server a trial forks from starts as soon as the plan is known, not under the host
    lock where every other launch on the host would wait for its start (issue 21): once a lone
    trial says it queues behind a held lock, its fork server is already up, idle (booted), and has
    started no trial process; when the lock is free the trial runs from it."""
    import fcntl
    import threading
    import time

    import psutil

    from conftest import parsweep_command

    lock_file = tmp_path / "host.lock"
    env = clean_env(PARSWEEP_LOCK_FILE=str(lock_file), MLFLOW_TRACKING_URI=sqlite_uri(launch_dir / "mlflow.db"))
    lines: list[str] = []
    with open(lock_file, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        launch = subprocess.Popen([*parsweep_command(), "backend=serial", *TINY], cwd=launch_dir, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert launch.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(launch.stdout or []), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 90
            while not any("waiting for the host lock" in line for line in lines):
                assert launch.poll() is None and time.monotonic() < deadline, "".join(lines)
                time.sleep(0.05)
            servers = [child for child in psutil.Process(launch.pid).children(recursive=True) if child.cmdline()[1:2] == ["-c"]]
            assert len(servers) == 1, [child.cmdline()[:2] for child in psutil.Process(launch.pid).children(recursive=True)]
            server = servers[0]
            # Booted: idle for half a second, waiting for its first fork. However busy the machine,
            # it gets there while the lock is still held (bounded: 60 s).
            while True:
                before = server.cpu_times()
                time.sleep(0.5)
                if server.status() == psutil.STATUS_SLEEPING and server.cpu_times() == before:
                    break
                assert time.monotonic() < deadline + 60, "the fork server never finished its start"
            assert server.children() == [], "a trial process started while another launch held the host lock"
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    launch.wait(timeout=120)
    reader.join(timeout=10)
    assert launch.returncode == 0, "".join(lines)
