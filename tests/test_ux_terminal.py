"""What a user sees in the terminal: live progress on a terminal, plain lines in a pipe,
``quiet=true``, warnings that stand out, errors on one line, no Hydra log noise.

The live display is checked twice: in-process against a forced-terminal rich console, and
end to end with a real ``parsweep -m`` under a pseudo-terminal.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest
from rich.console import Console

from conftest import HELD_LOCK, TINY, clean_env, parsweep_command, run_parsweep, sqlite_uri
from runner.trial.quality import group_warnings
from runner.ui import progress, terminal

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SMALL_SWEEP = ["-m", "backend=serial,threading", "workers=1,2", *TINY]
TRIAL_LINE = re.compile(r"^\[\d/3\] (serial|threading) +workers=\d +n=1e4 +wall +\S+ (ms|us|s) ±")


def not_queueing(lines: list[str]) -> list[str]:
    """``lines`` without the host lock's queueing notes (another sweep on this host may be timing a trial)."""
    return [line for line in lines if not line.startswith(("parsweep: waiting for the host lock", "parsweep: waited "))]


def plain(text: str) -> str:
    return ANSI.sub("", text)


def forced_terminal(width: int = 120) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=width, highlight=False, soft_wrap=True), buffer


# -- the display, in process --------------------------------------------------------------


def test_mode_follows_the_output() -> None:
    terminal_console, _ = forced_terminal()
    pipe_console = Console(file=io.StringIO())
    assert progress.choose_mode(quiet=False, console=terminal_console) == progress.LIVE
    assert progress.choose_mode(quiet=False, console=pipe_console) == progress.LINES
    assert progress.choose_mode(quiet=True, console=terminal_console) == progress.QUIET
    # Jobs running in other processes (Ray, submitit) cannot feed a display here.
    assert progress.choose_mode(quiet=False, local_jobs=False, console=terminal_console) == progress.LINES


def test_live_display_shows_trials_repetitions_elapsed_and_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    console, buffer = forced_terminal()
    shown = progress.activate(progress.SweepProgress(3, progress.LIVE, console=console))
    try:
        shown.measuring(["threading · 2 workers · n=1e7"], repetitions=3, warmup=1)
        assert shown.time_left_s() is None  # nothing finished yet: no estimate made up
        shown.repetition(1, 4, 0.25)
        shown._progress.refresh()
        clock[0] += 10.0
        shown.trial_finished("[1/3] threading  workers=2 ...")
        # One trial in 10 s: two left take about 20 s.
        assert shown.time_left_s() == pytest.approx(20.0)
        shown.measuring(["threading · 4 workers · n=1e7", "serial · n=1e7"], repetitions=3, warmup=1, interleaved=True)
        shown.repetition(1, 4, 0.2, "serial · n=1e7")
        clock[0] += 4.0
        assert shown.time_left_s() == pytest.approx(28.0)
        shown._progress.refresh()
    finally:
        progress.deactivate()
    screen = plain(buffer.getvalue())
    assert "threading · 2 workers · n=1e7" in screen
    assert "rep 1/4" in screen and "(last rep 250.00 ms)" in screen
    assert "serial · n=1e7 (2 trials in rounds)" in screen and "round 1/4" in screen
    assert "1/3 trials" in screen and "elapsed" in screen and "left" in screen
    assert "[1/3] threading  workers=2 ..." in screen
    assert progress.active() is None


def test_lines_and_quiet_modes(capsys: pytest.CaptureFixture[str]) -> None:
    lines = progress.SweepProgress(2, progress.LINES).start()
    lines.note("parsweep: 2 trials")
    lines.measuring(["serial · n=1e4"], 2)
    lines.repetition(1, 2, 0.1)  # no display: ignored
    lines.trial_finished("[1/2] serial ...", warnings=["too many workers"])
    lines.stop()
    quiet = progress.SweepProgress(2, progress.QUIET).start()
    quiet.note("not shown")
    quiet.trial_finished("not shown either", failed=True)
    quiet.warn("not shown")
    quiet.stop()
    out, err = capsys.readouterr()
    # A warning stays under its trial's line, in the same stream: a redirected log keeps them together.
    assert out.splitlines() == ["parsweep: 2 trials", "[1/2] serial ...", "  warning: too many workers"]
    assert err == ""


def test_warnings_and_errors_are_single_lines_styled_only_on_a_terminal() -> None:
    message = "workers=5 is more than the 2 usable CPU cores: " + "x" * 200
    pipe = io.StringIO()
    terminal.warn(message, pipe)
    terminal.error("n=abc: must be a whole number >= 1 [not markup]", pipe)
    assert pipe.getvalue().splitlines() == [
        f"  warning: {message}",
        "parsweep: error: n=abc: must be a whole number >= 1 [not markup]",
    ]

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    terminal.warn("careful", tty)
    terminal.error("broken", tty)
    styled = tty.getvalue()
    assert "\x1b[" in styled  # colour on a terminal
    assert plain(styled).splitlines() == ["  warning: careful", "parsweep: error: broken"]


def test_names_read_well() -> None:
    from runner.trial.spec import build_spec

    def spec(**values: object):
        backend = str(values.pop("backend", "multiprocessing"))
        base = {
            "backend": {"name": backend, **({"start_method": "fork"} if backend == "multiprocessing" else {})},
            "workload": {"name": "sum_range"},
            "workers": 2,
            "n": "1e8",
            "repeats": 3,
            "warmup": 1,
            "timeout_s": 60,
            "experiment": "parsweep",
        }
        base.update(values)
        return build_spec(base)

    assert terminal.trial_name(spec()) == "multiprocessing · 2 workers · n=1e8"
    assert terminal.trial_name(spec(workers=1)) == "multiprocessing · 1 worker · n=1e8"
    assert terminal.trial_name(spec(backend="serial")) == "serial · n=1e8"
    import datetime as dt

    started = dt.datetime(2026, 11, 25, 12, 5)
    specs = [spec(backend="serial", n="1e6"), spec(workers=1, n="1e6"), spec(workers=2, n="1e7")]
    assert terminal.sweep_name(specs, started) == "sweep · serial, multiprocessing × 1,2 workers × n=1e6,1e7 · 2026-11-25 12:05"
    many = [spec(backend=b) for b in ("serial", "threading", "multiprocessing", "thread_pool")]
    assert terminal.sweep_name(many, started, "quick").startswith("quick sweep · 4 backends × 2 workers × n=1e8 · ")


# -- real launches ----------------------------------------------------------------------------


@pytest.mark.slow
def test_pipe_gets_one_plain_line_per_trial_and_no_hydra_noise(launch_dir: Path) -> None:
    launch = run_parsweep(SMALL_SWEEP, launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"))
    assert launch.returncode == 0, launch.explain()
    assert "\x1b[" not in launch.stdout + launch.stderr and "\r" not in launch.stdout
    lines = launch.stdout.splitlines()
    assert re.match(r"parsweep: 3 trials, about \d+:\d\d \+ up to \d+:\d\d waiting for a quiet machine \(interference\.budget_s\)" + HELD_LOCK
                    + " -> experiment 'parsweep' at sqlite:///", lines[0]), lines[0]
    trial_lines = [line for line in lines if line.startswith("[")]
    assert len(trial_lines) == 3 and all(TRIAL_LINE.match(line) for line in trial_lines), launch.explain()
    assert "Browse the runs: make ui" in launch.stdout
    assert not re.search(r"\[HYDRA\]|Launching \d+ jobs|INFO|Traceback", launch.stdout + launch.stderr), launch.explain()


@pytest.mark.slow
def test_quiet_prints_only_the_final_table(launch_dir: Path) -> None:
    launch = run_parsweep([*SMALL_SWEEP, "quiet=true"], launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"))
    assert launch.returncode == 0, launch.explain()
    assert not_queueing(launch.stderr_lines) == [], launch.explain()
    assert not any(line.startswith(("[", "parsweep:", "Browse", "This sweep")) for line in launch.stdout.splitlines())
    assert "speedup" in launch.stdout.lower() and "threading" in launch.stdout, launch.explain()


@pytest.mark.slow
def test_quiet_hides_the_host_lock_queueing_lines(launch_dir: Path, tmp_path: Path) -> None:
    """A trial that queues behind another launcher's says so on the display, not under quiet=true;
    the wait is still recorded in the run's warnings."""
    import fcntl
    import threading

    lock_file = tmp_path / "host.lock"
    env = {"PARSWEEP_LOCK_FILE": str(lock_file)}
    uri = sqlite_uri(launch_dir / "mlflow.db")

    def release_once_queued(held, run_dir: Path) -> None:
        # The job's .hydra/config.yaml is written just before its trial asks for the lock.
        deadline = time.monotonic() + 120
        while not list(run_dir.rglob("config.yaml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.2)  # queued for over a second: the run's warnings say so too
        fcntl.flock(held, fcntl.LOCK_UN)

    outputs = {}
    for quiet in (True, False):
        run_dir = tmp_path / f"run-quiet-{quiet}"
        with open(lock_file, "a+") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            release = threading.Thread(target=release_once_queued, args=(held, run_dir))
            release.start()
            try:
                launch = run_parsweep(
                    ["backend=serial", *TINY, f"quiet={str(quiet).lower()}", f"hydra.run.dir={run_dir}"], launch_dir, uri=uri, env=env
                )
            finally:
                release.join()
        assert launch.returncode == 0, launch.explain()
        outputs[quiet] = launch.stdout + launch.stderr
    assert "waiting for the host lock" not in outputs[True] and "waited" not in outputs[True], outputs[True]
    assert "waiting for the host lock" in outputs[False] and "waited" in outputs[False], outputs[False]
    from conftest import all_runs

    runs = all_runs(uri)
    assert len(runs) == 2 and all("waited" in run.data.tags.get("parsweep.warnings", "") for run in runs)


@pytest.mark.slow
def test_quiet_still_reports_errors_on_one_line(launch_dir: Path) -> None:
    bad = run_parsweep(["-m", "quiet=maybe"], launch_dir)
    assert bad.returncode == 2
    assert bad.stderr_lines == ["parsweep: error: quiet=maybe: must be true or false"]
    failing = run_parsweep(["n=1e8", "repeats=1", "warmup=0", "timeout_s=0.2", "quiet=true"], launch_dir,
                           uri=sqlite_uri(launch_dir / "mlflow.db"))
    assert failing.returncode == 1, failing.explain()
    assert failing.stdout == ""
    errors = not_queueing(failing.stderr_lines)
    assert len(errors) == 1, failing.explain()
    assert errors[0].startswith("parsweep: error: serial · n=1e8: timed out after 0.2 s"), failing.explain()


def run_in_pty(args: list[str], cwd: Path, env: dict[str, str], timeout_s: float = 120) -> tuple[int, str]:
    """Run a command with a pseudo-terminal as stdout/stderr; return its exit code and raw output."""
    controller, worker = pty.openpty()
    os.set_blocking(controller, False)
    process = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=worker, stderr=worker)
    os.close(worker)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # EIO: the other side is closed
                    data = b""
                if data:
                    chunks.append(data)
                    continue
                if process.poll() is not None:
                    break
            elif process.poll() is not None:
                break
        else:
            raise AssertionError(f"{args} did not finish within {timeout_s} s")
        return process.wait(10), b"".join(chunks).decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)


@pytest.mark.slow
def test_terminal_gets_a_live_display(launch_dir: Path, usable_cores: int) -> None:
    too_many = usable_cores + 1  # oversubscribed on purpose: its warning must stand out
    args = ["-m", "backend=serial,threading", f"workers={too_many}", "n=1e6,1e7", "repeats=3", "warmup=1"]
    env = clean_env(MLFLOW_TRACKING_URI=sqlite_uri(launch_dir / "mlflow.db"), COLUMNS="160", LINES="40", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    code, raw = run_in_pty(parsweep_command() + args, launch_dir, env)
    screen = plain(raw).replace("\r\n", "\n")
    assert code == 0, raw
    assert "0/4 trials" in screen and "2/4 trials" in screen and "elapsed" in screen, screen
    assert re.search(r"~\d+:\d\d left", screen), screen  # estimated from the finished trials
    assert "serial · n=1e7" in screen and f"threading · {too_many} workers · n=1e7" in screen
    assert re.search(r"round [1-4]/4", screen), screen  # a (workload, n)'s two trials take turns, in rounds
    assert re.search(r"\[3/4\] serial +workers=1", screen) and re.search(r"\[4/4\] threading +workers=", screen)
    # a sweep's warnings are said once, at the end, grouped with the trials that had them
    oversubscribed = f"workers={too_many} is more than the {usable_cores} usable CPU cores"
    assert screen.count(oversubscribed) == 1 and "Warnings (" in screen, screen
    assert re.search(rf"{oversubscribed} \(2 trials\)", screen), screen
    assert "Speedup" in screen or "speedup" in screen
    assert raw.rstrip().count("\x1b[?25h") >= 1  # the cursor is shown again at the end


def test_each_warning_is_said_once_with_its_trials() -> None:
    """A sweep's warnings at its end: one group per kind, the trials that had it, the advice once."""
    over = "workers=4 is more than the 2 usable CPU cores: the workers take turns on the cores, so expect speedup to flatten"
    pairs = [
        ("serial · n=1e5", "unstable timings: std 1.2 ms is 33% of the mean 3.7 ms; quiet the machine, or use repeats=auto"),
        ("threading · 4 workers · n=1e5", over),
        ("threading · 4 workers · n=1e5", "unstable timings: std 0.9 ms is 13% of the mean 6.4 ms; quiet the machine, or use repeats=auto"),
        ("threading · 4 workers · n=2e5", over),
        ("serial · n=2e5", "2 of the 2 kept repetitions were disturbed (other processes: 1.5 cores); stop what else runs"),
        ("serial · n=3e5", "2 of the 2 kept repetitions were disturbed (other processes: 1.5 cores); stop what else runs"),
        ("serial · n=4e5", "3 of the 5 kept repetitions were disturbed (other processes: 0.9 cores); stop what else runs"),
    ]
    assert group_warnings(pairs) == [
        "unstable timings (2 trials): quiet the machine, or use repeats=auto",
        "    serial · n=1e5: std 1.2 ms is 33% of the mean 3.7 ms",
        "    threading · 4 workers · n=1e5: std 0.9 ms is 13% of the mean 6.4 ms",
        f"{over.split(': ')[0]} (2 trials): {over.split(': ', 1)[1]}",
        "    threading · 4 workers · n=1e5, threading · 4 workers · n=2e5",
        "… of the … kept repetitions were disturbed (3 trials): stop what else runs",
        "    serial · n=2e5, serial · n=3e5: 2 of the 2 kept repetitions were disturbed (other processes: 1.5 cores)",
        "    serial · n=4e5: 3 of the 5 kept repetitions were disturbed (other processes: 0.9 cores)",
    ]


def test_a_sweeps_display_holds_warnings_for_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    lines = progress.SweepProgress(2, progress.LINES).start()
    held: list[tuple[str, str]] = []
    lines.held = held
    lines.trial_finished("[1/2] threading ...", warnings=["too many workers"], trial="threading · 4 workers · n=1e5")
    lines.stop()
    assert capsys.readouterr().out.splitlines() == ["[1/2] threading ..."]
    assert held == [("threading · 4 workers · n=1e5", "too many workers")]


def test_n_is_the_integer_it_is_and_the_resume_command_is_exact() -> None:
    from runner.app.resume import resume_command
    from runner.trial.values import integral_override

    assert integral_override("n=1e6") == "n=1000000"
    assert integral_override("n=1e5,1e6,100_000") == "n=100000,1000000,100000"
    assert integral_override("workers=2.0") == "workers=2"
    for kept in ("n=1.5", "repeats=auto", "n=range(1,4)", "timeout_s=1e3", "n=abc", "backend=serial"):
        assert integral_override(kept) == kept  # not integral, not a count, or not ours to touch
    assert resume_command(["-m", "backend=serial,threading", "n=1e6", "resume=false", "--dry-run"]) == (
        "parsweep -m backend=serial,threading n=1e6 resume=true"
    )
    assert resume_command(["-m", "tracking.uri=sqlite:////a b/mlflow.db"], ".venv/bin/parsweep") == (
        ".venv/bin/parsweep -m 'tracking.uri=sqlite:////a b/mlflow.db' resume=true"
    )


def test_the_estimate_says_its_waits_and_never_reads_zero_for_unknown_costs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    from types import SimpleNamespace

    from runner.trial.spec import Policy
    from runner.ui import plan

    def trial(workload: str) -> SimpleNamespace:
        spec = SimpleNamespace(workload=workload, n=1000, backend="serial", workers=1, warmup=0, repeats=2, auto_repeats=False,
                               workload_options={})
        return SimpleNamespace(spec=spec, interpreter=SimpleNamespace(facts={"gil_enabled": True}), policy=Policy())

    lock = tmp_path / "host.lock"
    monkeypatch.setenv("PARSWEEP_LOCK_FILE", str(lock))
    assert plan.estimate_text([trial("sum_range")]).startswith("about 0:00 + up to 1:00 waiting for a quiet machine")
    assert plan.estimate_text([trial("custom")]).startswith("duration unknown: a custom workload's cost is known only once it runs")
    assert plan.estimate_text([trial("sum_range"), trial("custom")]).startswith("at least 0:00, and 1 custom-workload trial not estimated")
    none = trial("sum_range")
    none.policy = Policy(retries=0)
    assert plan.estimate_text([none]) == "about 0:00"
    with lock.open("w") as held:  # another parsweep is timing a trial on this host
        held.write("pid 1: serial · n=1e9, since now\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        assert plan.estimate_text([none]) == "about 0:00, after the host lock: another parsweep is timing a trial (pid 1: serial · n=1e9, since now)"
