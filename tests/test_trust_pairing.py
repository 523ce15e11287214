"""What pairing needs, recorded per sample: the interleaved round and dispatch time, and the
machine's speed around it (issue 17).

A speedup read from pairs divides each contender repetition by the baseline's of the same
interleaved round, so every recorded sample says which round of its group it ran in
(``parsweep.sample_rounds``) and when (``parsweep.sample_starts``); and how fast its CPU was
right then (``parsweep.sample_probes``). Real sweeps, a real store, real busy processes.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import all_runs, run_parsweep, runs_with_role, sqlite_uri
from runner.trial.measure import Repetition
from runner.trial.results import TrialResult
from runner.trial.spec import build_spec

REPEATS = 4


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def test_interleaved_samples_carry_their_round_and_start(launch_dir: Path) -> None:
    """The rounds of one group line up across its trials: sample ``i`` ran in round ``i``
    unless it was measured again (then in a retry round past the planned ones), and every
    sample of a round was dispatched before any sample of a later round."""
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(
        ["-m", "backend=serial,threading", "workers=1", "n=2e4", f"repeats={REPEATS}", "warmup=1", "seed=3"], launch_dir, uri=uri
    )
    assert launch.returncode == 0, launch.explain()
    trials = runs_with_role(all_runs(uri), "trial")
    assert len(trials) == 2
    assert len({t.data.tags["parsweep.group"] for t in trials}) == 1
    timeline: list[tuple[int, float]] = []
    for run in trials:
        tags = run.data.tags
        samples = _floats(tags["parsweep.rep_wall_times_s"])
        rounds = _ints(tags["parsweep.sample_rounds"])
        starts = _floats(tags["parsweep.sample_starts"])
        probes = _floats(tags["parsweep.sample_probes"])
        assert len(samples) == len(rounds) == len(starts) == len(probes) == REPEATS
        assert all(p > 0 for p in probes)
        assert len(set(rounds)) == REPEATS, rounds  # a trial runs once per round
        for index, (round_index, start) in enumerate(zip(rounds, starts)):
            assert round_index == index or round_index >= REPEATS, rounds  # warm-up not counted; retries numbered after
            assert start > 0
        timeline += list(zip(rounds, starts))
    by_start = [r for r, _ in sorted(timeline, key=lambda item: item[1])]
    assert by_start == sorted(by_start), timeline  # a later round never starts before an earlier one

    # the report shows how much each trial's probes moved: their std / mean (``cpu drift``)
    from analysis.publish import sweep_report

    assert "cpu drift" in launch.stdout, launch.explain()
    table = sweep_report(uri, runs_with_role(all_runs(uri), "sweep")[0].info.run_id).table.set_index("backend")
    for run in trials:
        probes = _floats(run.data.tags["parsweep.sample_probes"])
        drift = statistics.stdev(probes) / statistics.mean(probes)
        assert table.loc[run.data.params["backend"], "speed_drift"] == pytest.approx(drift)


def test_sequential_samples_have_no_rounds(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "backend=serial,threading", "workers=1", "n=1e4", "repeats=2", "warmup=0", "schedule=sequential"],
                          launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    for run in runs_with_role(all_runs(uri), "trial"):
        assert "parsweep.sample_rounds" not in run.data.tags and "parsweep.sample_starts" not in run.data.tags
        assert len(_floats(run.data.tags["parsweep.sample_probes"])) == 2  # the probe runs whatever the schedule


def test_a_sample_measured_again_keeps_its_retry_round() -> None:
    """A repetition measured again replaces the marked one in sample order with its own round."""
    reps = [Repetition(0.1, 0.1, 0.0, [0.1], round=0, started_s=0.5), Repetition(0.2, 0.2, 0.0, [0.2], round=5, started_s=3.25)]
    result = TrialResult()
    result.keep(reps)
    assert result.sample_rounds == [0, 5] and result.sample_starts == [0.5, 3.25]
    unpaired = TrialResult()
    unpaired.keep([Repetition(0.1, 0.1, 0.0, [0.1])])
    assert unpaired.sample_rounds == [] and unpaired.sample_starts == []


# -- the speed probe sees a slow phase ------------------------------------------------------------


def _spin(cpu: int, seconds: float, ready: Any = None, nap_every_s: float | None = None) -> None:
    """Keep ``cpu`` busy for ``seconds`` (bounded: ends by itself if the test cannot stop it);
    with ``nap_every_s``, sleep 1 ms after each such stretch of spinning (see :data:`NAP_EVERY_S`)."""
    os.sched_setaffinity(0, {cpu})
    if ready is not None:
        ready.put("spinning")
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        stretch = min(end, now + nap_every_s) if nap_every_s else end
        while time.monotonic() < stretch:
            pass
        if nap_every_s:
            time.sleep(0.001)


#: A probe that straddles the end of the trial's time slice waits for the busy processes' turns.
#: Busy processes that only spin leave where the slices end to the kernel's tick: eight of them
#: held the trial back for ~0.9 s a turn and a probe straddled one in some turns only, so the
#: test took 17 s alone and 45-137 s in the suite (2026-12-04). So each busy process naps 1 ms
#: after every NAP_EVERY_S of spinning: on waking it takes the CPU back from the trial at once
#: (the trial runs at nice +15), the trial runs in windows of about a millisecond, shorter than
#: a probe, and most probes wait for a 20 ms turn (24-27 of 30 read over SLOW times a quiet
#: one with two such processes; the third slow probe came within a second). The busy phase is
#: bounded all the same (BUSY_REPS repetitions).
HOGS = 2
NAP_EVERY_S = 0.02
SLOW = 10
BUSY_REPS = 300


def _bench_in_phases(cpu: int, queue: Any, go: Any) -> None:
    """A trial's bench on ``cpu``, at a lower priority than the busy processes (nice +15): 10
    recorded repetitions, a word to the test, then more once it says the busy processes spin,
    until 3 probes have read :data:`SLOW` times the quiet phase's median, or :data:`BUSY_REPS` of them; then their
    probes, by phase. (A probe takes about a millisecond: one that fits inside the trial's
    time slice reads no slower however busy the CPU, one that straddles a slice's end reads
    many times slower: see :data:`NAP_EVERY_S`.)"""
    from runner.trial.bench import TrialBench

    os.sched_setaffinity(0, {cpu})
    os.nice(15)
    spec = build_spec({"backend": {"name": "serial"}, "workload": {"name": "sum_range"}, "n": 20_000, "repeats": 4, "warmup": 0})
    bench = TrialBench(spec)
    bench.start()
    probes: dict[str, list[float]] = {}
    for phase in ("quiet", "busy"):
        if phase == "busy":
            queue.put("quiet phase done")
            go.wait(60)
        probes[phase] = []
        while len(probes[phase]) < (10 if phase == "quiet" else BUSY_REPS):
            probes[phase].append(bench.repetition(recorded=True).probe_s or 0.0)
            if phase == "busy" and sum(p > SLOW * statistics.median(probes["quiet"]) for p in probes["busy"]) >= 3:
                break
    bench.finish()
    queue.put(probes)


@pytest.mark.alone
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_the_speed_probe_sees_busy_processes_on_the_trials_cpu() -> None:
    """A trial's repetitions on one CPU, the later ones sharing it with busy processes pinned
    there: the probes around those read slower. The trial runs at nice +15 so that the slow
    phase is certain (the scheduler gives it a small share, and a busy process waking from its
    nap takes the CPU back at once: :data:`NAP_EVERY_S`) rather than a lottery of time slices
    that a ~1 ms probe may slip between (benchmarks/README.md, probe: at equal priority most
    probes do). A comparison within the test's own run, not a timing of this machine."""
    cpu = min(os.sched_getaffinity(0))
    context = multiprocessing.get_context("fork")
    queue, ready, go = context.Queue(), context.Queue(), context.Event()
    trial = context.Process(target=_bench_in_phases, args=(cpu, queue, go), daemon=True)
    trial.start()
    hogs: list[multiprocessing.process.BaseProcess] = []
    try:
        assert queue.get(timeout=60) == "quiet phase done"
        hogs = [context.Process(target=_spin, args=(cpu, 240.0, ready, NAP_EVERY_S), daemon=True) for _ in range(HOGS)]
        for hog in hogs:
            hog.start()
        for _ in hogs:
            ready.get(timeout=30)
        go.set()
        probes = queue.get(timeout=300)
    finally:
        for hog in hogs:
            hog.kill()
            hog.join()
        trial.join(timeout=10)
        if trial.is_alive():
            trial.kill()
    quiet, busy = probes["quiet"], probes["busy"]
    assert min(quiet) > 0 and min(busy) > 0
    assert sum(p > SLOW * statistics.median(quiet) for p in busy) >= 3, (busy, quiet)


# -- the same CPUs for what is compared (affinity) ---------------------------------------------------


def test_compared_trials_run_on_the_same_cpus(launch_dir: Path) -> None:
    """affinity=true: serial and the 1-worker trials on one and the same CPU, the 2-worker ones
    on the same set (the default); affinity=false: wherever the launcher may run. Recorded per
    trial in ``parsweep.cpus``."""
    usable = sorted(os.sched_getaffinity(0))
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "backend=serial,threading,process_pool", "workers=1,2", "n=1e4", "repeats=2", "warmup=0",
                           "affinity=true"], launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    cpus = {(r.data.params["backend"], r.data.params["workers"]): r.data.tags["parsweep.cpus"]
            for r in runs_with_role(all_runs(uri), "trial")}
    one = {cpus[("serial", "1")], cpus[("threading", "1")], cpus[("process_pool", "1")]}
    assert one == {str(usable[-1])}, cpus
    assert cpus[("threading", "2")] == cpus[("process_pool", "2")] == ",".join(map(str, usable[-min(2, len(usable)):])), cpus

    free_dir = launch_dir / "free"
    free_dir.mkdir()
    uri = sqlite_uri(free_dir / "mlflow.db")
    launch = run_parsweep(["-m", "backend=serial,threading", "workers=1", "n=1e4", "repeats=2", "warmup=0", "affinity=false"],
                          free_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    for run in runs_with_role(all_runs(uri), "trial"):
        assert run.data.tags["parsweep.cpus"] == ",".join(map(str, usable))


def test_a_bad_affinity_is_one_line_naming_the_key(launch_dir: Path) -> None:
    launch = run_parsweep(["affinity=sometimes"], launch_dir, uri=sqlite_uri(launch_dir / "mlflow.db"))
    assert launch.returncode == 2, launch.explain()
    assert launch.stderr.strip().splitlines()[-1] == "parsweep: error: affinity=sometimes: must be true or false"
