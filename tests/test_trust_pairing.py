"""What pairing needs, recorded per sample: the interleaved round and dispatch time (issue 17).

A speedup read from pairs divides each contender repetition by the baseline's of the same
interleaved round, so every recorded sample says which round of its group it ran in
(``parsweep.sample_rounds``) and when (``parsweep.sample_starts``). Real sweeps, a real store.
"""

from __future__ import annotations

from pathlib import Path

from conftest import all_runs, run_parsweep, runs_with_role, sqlite_uri
from runner.trial.measure import Repetition
from runner.trial.results import TrialResult

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
        assert len(samples) == len(rounds) == len(starts) == REPEATS
        assert len(set(rounds)) == REPEATS, rounds  # a trial runs once per round
        for index, (round_index, start) in enumerate(zip(rounds, starts)):
            assert round_index == index or round_index >= REPEATS, rounds  # warm-up not counted; retries numbered after
            assert start > 0
        timeline += list(zip(rounds, starts))
    by_start = [r for r, _ in sorted(timeline, key=lambda item: item[1])]
    assert by_start == sorted(by_start), timeline  # a later round never starts before an earlier one


def test_sequential_samples_have_no_rounds(launch_dir: Path) -> None:
    uri = sqlite_uri(launch_dir / "mlflow.db")
    launch = run_parsweep(["-m", "backend=serial,threading", "workers=1", "n=1e4", "repeats=2", "warmup=0", "schedule=sequential"],
                          launch_dir, uri=uri)
    assert launch.returncode == 0, launch.explain()
    for run in runs_with_role(all_runs(uri), "trial"):
        assert "parsweep.sample_rounds" not in run.data.tags and "parsweep.sample_starts" not in run.data.tags


def test_a_sample_measured_again_keeps_its_retry_round() -> None:
    """A repetition measured again replaces the marked one in sample order with its own round."""
    reps = [Repetition(0.1, 0.1, 0.0, [0.1], round=0, started_s=0.5), Repetition(0.2, 0.2, 0.0, [0.2], round=5, started_s=3.25)]
    result = TrialResult()
    result.keep(reps)
    assert result.sample_rounds == [0, 5] and result.sample_starts == [0.5, 3.25]
    unpaired = TrialResult()
    unpaired.keep([Repetition(0.1, 0.1, 0.0, [0.1])])
    assert unpaired.sample_rounds == [] and unpaired.sample_starts == []
