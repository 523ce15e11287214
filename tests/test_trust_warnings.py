"""Each warning fires when its condition is made real: a CPU-spinning background process,
a tiny n, workers above the usable cores, repetitions that disagree, frequency scaling
(a sysfs tree with a scaling governor). Warnings reach the terminal, under their trial's
line, and the run's ``parsweep.warnings`` tag."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import all_runs, run_parsweep, runs_with_role, sqlite_uri
from runner.execute.schedule import run_isolated
from runner.host.facts import collect_cpufreq, frequency_state
from runner.trial import quality
from runner.trial.bench import run_trial
from runner.trial.spec import Policy, build_spec

pytestmark = [pytest.mark.timeout(180), pytest.mark.alone]

SPIN = "import sys, time\ntime.sleep(float(sys.argv[1]))\nprint('spinning', flush=True)\nwhile True:\n    pass\n"


def spinner(delay_s: float = 0.0) -> subprocess.Popen:
    """A real background process that keeps one core busy (after ``delay_s``)."""
    busy = subprocess.Popen([sys.executable, "-c", SPIN, str(delay_s)], stdout=subprocess.PIPE, text=True)
    if delay_s == 0:
        assert busy.stdout is not None and busy.stdout.readline().strip() == "spinning"  # it is, now
    return busy


def trial(hydra_conf, *overrides: str):
    return run_trial(build_spec(hydra_conf("config", overrides=list(overrides))))


# Measuring again waits for a quiet machine; a spinner that never stops would make it wait the whole budget.
SHORT_BUDGET = Policy(schedule="sequential", budget_s=1.0)


def isolated_trial(hydra_conf, *overrides: str, policy: Policy = SHORT_BUDGET):
    """In its own process, as parsweep runs it: the spinner is then not of the trial's process tree."""
    return run_isolated(build_spec(hydra_conf("config", overrides=list(overrides))), policy)


@pytest.mark.slow
def test_a_busy_background_process_is_reported(hydra_conf, usable_cores: int) -> None:
    busy = spinner()
    try:
        result = isolated_trial(hydra_conf, "backend=serial", "n=5e6", "repeats=3", "warmup=3")  # watched while warming up
    finally:
        busy.kill()
        busy.wait()
    assert result.correct
    text = "\n".join(result.warnings)
    assert "the machine was already busy at start" in text, text
    assert "disturbed by other processes" in text and "could not be measured clean again" in text, text
    threshold = SHORT_BUDGET.threshold * usable_cores
    assert result.metrics()["other_cpu_cores"] >= threshold
    assert result.metrics()["busy_cores_at_start"] >= threshold
    assert result.reps_interfered == 3 and quality.INTERFERENCE in result.trust


@pytest.mark.slow
def test_a_process_that_starts_spinning_mid_trial_is_seen(hydra_conf) -> None:
    busy = spinner(delay_s=1.0)  # starts once the trial is under way (there is no warm-up here)
    try:
        result = isolated_trial(
            hydra_conf, "backend=serial", "workload=sleep", "n=1e5", "workload.sleep_per_item_s=6e-6", "repeats=8", "warmup=0"
        )
    finally:
        busy.kill()
        busy.wait()
    assert result.reps_interfered > 0 and quality.INTERFERENCE in result.trust, result.warnings
    assert any("disturbed by other processes" in w for w in result.warnings), result.warnings


@pytest.mark.slow
def test_disturbed_repetitions_are_measured_again_once_the_machine_is_quiet(hydra_conf) -> None:
    """A real busy process for the first ~2 s: the repetitions it disturbed are marked, measured
    again once it is gone, and the clean ones are what the trial keeps."""
    busy = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.monotonic() + 2.0\nwhile time.monotonic() < end:\n    pass\n"]
    )
    try:
        result = isolated_trial(hydra_conf, "backend=serial", "n=1e7", "repeats=5", "warmup=0",
                                policy=Policy(schedule="sequential", budget_s=30.0))
    finally:
        busy.kill()
        busy.wait()
    assert result.correct, result.error
    assert result.reps_discarded >= 1, result.warnings
    assert result.reps_interfered == 0 and quality.INTERFERENCE not in result.trust, result.warnings
    assert len(result.wall_times_s) == 5
    assert any("measured again" in w for w in result.warnings), result.warnings
    assert result.metrics()["reps_discarded"] == result.reps_discarded


def test_a_tiny_n_says_raise_n(hydra_conf) -> None:
    result = trial(hydra_conf, "backend=serial", "n=100", "repeats=3", "warmup=0")
    short = [w for w in result.warnings if "under 1 ms" in w]
    assert short and "raise n" in short[0], result.warnings
    assert "n=1e" in short[0]


def test_unstable_repetitions_are_reported(hydra_conf, tmp_path: Path) -> None:
    # A user function whose repetitions really alternate between 5 ms and 25 ms.
    (tmp_path / "trust_wobble.py").write_text(
        textwrap.dedent(
            """\
            import time

            calls = [0]


            def wobble(start, end):
                calls[0] += 1
                time.sleep(0.005 if calls[0] % 2 else 0.025)
                return sum(range(start, end))
            """
        )
    )
    result = trial(
        hydra_conf, "backend=serial", "workload=custom", "workload.function=trust_wobble:wobble",
        "workload.allow=[trust_wobble]", f"workload.pythonpath={tmp_path}", "n=1000", "repeats=6", "warmup=0",
    )
    unstable = [w for w in result.warnings if w.startswith("unstable timings")]
    assert unstable, result.warnings
    assert "of the mean" in unstable[0] and "quiet the machine" in unstable[0]


def test_frequency_scaling_is_read_from_sysfs_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "cpu"
    for cpu, cur in ((0, 1_200_000), (1, 1_400_000)):
        d = root / f"cpu{cpu}" / "cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_governor").write_text("powersave\n")
        (d / "scaling_cur_freq").write_text(f"{cur}\n")
        (d / "cpuinfo_max_freq").write_text("2600000\n")
    (root / "intel_pstate").mkdir()
    (root / "intel_pstate" / "no_turbo").write_text("0\n")
    facts: dict = {}
    collect_cpufreq(facts, root)
    assert facts == {"cpu_governor": "powersave", "cpu_turbo": True}
    governors, ratio = frequency_state([0, 1], root)
    assert governors == ["powersave"] and ratio == pytest.approx(2.6 / 5.2)
    warnings = quality.frequency_warnings(governors, ratio)
    assert len(warnings) == 2
    assert "governor powersave" in warnings[0] and "performance" in warnings[0]
    assert "50% of its maximum" in warnings[1]
    # The performance governor at full clock: nothing to say.
    for cpu in (0, 1):
        (root / f"cpu{cpu}" / "cpufreq" / "scaling_governor").write_text("performance\n")
        (root / f"cpu{cpu}" / "cpufreq" / "scaling_cur_freq").write_text("2600000\n")
    assert quality.frequency_warnings(*frequency_state([0, 1], root)) == []


@pytest.mark.slow
def test_warnings_reach_the_terminal_and_the_run(launch_dir: Path, usable_cores: int) -> None:
    """A real launch with workers above the usable cores and a tiny n."""
    uri = sqlite_uri(launch_dir / "mlflow.db")
    workers = usable_cores + 1
    launch = run_parsweep(["backend=thread_pool", f"workers={workers}", "n=100", "repeats=3", "warmup=1"], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    lines = launch.stdout.splitlines()
    trial_line = next(i for i, line in enumerate(lines) if line.startswith("[1/1]"))
    under = []
    for line in lines[trial_line + 1 :]:
        if not line.startswith("  warning: "):
            break
        under.append(line)
    text = "\n".join(under)
    assert f"workers={workers} is more than the {usable_cores} usable CPU cores" in text, launch.explain()
    assert "raise n" in text, launch.explain()
    (run,) = runs_with_role(all_runs(uri), "trial")
    tag = run.data.tags["parsweep.warnings"]
    assert f"workers={workers} is more than the {usable_cores} usable CPU cores" in tag
    assert "under 1 ms" in tag
    metrics = run.data.metrics
    for name in ("wall_time_s", "wall_time_min_s", "wall_time_std_s", "wall_time_mean_s", "wall_time_iqr_s",
                 "wall_time_ci_low_s", "wall_time_ci_high_s", "cpu_utilization", "load_imbalance", "repeats_done"):
        assert name in metrics, name
    assert run.data.params["chunks"] == str(workers)


MANY_SHORT_PROCESSES = """
import os, sys, time
from runner.host.proc import CpuWindow

report_r, report_w = os.pipe()
window = CpuWindow(trees=[os.getpid()])
before = time.process_time()
window.begin()
children = []
for _ in range(40):
    pid = os.fork()
    if pid == 0:  # about 3 ms of pure Python, then stay alive past the window's end
        total = 0
        for i in range(100_000):
            total += i
        os.write(report_w, f"{time.process_time()!r}\\n".encode())  # all it ran since the fork
        time.sleep(0.5)
        os._exit(0)
    children.append(pid)
with os.fdopen(report_r) as reports:
    ran = sum(float(reports.readline()) for _ in children)
window.end()
ran += time.process_time() - before  # this process: the forks, the window's own reads
for pid in children:
    os.waitpid(pid, 0)
print(window.mine_s, ran, len(children))
"""


def test_many_short_processes_of_ours_do_not_read_as_other_processes() -> None:
    """A group's trials and pool workers start together: dozens of processes of ours, each a
    few milliseconds of CPU, which the kernel's 10 ms ticks round down to nothing. Read that way
    they were "other processes" (0.3-0.6 cores), and every first group of ``make run`` was
    flagged busy at start. Their CPU clocks put them back on our side: what the window counts as
    ours is what they and this process report they ran (pid accounting: the machine's other
    load does not enter the comparison). Measured in a small interpreter of its own: forked from
    this test process, which holds earlier tests' servers and memory, the children's start-up
    entered the tree's count but not their own clocks."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", MANY_SHORT_PROCESSES], capture_output=True, text=True, timeout=60, check=True)
    mine_s, ran, count = (float(part) for part in done.stdout.split())
    # each child ran a little after its report (the write, going to sleep): well under 1 ms
    assert abs(mine_s - ran) < 0.001 * count + 0.005, f"counted {mine_s:.4f} s as ours, we ran {ran:.4f} s"


def test_our_processes_and_their_short_threads_are_ours_to_the_millisecond() -> None:
    """What a CPU window counts as ours is what our processes really ran: a trial-like process
    that runs bursts of short-lived threads (``backend=threading`` at tiny n, up to 41 threads a
    repetition) and a few short processes, each reporting its own CPU clock. In ticks this was
    off by up to 10 ms per process and window, and a group of such trials read as other
    processes' cores ("disturbed") on a quiet machine. Pid accounting, not a quiet machine: the
    machine's other load does not enter the comparison."""
    import os
    import threading
    import time

    from runner.host.proc import CpuWindow

    def tiny() -> None:
        total = 0
        for i in range(1000):
            total += i

    def child(kind: str, go: int, report: int) -> None:
        os.read(go, 1)
        began = time.process_time()
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            if kind == "threads":
                threads = [threading.Thread(target=tiny) for _ in range(41)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            else:
                tiny()
        os.write(report, f"{time.process_time() - began!r}\n".encode())
        os.read(go, 1)  # stay alive until the window has been read

    go_r, go_w = os.pipe()
    report_r, report_w = os.pipe()
    kinds = ["threads", "threads", "loop", "loop"]
    children = []
    for kind in kinds:
        pid = os.fork()
        if pid == 0:
            try:
                child(kind, go_r, report_w)
            finally:
                os._exit(0)
        children.append(pid)
    try:
        window = CpuWindow(trees=children)
        window.begin()
        os.write(go_w, b"x" * len(children))
        with os.fdopen(report_r) as reports:
            ran = sum(float(reports.readline()) for _ in children)
            window.end()
            os.write(go_w, b"x" * len(children))
    finally:
        for pid in children:
            os.waitpid(pid, 0)
    assert ran > 0.01
    assert abs(window.mine_s - ran) < 0.002 * len(children), f"counted {window.mine_s:.4f} s as ours, they ran {ran:.4f} s"
