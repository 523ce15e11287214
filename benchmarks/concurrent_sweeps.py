"""Sweeps side by side: nothing mixed, nothing lost (issue 20), on a sqlite store and on a server.

Method: ``--sweeps`` (4) ``parsweep -m`` launches started at once, on one store, each of
``--trials`` (20) tiny serial trials with n values of its own, repeated ``--repeat`` (5) times:
once on one sqlite file, once on an ``mlflow server`` backed by a throwaway PostgreSQL cluster
(tests/_cluster_services.py starts both on 127.0.0.1; ``--no-postgres`` skips it). Every launch
pins the clock to one second (``PARSWEEP_NOW``): all of them ask for the very same output folder,
the worst case of "started in the same second". Then, read back from each launch's output, its
folder and journal, and the store:

- every launch exited 0;
- no two launches share an output folder;
- each sweep's run has exactly its own trials, each once (its n values, FINISHED), and its
  journal holds exactly those trials, all marked logged;
- no run is left RUNNING.

It prints one row per store: launches, exits other than 0, shared folders, trials missing,
duplicated or foreign, and the wall time of a repetition (all launches, start to last exit).
Figures from a busy machine are slower, never wrong: the checks do not depend on timing.

    .venv/bin/python benchmarks/concurrent_sweeps.py               # 4 sweeps x 20 trials x 5, both stores
    .venv/bin/python benchmarks/concurrent_sweeps.py --repeat 1    # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchmarks._common import clean_env, machine_lines, median, parsweep_command, scratch_dir, table

PINNED_NOW = "2026-12-02T18:31:38"


@dataclass
class Tally:
    """What one store's repetitions showed."""

    store: str
    launches: int = 0
    bad_exits: list[str] = field(default_factory=list)
    shared_folders: int = 0
    missing: int = 0
    duplicated: int = 0
    foreign: int = 0
    journal_mismatches: int = 0
    running_left: int = 0
    walls_s: list[float] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return (len(self.bad_exits) + self.shared_folders + self.missing + self.duplicated + self.foreign
                + self.journal_mismatches + self.running_left)


def sweep_sizes(sweep: int, trials: int, repetition: int) -> list[int]:
    """The n values of one launch: its own, so that a trial in the wrong sweep shows."""
    return [1000 + repetition * 100_000 + sweep * 1000 + i for i in range(trials)]


def field_of(stdout: str, label: str) -> str | None:
    line = next((line for line in stdout.splitlines() if line.startswith(label)), None)
    return line[len(label):].strip() if line else None


def one_repetition(uri: str, workdir: Path, sweeps: int, trials: int, repetition: int, tally: Tally) -> None:
    env = clean_env(workdir)
    env.update(MLFLOW_TRACKING_URI=uri, PARSWEEP_NOW=PINNED_NOW, TMPDIR=str(workdir / "tmp"))
    (workdir / "tmp").mkdir(exist_ok=True)
    experiment = f"concurrent-{repetition}"
    launches = []
    began = time.perf_counter()
    for sweep in range(sweeps):
        sizes = sweep_sizes(sweep, trials, repetition)
        arguments = ["-m", "backend=serial", f"n={','.join(map(str, sizes))}", "repeats=1", "warmup=0",
                     "interference.retries=0", f"experiment={experiment}"]
        process = subprocess.Popen([*parsweep_command(), *arguments], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        launches.append((sizes, process))
    outputs = [(sizes, *process.communicate(timeout=900), process.returncode) for sizes, process in launches]
    tally.walls_s.append(time.perf_counter() - began)
    tally.launches += len(outputs)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], max_results=10_000) if found else []
    tally.running_left += sum(run.info.status == "RUNNING" for run in runs)
    folders: list[str] = []
    for sizes, stdout, stderr, code in outputs:
        if code != 0:
            tally.bad_exits.append(f"exit {code}: {(stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        folder, run_id = field_of(stdout, "Its output folder:"), field_of(stdout, "This sweep's run id:")
        if folder is None or run_id is None:
            tally.bad_exits.append("no folder or run id printed")
            continue
        folders.append(folder)
        trials_of = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == run_id]
        seen = [int(run.data.params["n"]) for run in trials_of if run.info.status == "FINISHED"]
        tally.missing += len(set(sizes) - set(seen))
        tally.duplicated += len(seen) - len(set(seen))
        tally.foreign += len(set(seen) - set(sizes))
        records = [json.loads(line) for line in (workdir / folder / "parsweep-journal.jsonl").read_text().splitlines() if line]
        journaled = sorted(int(r["params"]["n"]) for r in records if r.get("kind") == "trial" and r.get("parent_run_id") == run_id)
        logged = {r["key"] for r in records if r.get("kind") == "logged"}
        unlogged = [r for r in records if r.get("kind") == "trial" and r["key"] not in logged]
        if journaled != sorted(sizes) or unlogged or len([r for r in records if r.get("kind") == "sweep"]) != 1:
            tally.journal_mismatches += 1
    tally.shared_folders += len(folders) - len({str((workdir / f).resolve()) for f in folders})


@contextlib.contextmanager
def postgres_server(workdir: Path) -> Iterator[str]:
    from _cluster_services import mlflow_server, postgres_cluster

    with postgres_cluster() as server, mlflow_server(f"{server}/mlflow", workdir) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=int, default=4, help="launches started at once (default 4)")
    parser.add_argument("--trials", type=int, default=20, help="trials per launch (default 20)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per store (default 5)")
    parser.add_argument("--no-postgres", action="store_true", help="only the sqlite store")
    args = parser.parse_args()

    print("\n".join(machine_lines()))
    print(f"method       {args.sweeps} sweeps at once x {args.trials} serial trials (n~1e3, 1 repetition), "
          f"{args.repeat} times per store; every launch asks for the same folder (PARSWEEP_NOW={PINNED_NOW})")
    tallies = []
    with scratch_dir("parsweep-concurrent-") as workdir:
        stores: list[tuple[str, contextlib.AbstractContextManager[str]]] = [
            ("sqlite file", contextlib.nullcontext(f"sqlite:///{workdir / 'sqlite' / 'mlflow.db'}")),
        ]
        if not args.no_postgres:
            stores.append(("mlflow server + PostgreSQL", postgres_server(workdir / "server")))
        for label, store in stores:
            tally = Tally(label)
            place = workdir / ("sqlite" if label.startswith("sqlite") else "server")
            place.mkdir(parents=True, exist_ok=True)
            with store as uri:
                for repetition in range(args.repeat):
                    one_repetition(uri, place, args.sweeps, args.trials, repetition, tally)
                    print(f"  {label}: repetition {repetition + 1}/{args.repeat}: {tally.walls_s[-1]:.1f} s, "
                          f"{tally.problems} problem(s) so far", flush=True)
            tallies.append(tally)
    print()
    print(table(
        ["store", "launches", "exit != 0", "shared folders", "missing", "duplicated", "foreign", "journal off", "RUNNING left",
         "wall / repetition (median)"],
        [[t.store, str(t.launches), str(len(t.bad_exits)), str(t.shared_folders), str(t.missing), str(t.duplicated),
          str(t.foreign), str(t.journal_mismatches), str(t.running_left), f"{median(t.walls_s):.1f} s"] for t in tallies],
    ))
    for tally in tallies:
        for problem in tally.bad_exits[:5]:
            print(f"  {tally.store}: {problem}")
    total = sum(t.problems for t in tallies)
    trials = sum(t.launches for t in tallies) * args.trials
    print(f"\nverdict: {'every trial recorded exactly once, every exit 0, no shared folder' if total == 0 else f'{total} problem(s)'}"
          f" ({trials} trials in {sum(t.launches for t in tallies)} launches)")
    raise SystemExit(1 if total else 0)


if __name__ == "__main__":
    main()
