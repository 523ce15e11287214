"""Faults of concurrency: two sweeps launched at once on the same, fresh sqlite store.

Every run of both is recorded (the fresh store's tables are created by whichever launcher
comes first; "database is locked" and table races are retried with backoff), and the
host-wide lock makes their trials queue instead of overlapping: a probe workload writes when
each repetition ran, and no two intervals of the two sweeps overlap. A trial that waited
says so.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_faults_support import Background

from conftest import all_runs, client_for, runs_with_role, sqlite_uri

pytestmark = [pytest.mark.slow]

PROBE = textwrap.dedent(
    '''
    import os
    import time


    def work(start, end):
        began = time.time()
        total = 0
        for i in range(start, end):
            total += i
        with open(os.environ["PROBE_FILE"], "a") as out:
            out.write(f"{os.environ['PROBE_NAME']} {began} {time.time()}\\n")
        return total


    def expected(n):
        return n * (n - 1) // 2
    '''
)


def test_two_sweeps_at_once_record_everything_and_never_overlap(tmp_path: Path) -> None:
    (tmp_path / "probe.py").write_text(PROBE)
    uri = sqlite_uri(tmp_path / "fresh.db")
    probe_file = tmp_path / "intervals.txt"
    # Trials long enough (about 2.5 s a sweep) that the two launches surely overlap.
    # Each sweep disturbs the other (its launcher working between trials): the clean-up budget is
    # kept short, or each would wait for a quiet machine the other never leaves it.
    args = ["-m", "n=2e7,3e7", "backend=serial", "repeats=2", "warmup=0", "workload=custom", "workload.function=probe:work",
            "workload.expected=probe:expected", "workload.allow=[probe]", "interference.budget_s=3"]
    sweeps = [
        Background(args, tmp_path, uri=uri, env={"PROBE_FILE": str(probe_file), "PROBE_NAME": name}) for name in ("A", "B")
    ]
    try:
        codes = [sweep.finish(timeout=180) for sweep in sweeps]
    finally:
        for sweep in sweeps:
            if sweep.process.poll() is None:
                sweep.kill()
    assert codes == [0, 0], "\n=====\n".join(s.output() for s in sweeps)
    outputs = "\n".join(s.output() for s in sweeps)
    assert "database is locked" not in outputs.replace("retrying", "")

    runs = all_runs(uri)
    parents = runs_with_role(runs, "sweep")
    trials = runs_with_role(runs, "trial")
    assert len(parents) == 2 and len(trials) == 4
    client = client_for(uri)
    for run in trials:
        assert run.info.status == "FINISHED"
        assert run.data.metrics["correct"] == 1.0
        assert len(client.get_metric_history(run.info.run_id, "rep_wall_time_s")) == 2
    for parent in parents:
        assert parent.info.status == "FINISHED"
        assert sum(t.data.tags.get("mlflow.parentRunId") == parent.info.run_id for t in trials) == 2

    intervals = {"A": [], "B": []}
    for line in probe_file.read_text().splitlines():
        name, began, ended = line.split()
        intervals[name].append((float(began), float(ended)))
    # 2 trials x 2 repetitions each, plus any repetition the other launch disturbed (it was busy
    # ending its sweep while this one measured) and that was measured again.
    again = sum(int(t.data.metrics["reps_discarded"]) for t in trials)
    assert len(intervals["A"]) >= 4 and len(intervals["B"]) >= 4
    assert len(intervals["A"]) + len(intervals["B"]) == 8 + again
    for a0, a1 in intervals["A"]:
        for b0, b1 in intervals["B"]:
            assert a1 <= b0 or b1 <= a0, f"A ran {a0:.3f}-{a1:.3f} while B ran {b0:.3f}-{b1:.3f}"
    assert "waiting for the host lock" in outputs and "waited" in outputs, outputs
