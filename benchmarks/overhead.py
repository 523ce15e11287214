"""What parsweep adds per trial: orchestration and tracking, the experiment itself taken out.

Goal (issue 2, kept by issue 13): at most 50 ms per trial on the sqlite store, with Hydra's
public API (``run_job`` for every job).

Method: two sweeps of the same shape, launched alternately (small, big, big, small, ...),
each with a fresh sqlite store, tiny trials (n=1000, one repetition, no warm-up):

- small: serial, threading, multiprocessing, thread_pool, process_pool at 1 worker (5 trials);
- big:   the same backends at 1..7 workers (serial once): 29 trials.

Both have one (workload, n) group, the same five config-group choices (one Hydra compose
each) and the same plot panels at the end: what differs is only the number of trials. So

    per trial = ((big wall - big work) - (small wall - small work)) / (29 - 5)

where *work* is the experiment the trials measured, read back from the store: every recorded
repetition's wall time, the pools' start-up (``startup_s``) and the backends' close
(``close_s``). What is left is parsweep's per-trial cost: composing and validating the job,
the trial's process (forked from the fork server), the scheduler's turns and CPU windows,
Hydra's ``run_job`` (output dir, ``.hydra`` files, logging, callbacks), the journal and the
trial's MLflow run. ``interference.retries=0``: a repetition measured again is work, not
overhead, and would blur the figure. Run on a quiet machine; it prints the load average.

    .venv/bin/python benchmarks/overhead.py              # 3 pairs, interleaved (the default)
    .venv/bin/python benchmarks/overhead.py --pairs 5 --schedule sequential
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import load_average, machine_lines, median, run_parsweep, scratch_dir, store_overrides, table, trial_runs, turn_order, verdict

GOAL_S = 0.050
BACKENDS = "serial,threading,multiprocessing,thread_pool,process_pool"
COMMON = ["n=1000", "repeats=1", "warmup=0", "interference.retries=0", "quiet=true"]


def work_s(uri: str) -> tuple[int, float]:
    """Trials in the store, and the seconds of experiment they measured."""
    from mlflow.tracking import MlflowClient

    runs = trial_runs(uri)
    total = 0.0
    for run in runs:
        samples = run.data.tags.get("parsweep.rep_wall_times_s")
        if samples is not None:
            total += sum(float(v) for v in samples.split(",") if v)
        else:  # an older parsweep kept them as a metric's steps only
            total += sum(m.value for m in MlflowClient(tracking_uri=uri).get_metric_history(run.info.run_id, "rep_wall_time_s"))
        metrics = run.data.metrics
        if run.data.params.get("backend") in ("thread_pool", "process_pool"):
            total += metrics.get("startup_s", 0.0)
        total += metrics.get("close_s", 0.0)
    return len(runs), total


class Side:
    """What is measured: this checkout, or ``--baseline DIR`` (another checkout, e.g. an older commit)."""

    def __init__(self, name: str, source: Path | None, schedule: str) -> None:
        self.name, self.source = name, source
        # An older parsweep has neither key; it measured trials one after the other and had no clean-up.
        self.common = COMMON + [f"schedule={schedule}"] if source is None else [o for o in COMMON if not o.startswith("interference.")]
        self.rows: list[list[str]] = []
        self.per_trial: list[float] = []

    def launch(self, workdir: Path, label: str, workers: str) -> tuple[int, float, float]:
        """One sweep: its trials, wall time and work."""
        overrides = store_overrides(workdir, label)
        wall = run_parsweep(["-m", f"backend={BACKENDS}", f"workers={workers}", *self.common, *overrides], workdir, source=self.source)
        trials, work = work_s(overrides[0].split("=", 1)[1])
        return trials, wall, work

    def pair(self, workdir: Path, pair: int) -> None:
        order = turn_order(("small", "big"), pair)
        got = {}
        for which in order:
            workers = "1" if which == "small" else "1,2,3,4,5,6,7"
            got[which] = self.launch(workdir, f"{self.name}-{which}{pair}", workers)
        (small_n, small_wall, small_work), (big_n, big_wall, big_work) = got["small"], got["big"]
        cost = ((big_wall - big_work) - (small_wall - small_work)) / (big_n - small_n)
        self.per_trial.append(cost)
        self.rows.append([f"pair {pair + 1}", f"{small_n}", f"{small_wall:.3f} s", f"{small_work * 1e3:.1f} ms",
                          f"{big_n}", f"{big_wall:.3f} s", f"{big_work * 1e3:.1f} ms", f"{cost * 1e3:.1f} ms"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="small/big launch pairs (medians used), default 3")
    parser.add_argument("--schedule", choices=("interleaved", "sequential"), default="interleaved")
    parser.add_argument("--baseline", type=Path, help="another checkout of parsweep measured alongside (before/after), e.g. a git worktree of an older commit")
    args = parser.parse_args()
    print("parsweep overhead benchmark: what parsweep adds per trial, the experiment taken out")
    print("\n".join(machine_lines()))
    print(f"schedule     {args.schedule}; sweeps of {BACKENDS} x workers 1 (small) and 1..7 (big), {' '.join(COMMON)}")
    sides = [Side("this checkout", None, args.schedule)]
    if args.baseline is not None:
        sides.append(Side(f"baseline {args.baseline}", args.baseline.resolve(), args.schedule))
        print(f"baseline     {args.baseline} (python -m runner from there, launched alternately with this checkout's)")
    with scratch_dir("parsweep-overhead-") as workdir:
        for side in sides:  # caches, fork server code
            run_parsweep(["backend=serial", *side.common, *store_overrides(workdir, f"warm-{len(side.rows)}{side.source}".replace("/", "_"))], workdir, source=side.source)
        for pair in range(args.pairs):
            for side in turn_order(sides, pair):
                side.pair(workdir, pair)
    for side in sides:
        print(f"\n{side.name}")
        print(table(["", "small trials", "wall", "work", "big trials", "wall", "work", "per trial"], side.rows))
    result = median(sides[0].per_trial)
    print(f"\nper trial (median of {len(sides[0].per_trial)} pairs): {result * 1e3:.1f} ms  goal <= {GOAL_S * 1e3:.0f} ms: {verdict(result <= GOAL_S)}")
    if len(sides) > 1:
        before = median(sides[1].per_trial)
        print(f"baseline per trial (median): {before * 1e3:.1f} ms; this checkout / baseline: {result / before:.2f}")
    print(f"load average at the end {load_average()}")
    return 0 if result <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
