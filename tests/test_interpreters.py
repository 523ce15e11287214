"""Trials under other interpreters (``python=...``, ``gil=...``, ``backend=interpreters``), with real ones.

The interpreters are real builds: a free-threaded CPython 3.13t and a CPython 3.14 (`make
interpreters` puts them in /opt; the fixtures fail, never skip, when they are missing), pyenv's
3.9 and 3.13 GIL builds, and parsweep's own interpreter. Every launch is a real ``parsweep``
process with a real sqlite MLflow store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_faults_support import Background, alive, trial_processes

from conftest import (
    TINY,
    all_runs,
    count_runs_in_db,
    describe_processes,
    multirun_trial_dirs,
    run_parsweep,
    runs_with_role,
    sqlite_uri,
    wait_for_no_processes,
)

pytestmark = pytest.mark.timeout(300)

PYENV = Path("/root/.pyenv/versions")
PYTHON39 = PYENV / "3.9.18/bin/python3.9"
PYTHON313_GIL = PYENV / "3.13.0/bin/python3.13"


def own_facts(executable: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """What an interpreter says it is, asked directly (not through parsweep)."""
    code = ("import platform, sys, sysconfig; print(platform.python_version()); print(platform.python_implementation()); "
            "print(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))); "
            "print(getattr(sys, '_is_gil_enabled', lambda: True)()); print(sys.executable)")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    environment.update(env or {})
    lines = subprocess.run([executable, "-c", code], capture_output=True, text=True, check=True, env=environment).stdout.split("\n")
    return {"python.version": lines[0], "python.implementation": lines[1], "python.free_threaded": lines[2].lower(),
            "python.gil_enabled": lines[3].lower(), "python.executable": lines[4]}


def trials_by(runs: list[Any], *params: str) -> dict[tuple[str, ...], Any]:
    return {tuple(run.data.params[p] for p in params): run for run in runs_with_role(runs, "trial")}


def disturbance(run: Any) -> str:
    """What the trial itself says about the machine while it ran (other processes' CPU use)."""
    return f"the trial's warnings: {run.data.tags.get('parsweep.warnings') or 'none'}"


def assert_refused_before_anything(launch, launch_dir: Path, db: Path, *words: str) -> str:
    """Exit 2, one line naming every word (``python=...`` first), no MLflow run, no job directory."""
    assert launch.returncode == 2, launch.explain()
    assert len(launch.stderr_lines) == 1, launch.explain()
    line = launch.stderr_lines[0]
    for word in words:
        assert word in line, launch.explain()
    assert "Traceback" not in launch.stderr + launch.stdout
    assert count_runs_in_db(db) == 0, "a refused interpreter left MLflow runs"
    assert multirun_trial_dirs(launch_dir) == [], "a refused interpreter left job output directories"
    assert not (launch_dir / "multirun").exists() and not (launch_dir / "outputs").exists()
    return line


# -- refusals: each before any trial, even with a good interpreter beside the bad one --------------


def test_not_found_on_path(launch_dir: Path) -> None:
    db = launch_dir / "store.db"
    launch = run_parsweep(["-m", "python=current,python3.99t", *TINY], launch_dir, uri=sqlite_uri(db))
    assert_refused_before_anything(launch, launch_dir, db, "python=python3.99t", "not found on PATH")


def test_a_path_that_does_not_exist(launch_dir: Path) -> None:
    db = launch_dir / "store.db"
    launch = run_parsweep(["-m", "python=current,/nowhere/bin/python3", *TINY], launch_dir, uri=sqlite_uri(db))
    assert_refused_before_anything(launch, launch_dir, db, "python=/nowhere/bin/python3", "no such file")


@pytest.mark.parametrize(
    "name, mode, why",
    [("python3", 0o644, "is not an executable file"),  # a file, not executable
     ("pypy3", 0o755, "is PyPy 3.10.14, not CPython")],  # an executable that answers the probe as PyPy would
    ids=["not executable", "not CPython"],
)
def test_a_file_that_is_no_usable_cpython(launch_dir: Path, tmp_path: Path, name: str, mode: int, why: str) -> None:
    script = tmp_path / name
    script.write_text("#!/bin/sh\necho PyPy 3.10.14 0\n")
    script.chmod(mode)
    db = launch_dir / "store.db"
    launch = run_parsweep(["-m", f"python=current,{script}", *TINY], launch_dir, uri=sqlite_uri(db))
    assert_refused_before_anything(launch, launch_dir, db, f"python={script}", why)


def test_older_than_3_10(launch_dir: Path) -> None:
    assert PYTHON39.exists(), f"pyenv's CPython 3.9 is part of this machine's image: {PYTHON39} is missing"
    db = launch_dir / "store.db"
    launch = run_parsweep(["-m", f"python=current,{PYTHON39}", *TINY], launch_dir, uri=sqlite_uri(db))
    assert_refused_before_anything(launch, launch_dir, db, f"python={PYTHON39}", "is Python 3.9.18", "CPython >= 3.10")


def test_a_workload_the_interpreter_cannot_import(launch_dir: Path, free_threaded_python: str) -> None:
    """numpy_sum under the free-threaded build, which has no numpy installed."""
    db = launch_dir / "store.db"
    launch = run_parsweep(["-m", f"python=current,{free_threaded_python}", "workload=numpy_sum", *TINY], launch_dir,
                          uri=sqlite_uri(db))
    assert_refused_before_anything(launch, launch_dir, db, f"python={free_threaded_python}", "cannot run workload=numpy_sum",
                                   "No module named 'numpy'")


def test_gil_setting_on_a_gil_build(launch_dir: Path, python314: str) -> None:
    db = launch_dir / "store.db"
    launch = run_parsweep(["-m", f"python={python314}", "gil=0", *TINY], launch_dir, uri=sqlite_uri(db))
    assert_refused_before_anything(launch, launch_dir, db, "gil=0", f"python={python314}", "not a free-threaded build")


@pytest.mark.parametrize("which", ["current", "pyenv 3.13"])
def test_interpreters_backend_refused_without_concurrent_interpreters(launch_dir: Path, which: str) -> None:
    name = "current" if which == "current" else str(PYTHON313_GIL)
    executable = sys.executable if which == "current" else name
    assert Path(executable).exists(), f"{executable} is missing"
    version = own_facts(executable)["python.version"]
    db = launch_dir / "store.db"
    launch = run_parsweep(["-m", "backend=serial,interpreters", f"python={name}", *TINY], launch_dir, uri=sqlite_uri(db))
    line = assert_refused_before_anything(launch, launch_dir, db)
    assert line.endswith(f"python={name}: backend=interpreters needs concurrent.interpreters (CPython 3.14+); "
                         f"this interpreter is CPython {version}"), launch.explain()


# -- what runs: each trial's interpreter, recorded as its own --------------------------------------


@pytest.mark.slow
@pytest.mark.alone  # asserts that two threads or interpreters use two cores: nothing else may run
def test_gil_build_against_free_threaded_build(launch_dir: Path, free_threaded_python: str) -> None:
    """One sweep over both interpreters: each trial's python.* tags are its own interpreter's; on
    the free-threaded build two threads use two cores, on the GIL build one."""
    uri = sqlite_uri(launch_dir / "store.db")
    launch = run_parsweep(["-m", f"python=current,{free_threaded_python}", "backend=serial,threading", "workers=2",
                           "n=4e6", "repeats=3", "warmup=1"], launch_dir, uri=uri, timeout=300)
    assert launch.returncode == 0, launch.explain()
    runs = all_runs(uri)
    trials = trials_by(runs, "python", "backend")
    assert set(trials) == {(p, b) for p in ("current", free_threaded_python) for b in ("serial", "threading")}
    for python, executable in (("current", sys.executable), (free_threaded_python, free_threaded_python)):
        expected = own_facts(executable)
        for backend in ("serial", "threading"):
            run = trials[(python, backend)]
            assert run.info.status == "FINISHED" and run.data.metrics["correct"] == 1.0
            for tag, value in expected.items():
                if tag == "python.executable":  # current: the console script's python3, a link to this one
                    assert os.path.realpath(run.data.tags[tag]) == os.path.realpath(value), (python, backend)
                else:
                    assert run.data.tags[tag] == value, (python, backend, tag)
            if python != "current":
                assert run.data.tags["python.executable"] == free_threaded_python
    assert trials[(free_threaded_python, "threading")].data.tags["python.free_threaded"] == "true"
    assert trials[("current", "threading")].data.tags["python.gil_enabled"] == "true"
    free = trials[(free_threaded_python, "threading")].data.metrics["cpu_utilization"]
    held = trials[("current", "threading")].data.metrics["cpu_utilization"]
    # Two cores must be free for two threads to use them: a failure says what else ran meanwhile.
    assert free > 1.5, f"two threads on the free-threaded build used {free:.2f} cores; {disturbance(trials[(free_threaded_python, 'threading')])}"
    assert held < 1.3, f"two threads on the GIL build used {held:.2f} cores"


@pytest.mark.slow
@pytest.mark.alone  # asserts that two threads or interpreters use two cores: nothing else may run
def test_gil_forced_back_on_in_a_free_threaded_build(launch_dir: Path, free_threaded_python: str) -> None:
    """gil=1: PYTHON_GIL=1 for the trial; the tags say the GIL is on, threads stop scaling, and the
    measurement's identity (config hash) is not that of the build as is."""
    uri = sqlite_uri(launch_dir / "store.db")
    # one sweep, the two trials' repetitions interleaved: each trial's process has its own setting
    launch = run_parsweep(["-m", f"python={free_threaded_python}", "gil=null,1", "backend=threading", "workers=2", "n=4e6",
                           "repeats=3", "warmup=1"], launch_dir, uri=uri, timeout=300)
    assert launch.returncode == 0, launch.explain()
    trials = trials_by(all_runs(uri), "gil")
    assert set(trials) == {("1",), ("default",)}, set(trials)
    on, off = trials[("1",)], trials[("default",)]
    assert on.data.tags["python.gil_enabled"] == "true" and on.data.tags["python.gil_env"] == "1"
    assert on.data.tags["python.free_threaded"] == "true"
    assert off.data.tags["python.gil_enabled"] == "false" and off.data.tags["python.gil_env"] == ""
    assert on.data.tags["parsweep.config_hash"] != off.data.tags["parsweep.config_hash"]
    assert on.data.metrics["cpu_utilization"] < 1.3, "with the GIL forced on, two threads still used two cores"
    assert off.data.metrics["cpu_utilization"] > 1.5, disturbance(off)


# -- subinterpreters (CPython 3.14) --------------------------------------------------------------------

# A custom workload whose chunks check where they run: inside a subinterpreter, never the main one.
WHERE_CHUNKS_RUN = '''
def chunk(start, end):
    from concurrent import interpreters
    here, main = interpreters.get_current(), interpreters.get_main()
    if here.id == main.id:
        raise RuntimeError("this chunk ran in the main interpreter")
    total = 0
    for i in range(start, end):
        total += i
    return total


def expected(n):
    return n * (n - 1) // 2
'''


@pytest.mark.slow
@pytest.mark.alone  # asserts that two threads or interpreters use two cores: nothing else may run
def test_interpreters_backend_runs_chunks_in_subinterpreters(launch_dir: Path, python314: str) -> None:
    (launch_dir / "where_chunks_run.py").write_text(WHERE_CHUNKS_RUN)
    uri = sqlite_uri(launch_dir / "store.db")
    launch = run_parsweep(
        ["-m", f"python={python314}", "backend=interpreters", "workers=2", "n=8e6", "repeats=3", "warmup=1",
         "workload=custom", "workload.function=where_chunks_run:chunk", "workload.expected=where_chunks_run:expected",
         "workload.allow=[where_chunks_run]"],
        launch_dir, uri=uri, timeout=300,
    )
    assert launch.returncode == 0, launch.explain()
    trials = trials_by(all_runs(uri), "backend")
    pool = trials[("interpreters",)]
    assert pool.info.status == "FINISHED" and pool.data.metrics["correct"] == 1.0, pool.data.tags.get("parsweep.error")
    assert pool.data.tags["python.version"].startswith("3.14") and pool.data.tags["python.executable"] == python314
    assert pool.data.metrics["cpu_utilization"] > 1.5, f"two subinterpreters did not run in parallel; {disturbance(pool)}"
    assert pool.data.metrics["startup_s"] > 0


@pytest.mark.slow
def test_interpreters_backend_on_the_classic_loop(launch_dir: Path, python314: str) -> None:
    """The sweep of the brief, end to end: serial against interpreters x1, x2 on the classic loop,
    the report and its verdict."""
    uri = sqlite_uri(launch_dir / "store.db")
    launch = run_parsweep(["-m", "backend=serial,interpreters", "workers=1,2", f"python={python314}", "n=8e6",
                           "repeats=3", "warmup=1"], launch_dir, uri=uri, timeout=300)
    assert launch.returncode == 0, launch.explain()
    trials = trials_by(all_runs(uri), "backend", "workers")
    assert set(trials) == {("serial", "1"), ("interpreters", "1"), ("interpreters", "2")}
    assert all(run.data.metrics["correct"] == 1.0 for run in trials.values())
    assert "interpreters" in launch.stdout and "Verdict" in launch.stdout


def test_interpreters_backend_inside_the_trial_process(python314: str, tmp_path: Path) -> None:
    """The bench itself under 3.14: each chunk reports the subinterpreter it ran in, one per worker,
    none of them the main interpreter; the pool is closed with the trial."""
    script = tmp_path / "bench.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from concurrent import interpreters\n"
        "from runner.trial.bench import TrialBench\n"
        "from runner.trial.spec import build_spec\n"
        "spec = build_spec({'backend': {'name': 'interpreters'}, 'workload': {'name': 'sum_range'},\n"
        "                   'workers': 2, 'chunks': 6, 'n': 600000, 'repeats': 1, 'warmup': 0})\n"
        "bench = TrialBench(spec)\n"
        "bench.start()\n"
        "parts = bench.backend.run(bench.fn, bench.chunks)\n"
        "print(sum(p.value for p in parts) == 600000 * 599999 // 2)\n"
        "print(' '.join(sorted({p.worker for p in parts})))\n"
        "print(interpreters.get_main().id)\n"
        "bench.finish()\n"
        "print(len(interpreters.list_all()))\n"
    )
    done = subprocess.run([python314, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    correct, workers, main_id, left = done.stdout.split("\n")[:4]
    assert correct == "True"
    labels = workers.split()
    assert len(labels) == 2 and all(label.startswith("interpreter-") for label in labels), labels
    assert f"interpreter-{main_id}" not in labels
    assert left == "1", "the pool's interpreters outlived the trial"


# -- faults hold under another interpreter --------------------------------------------------------------


@pytest.mark.slow
def test_timeout_under_the_free_threaded_build(launch_dir: Path, free_threaded_python: str) -> None:
    uri = sqlite_uri(launch_dir / "store.db")
    sweep = Background([f"python={free_threaded_python}", "backend=multiprocessing", "workers=2", "n=1e10",
                        "timeout_s=3", "repeats=1", "warmup=0"], launch_dir, uri=uri)
    try:
        trial = sweep.wait_for(lambda: trial_processes(sweep.pid), what="the trial process")
        pids = [p.pid for p in trial] + [c.pid for p in trial for c in p.children(recursive=True)]
        code = sweep.finish(timeout=90)
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    assert code != 0, sweep.output()
    assert not alive(pids), f"processes of the timed-out trial still run: {alive(pids)}"
    (run,) = runs_with_role(all_runs(uri), "trial")
    assert run.info.status == "FAILED" and "timed out after 3 s (timeout_s)" in run.data.tags["parsweep.error"]
    assert run.data.tags["python.executable"] == free_threaded_python
    left = wait_for_no_processes(sweep.marker, within_s=10)
    assert not left, describe_processes(left)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["threading", "interpreters"])
def test_ctrl_c_under_another_interpreter(launch_dir: Path, free_threaded_python: str, python314: str, backend: str) -> None:
    """Ctrl-C (SIGINT to the launcher's group) mid-trial: exit 130, the runs KILLED, no process left,
    fork servers of the other interpreter included."""
    python = free_threaded_python if backend == "threading" else python314
    uri = sqlite_uri(launch_dir / "store.db")
    sweep = Background(["-m", f"python={python}", f"backend={backend}", "workers=2", "n=1e10", "repeats=1",
                        "warmup=0", "timeout_s=120"], launch_dir, uri=uri)
    try:
        trial = sweep.wait_for(lambda: trial_processes(sweep.pid), what="the trial process")
        sweep.wait_for(lambda: any(p.cpu_percent(0.2) > 50 for p in trial), what="the trial to compute")
        pids = [p.pid for p in trial]
        os.killpg(sweep.pid, signal.SIGINT)
        code = sweep.finish(timeout=60)
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    assert code == 130, sweep.output()
    assert not alive(pids)
    runs = all_runs(uri)
    assert [run.info.status for run in runs_with_role(runs, "sweep")] == ["KILLED"]
    assert [run.info.status for run in runs_with_role(runs, "trial")] == ["KILLED"]
    left = wait_for_no_processes(sweep.marker, within_s=10)
    assert not left, "processes of the sweep outlived it:\n" + describe_processes(left)


# -- the sweep=gil preset ---------------------------------------------------------------------------------


def test_gil_preset_composes_a_free_threaded_build_and_its_reference(hydra_conf, free_threaded_python: str) -> None:
    """The reference is the free-threaded build's GIL twin when `make interpreters` built one
    (same X.Y.Z, same configure flags but --disable-gil), else python=current."""
    from runner.execute.interpreters import gil_twin

    cfg = hydra_conf(config_name="config", overrides=["sweep=gil"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    reference, free = str(params.python).split(",")
    assert own_facts(free)["python.free_threaded"] == "true"
    twin = gil_twin(free)
    assert reference == (twin or "current")
    if twin is not None:
        facts = own_facts(twin)
        assert facts["python.free_threaded"] == "false" and facts["python.version"] == own_facts(free)["python.version"]
    assert (params.backend, params.workers, float(params.n)) == ("serial,threading,process_pool", "1,2", 1e7)


def test_gil_preset_names_a_command_on_path_and_notes_when_none_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], free_threaded_python: str
) -> None:
    from runner.app.main import PresetResolvers
    from runner.execute import interpreters

    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    monkeypatch.setattr(interpreters, "OPT_PYTHONS", str(nowhere / "python3.*t/bin/python3.*t"))
    monkeypatch.setenv("PATH", str(nowhere))
    resolvers = PresetResolvers()  # what the launch registers with OmegaConf: it says a note once
    assert resolvers.free_threaded_pythons() == "current"
    assert resolvers.free_threaded_pythons() == "current"
    notes = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(notes) == 1 and notes[0].startswith("parsweep: note: no free-threaded CPython found"), notes

    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "python3.13t").symlink_to(free_threaded_python)
    (on_path / "python3.12t").symlink_to(sys.executable)  # named like one, but a GIL build: not taken
    monkeypatch.setenv("PATH", str(on_path))
    # python3.13t resolves to the /opt build: its GIL twin there (make interpreters) is the reference
    assert resolvers.free_threaded_pythons() == f"{interpreters.gil_twin('python3.13t') or 'current'},python3.13t"


def _wrapper(path: Path, target: str) -> str:
    """An interpreter at ``path`` that is ``target`` (a script, so its real path stays ``path``)."""
    path.parent.mkdir(parents=True)
    path.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
    path.chmod(0o755)
    return str(path)


def test_the_gil_twin_is_the_same_version_and_flags_beside_the_free_threaded_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free_threaded_python: str, gil_twin_python: str
) -> None:
    """A GIL build beside the free-threaded one (python3.13 next to python3.13t) is its twin only
    when it is the same X.Y.Z built with the same flags; another version there is not."""
    from runner.execute import interpreters

    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    free = _wrapper(tmp_path / "python3.13t" / "bin" / "python3.13t", free_threaded_python)
    assert interpreters.gil_twin(free) is None  # nothing beside it
    other = _wrapper(tmp_path / "python3.13" / "bin" / "python3.13", sys.executable)  # a GIL build, but another version
    assert interpreters.gil_twin(free) is None
    Path(other).write_text(f'#!/bin/sh\nexec {gil_twin_python} "$@"\n')
    assert interpreters.gil_twin(free) == other
    assert interpreters.gil_twin(gil_twin_python) is None  # a GIL build has no twin to find


@pytest.mark.slow
def test_gil_preset_runs(launch_dir: Path, free_threaded_python: str) -> None:
    """The preset, tiny: both interpreters, every backend and worker count, one sweep."""
    uri = sqlite_uri(launch_dir / "store.db")
    launch = run_parsweep(["-m", "sweep=gil", "n=1e5", "repeats=2", "warmup=0"], launch_dir, uri=uri, timeout=300)
    assert launch.returncode == 0, launch.explain()
    trials = runs_with_role(all_runs(uri), "trial")
    pythons = {run.data.params["python"] for run in trials}
    assert len(trials) == 10 and len(pythons) == 2, pythons
    free_threaded = {run.data.params["python"]: run.data.tags["python.free_threaded"] for run in trials}
    assert sorted(free_threaded.values()) == ["false", "true"], free_threaded  # one of each: the build and its reference
    assert all(run.data.metrics["correct"] == 1.0 for run in trials)
