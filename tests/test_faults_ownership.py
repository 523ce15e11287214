"""Nothing mixed, nothing lost: sweeps side by side, a parent killed with -9, every way out.

Two sweeps started in the same second (with the clock pinned by ``PARSWEEP_NOW``, and
without) each get a folder, a journal and trial folders of their own, exit 0, and every
trial's logged config is its own. A sweep whose parent got ``kill -9`` is shown as
interrupted, with the command that resumes it, by ``parsweep-report`` and by the next
launch; resuming it records every trial once and leaves nothing RUNNING. After every way a
launch can end (normal, a failed trial, a timeout, a trial killed, Ctrl-C, kill -9 then the
next launch), no ``parsweep-*`` temporary file and no process of the launch is left: each
launch gets a temporary folder of its own (``TMPDIR``) to be checked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_faults_support import Background

from conftest import (
    NO_PLOTS,
    QUIET_WAIT,
    TESTS_DIR,
    all_runs,
    clean_env,
    describe_processes,
    read_artifact,
    run_parsweep,
    runs_with_role,
    sqlite_uri,
    wait_for_no_processes,
)

pytestmark = [pytest.mark.slow]

FROZEN = "2026-12-02T18:31:38"


def temp_dir(tmp_path: Path, name: str = "tmp") -> Path:
    path = tmp_path / name
    path.mkdir(exist_ok=True)
    return path


def leftovers(temp: Path) -> list[str]:
    return sorted(p.name for p in temp.iterdir() if p.name.startswith("parsweep-"))


def output_folder(text: str) -> Path:
    line = next(line for line in text.splitlines() if line.startswith("Its output folder: "))
    return Path(line.split(": ", 1)[1])


def sweep_records(folder: Path) -> list[dict]:
    lines = (folder / "parsweep-journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("frozen", [True, False], ids=["clock-pinned", "clock-running"])
def test_two_sweeps_in_the_same_second_own_their_folders(tmp_path: Path, frozen: bool) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    temp = temp_dir(tmp_path)
    env = {"TMPDIR": str(temp), **({"PARSWEEP_NOW": FROZEN} if frozen else {})}
    sizes = {"A": ["1000", "1001", "1002"], "B": ["2000", "2001", "2002"]}
    sweeps = {
        name: Background(["-m", "backend=serial", f"n={','.join(ns)}", "repeats=1", "warmup=0", "interference.budget_s=1"],
                         tmp_path, uri=uri, env=env)
        for name, ns in sizes.items()
    }
    try:
        codes = {name: sweep.finish(timeout=180) for name, sweep in sweeps.items()}
    finally:
        for sweep in sweeps.values():
            if sweep.process.poll() is None:
                sweep.kill()
    outputs = {name: sweep.output() for name, sweep in sweeps.items()}
    assert codes == {"A": 0, "B": 0}, "\n=====\n".join(outputs.values())
    assert "not in the tracking store" not in "".join(outputs.values())

    folders = {name: tmp_path / output_folder(text) for name, text in outputs.items()}
    assert folders["A"] != folders["B"]
    if frozen:  # the same name was asked for: one got it, the other the next free one, and said so
        assert {f.name for f in folders.values()} == {"18-31-38", "18-31-38_2"}
        assert all(f.parent.name == "2026-12-02" for f in folders.values())
        assert "holds another launch's files; this one writes to" in "".join(outputs.values())

    runs = all_runs(uri)
    parents = {run.info.run_id: run for run in runs_with_role(runs, "sweep")}
    trials = runs_with_role(runs, "trial")
    assert len(parents) == 2 and len(trials) == 6
    for name, folder in folders.items():
        records = sweep_records(folder)
        (sweep,) = [r for r in records if r["kind"] == "sweep"]
        own = [r for r in records if r["kind"] == "trial"]
        assert sorted(str(r["params"]["n"]) for r in own) == sizes[name]
        assert all(r["parent_run_id"] == sweep["run_id"] for r in own)
        assert str(Path(parents[sweep["run_id"]].data.tags["parsweep.sweep_dir"])) == str(folder.resolve())
        for job in sorted(p for p in folder.iterdir() if (p / ".hydra").is_dir()):
            config = yaml.safe_load((job / ".hydra" / "config.yaml").read_text())
            assert str(int(float(config["n"]))) in sizes[name], (job, config["n"])
    for index, run in enumerate(trials):
        logged = yaml.safe_load(read_artifact(uri, run.info.run_id, ".hydra/config.yaml", tmp_path / f"art{index}"))
        assert int(float(logged["n"])) == int(run.data.params["n"]), run.info.run_name
    assert leftovers(temp) == []
    for sweep in sweeps.values():
        assert not wait_for_no_processes(sweep.marker, within_s=10)


SWEEP = ["-m", "backend=serial,threading", "workers=2", "n=1e4,3e7", "repeats=3", "warmup=0", QUIET_WAIT, NO_PLOTS]


def test_kill_9_of_the_parent_is_shown_as_interrupted_and_resume_finishes_it(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    temp = temp_dir(tmp_path)
    env = {"TMPDIR": str(temp)}
    sweep = Background(SWEEP, tmp_path, uri=uri, env=env)
    try:
        sweep.wait_for_line("[2/4]")  # the n=1e4 group is recorded; the n=3e7 group is being measured
        os.kill(sweep.pid, signal.SIGKILL)  # the parent alone, as `kill -9 PID` does
        sweep.process.wait(30)
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    left = wait_for_no_processes(sweep.marker, within_s=15)
    assert not left, "processes of the killed sweep outlived it:\n" + describe_processes(left)
    (parent,) = runs_with_role(all_runs(uri), "sweep")
    assert parent.info.status == "RUNNING"  # nobody could close it
    assert [p for p in leftovers(temp) if p.startswith("parsweep-trial-code-")], "the killed parent's folder is not there to clean"

    resume = f"parsweep {' '.join(SWEEP)} resume={parent.info.run_id}"
    report_env = clean_env(TMPDIR=str(temp), MLFLOW_TRACKING_URI=uri)
    report = subprocess.run([str(Path(sys.executable).with_name("parsweep-report")), "--format", "csv"], cwd=tmp_path,
                            env=report_env, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert f"({parent.info.run_id}) was interrupted: its launcher (pid {sweep.pid} on this host) is gone; resume it: {resume}" \
        in report.stderr, report.stderr

    # The next launch on this host says so too, and closes the dead sweep's run (KILLED, not RUNNING forever).
    other = run_parsweep(["backend=serial", "n=1e4", "repeats=1", "warmup=0"], tmp_path, uri=uri, env=env)
    assert other.returncode == 0, other.explain()
    assert f"was interrupted: its launcher (pid {sweep.pid} on this host) is gone; resume it: {resume}" in other.stdout, other.explain()
    closed = next(r for r in runs_with_role(all_runs(uri), "sweep") if r.info.run_id == parent.info.run_id)
    assert closed.info.status == "KILLED" and "kill -9" in closed.data.tags["parsweep.error"]
    assert not [p for p in leftovers(temp) if p.startswith("parsweep-trial-code-")], leftovers(temp)

    again = run_parsweep([*SWEEP, "resume=true"], tmp_path, uri=uri, env=env)
    assert again.returncode == 0, again.explain()
    assert f"resuming sweep {parent.info.run_id}: 2 of 4 trials already FINISHED" in again.stdout, again.explain()
    runs = all_runs(uri)
    (same,) = runs_with_role(runs, "sweep")
    assert same.info.run_id == parent.info.run_id and same.info.status == "FINISHED"
    assert not [r for r in runs if r.info.status == "RUNNING"]
    finished = [r for r in runs_with_role(runs, "trial")
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id and r.info.status == "FINISHED"]
    assert sorted((r.data.params["backend"], r.data.params["n"]) for r in finished) == [
        ("serial", "10000"), ("serial", "30000000"), ("threading", "10000"), ("threading", "30000000"),
    ]
    assert leftovers(temp) == []
    assert not wait_for_no_processes(again.marker, within_s=10)


FAULTS = ["workload=custom", "workload.allow=[faults]", "workload.expected=faults:expected_sum"] + [f"workload.pythonpath={TESTS_DIR}"]
WAYS_OUT = {
    "normal": (["-m", "backend=serial,threading", "workers=2", "n=1e4", "repeats=1", "warmup=0"], 0),
    "a trial fails": (["-m", "backend=serial,threading", "workers=2", "n=1e4", "repeats=1", "warmup=0", *FAULTS,
                       "workload.function=faults:raise_in_worker"], 1),
    "a trial is killed": (["-m", "backend=multiprocessing", "workers=2", "n=1e4", "repeats=1", "warmup=0", *FAULTS,
                           "workload.function=faults:kill_own_process"], 1),
    "a trial times out": (["-m", "backend=multiprocessing", "workers=2", "n=1e9", "timeout_s=2", "repeats=1", "warmup=0"], 1),
}


@pytest.mark.parametrize("args, code", list(WAYS_OUT.values()), ids=list(WAYS_OUT))
def test_no_leftovers_after_any_way_out(tmp_path: Path, args: list[str], code: int) -> None:
    temp = temp_dir(tmp_path)
    launch = run_parsweep(args, tmp_path, uri=sqlite_uri(tmp_path / "mlflow.db"), env={"TMPDIR": str(temp)})
    assert launch.returncode == code, launch.explain()
    assert leftovers(temp) == [], "left in the temporary folder: " + ", ".join(leftovers(temp))
    left = wait_for_no_processes(launch.marker, within_s=10)
    assert not left, describe_processes(left)


def test_no_leftovers_after_ctrl_c(tmp_path: Path) -> None:
    temp = temp_dir(tmp_path)
    sweep = Background(["-m", "n=1e4,1e9", "backend=multiprocessing", "workers=2", "repeats=3", "warmup=0"],
                       tmp_path, uri=sqlite_uri(tmp_path / "mlflow.db"), env={"TMPDIR": str(temp)})
    try:
        sweep.wait_for_line("[1/2]")
        os.killpg(sweep.pid, signal.SIGINT)
        assert sweep.finish(timeout=60) == 130, sweep.output()
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    assert leftovers(temp) == []
    left = wait_for_no_processes(sweep.marker, within_s=10)
    assert not left, describe_processes(left)


def test_a_sweep_whose_launcher_lives_is_not_resumed_by_a_second_launch(tmp_path: Path) -> None:
    uri = sqlite_uri(tmp_path / "mlflow.db")
    long = ["-m", "n=1e4,1e9", "backend=multiprocessing", "workers=2", "repeats=3", "warmup=0", "timeout_s=300"]
    sweep = Background(long, tmp_path, uri=uri)
    try:
        sweep.wait_for_line("[1/2]")  # the second trial runs for a minute or more
        (parent,) = runs_with_role(all_runs(uri), "sweep")
        second = run_parsweep([*long, f"resume={parent.info.run_id}"], tmp_path, uri=uri)
        assert second.returncode == 2, second.explain()
        assert second.stderr_lines == [
            f"parsweep: error: resume={parent.info.run_id}: that sweep is still running (pid {sweep.pid} on this host); "
            "wait for it, or stop it first"
        ], second.explain()
        os.killpg(sweep.pid, signal.SIGINT)
        assert sweep.finish(timeout=60) == 130, sweep.output()
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    assert len(runs_with_role(all_runs(uri), "trial")) == 2  # 1 measured, 1 KILLED: nothing from the refused launch
