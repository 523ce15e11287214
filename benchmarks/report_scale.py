"""How `parsweep-report` scales: 10,000 trials, report vs ``mlflow.search_runs`` alone.

Builds (once, then reuses) a sqlite MLflow store holding one sweep of 10,000 trials logged
exactly the way the runner logs them (a parent run, one child run per trial with the spec's
params, metrics, ``rep_wall_time_s`` steps, ``host.*`` / ``python.*`` tags and parsweep's own:
the repetitions in ``parsweep.rep_wall_times_s``, ``parsweep.trust``, ``parsweep.python``;
1% FAILED), then times, side by side and alternating, in fresh processes:

* ``mlflow.search_runs`` alone: the experiment's runs as MLflow's own DataFrame;
* ``parsweep-report``: load the sweep (runs plus repetition samples) and build and render the
  terminal table (speedups, CIs, Karp-Flatt, Amdahl fits, crossovers).

Each process reports the time of its operation (after ``import mlflow``) and the whole
process's wall time is measured too. Goal: report <= 1.5x search_runs.

    .venv/bin/python benchmarks/report_scale.py            # build if needed, then time
    .venv/bin/python benchmarks/report_scale.py --rebuild  # start from an empty store
    .venv/bin/python benchmarks/report_scale.py --legacy   # runs logged before those tags: the
                                                           # samples come from each run's metric history
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STORE = Path(tempfile.gettempdir()) / "parsweep-report-scale"
EXPERIMENT = "parsweep"
STORE_FORMAT = 2  # 2: trials carry the samples, trust and interpreter-label tags (1: they did not)

HOSTS = ["bench-a", "bench-b", "bench-c", "bench-d", "bench-e"]
BACKENDS = ["threading", "multiprocessing", "process_pool"]
WORKERS = list(range(1, 34))  # 3 x 33 + serial = 100 combinations per (host, n)
NS = [int(10 ** (3 + 5 * i / 19)) for i in range(20)]  # 1e3 .. 1e8, 20 sizes


def _fast_sqlite() -> None:
    """Skip fsync while building: the store is a scratch file (the data is unchanged)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragma(connection, _record):  # type: ignore[no-untyped-def]
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


def _model_wall_s(host_index: int, backend: str, workers: int, n: int) -> float:
    per_item = 23.5e-9 * (1 + 0.15 * host_index)
    work = n * per_item
    if backend == "serial":
        return work + 2e-5
    serial_fraction = {"threading": 1.0, "multiprocessing": 0.04, "process_pool": 0.03}[backend]
    overhead = {"threading": 1e-4, "multiprocessing": 3e-3, "process_pool": 5e-4}[backend] * workers
    usable = 4 + host_index
    effective = min(workers, usable)
    return work * (serial_fraction + (1 - serial_fraction) / effective) + overhead


def build_store(store: Path, trials: int, legacy: bool = False) -> None:
    """A fresh store at ``store`` holding one sweep of ``trials`` trials (``legacy``: without the
    tags runs gained with the samples tag: their samples are only in the metric history)."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    sys.path.insert(0, str(REPO))
    from runner.tracking.names import PYTHON_LABEL_TAG, SAMPLES_TAG, TRUST_TAG

    _fast_sqlite()
    store.mkdir(parents=True, exist_ok=True)
    for name in ("mlflow.db", "ready.json"):
        (store / name).unlink(missing_ok=True)
    uri = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(EXPERIMENT, artifact_location=(store / "mlruns").as_uri())
    parent = client.create_run(
        experiment_id, run_name="sweep · report_scale", tags={"parsweep.role": "sweep", "parsweep.trials_total": str(trials)}
    ).info.run_id
    rng = random.Random(12345)
    combos = [
        (h, b, w, n)
        for h in range(len(HOSTS))
        for n in NS
        for b, w in [("serial", 1)] + [(b, w) for b in BACKENDS for w in WORKERS]
    ][:trials]
    started = time.perf_counter()
    for index, (h, backend, workers, n) in enumerate(combos, 1):
        host_tags = {
            "host.name": HOSTS[h],
            "host.cpu_model": f"Bench CPU model {h}",
            "host.cpu_logical": str(4 + h),
            "host.cpu_physical": str(4 + h),
            "host.cpu_usable": str(4 + h),
            "host.cpu_affinity": str(4 + h),
            "host.memory_total_bytes": "17179869184",
            "host.os": "Linux",
            "host.kernel": "6.1.0",
            "host.machine": "x86_64",
            "host.distribution": "Debian GNU/Linux 12 (bookworm)",
            "host.load_1m": "0.1",
            "host.load_5m": "0.1",
            "host.load_15m": "0.1",
            "python.version": "3.11.7",
            "python.implementation": "CPython",
            "python.gil_enabled": "true",
            **({} if legacy else {"python.free_threaded": "false", PYTHON_LABEL_TAG: "3.11.7"}),
            "python.build": "main May  9 2026 07:35:25",
            "python.compiler": "GCC 12.2.0",
            "python.executable": "/usr/bin/python3",
            "git.commit": "0" * 40,
            "git.dirty": "false",
        }
        name = f"{backend} · {workers} workers · n={n}"
        tags = {
            "parsweep.role": "trial",
            "parsweep.config_hash": f"{index:016x}",
            "parsweep.backend": backend,
            "mlflow.parentRunId": parent,
            **host_tags,
        }
        run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
        failed = rng.random() < 0.01
        base = _model_wall_s(h, backend, workers, n)
        reps = [base * (1 + abs(rng.gauss(0, 0.02))) for _ in range(5)]
        now = int(time.time() * 1000)
        metrics: list[Metric] = []
        batch_tags: list[RunTag] = []
        if failed:
            batch_tags.append(RunTag("parsweep.error", "timeout: the trial ran longer than timeout_s=600"))
            metrics.append(Metric("correct", 0.0, now, 0))
        else:
            wall = statistics.median(reps)
            values = {
                "correct": 1.0,
                "startup_s": 1e-3,
                "wall_time_s": wall,
                "wall_time_min_s": min(reps),
                "wall_time_mean_s": statistics.mean(reps),
                "wall_time_std_s": statistics.stdev(reps),
                "cpu_time_s": wall * min(workers, 4 + h),
                "cpu_utilization": min(workers, 4 + h),
                "dispatch_s": 1e-4,
                "repeats_done": 5.0,
                "trial_duration_s": sum(reps) * 1.2,
            }
            metrics += [Metric(k, float(v), now, 0) for k, v in values.items()]
            metrics += [Metric("rep_wall_time_s", v, now, step) for step, v in enumerate(reps)]
            if not legacy:
                batch_tags.append(RunTag(SAMPLES_TAG, ",".join(repr(v) for v in reps)))
                batch_tags.append(RunTag(TRUST_TAG, "oversubscribed" if workers > 4 + h and backend != "serial" else "ok"))
        params = {
            "backend": backend,
            "workers": workers,
            "n": n,
            "workload": "sum_range",
            "repeats": 5,
            "warmup": 1,
            "start_method": "fork" if backend == "multiprocessing" else "none",
        }
        if not legacy:
            params.update(python="current", gil="default", chunks=1 if backend == "serial" else workers)
        client.log_batch(run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in params.items()], tags=batch_tags)
        client.set_terminated(run_id, "FAILED" if failed else "FINISHED")
        if index % 1000 == 0:
            rate = index / (time.perf_counter() - started)
            print(f"  {index:>6}/{len(combos)} trials written ({rate:.0f}/s)", flush=True)
    client.set_terminated(parent, "FINISHED")
    ready = {"trials": len(combos), "sweep_run_id": parent, "format": 1 if legacy else STORE_FORMAT}
    (store / "ready.json").write_text(json.dumps(ready))


SEARCH_RUNS = """
import time, sys
t0 = time.perf_counter()
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
t1 = time.perf_counter()
frame = mlflow.search_runs(experiment_names=[sys.argv[2]])
t2 = time.perf_counter()
print(f"{t2 - t1:.4f} {len(frame)}")
"""

REPORT = """
import contextlib, io, time, sys
t0 = time.perf_counter()
import mlflow
from analysis.__main__ import main
t1 = time.perf_counter()
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["--tracking-uri", sys.argv[1], "--experiment", sys.argv[2], "--format", "table"])
t2 = time.perf_counter()
print(f"{t2 - t1:.4f} {out.getvalue().count(chr(10))} {code}")
"""


def _timed(code: str, uri: str) -> tuple[float, float, str]:
    """(operation seconds, whole-process seconds, rest of the output) of one fresh process."""
    env = dict(os.environ, COLUMNS="200")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, uri, EXPERIMENT], capture_output=True, text=True, env=env, cwd=REPO)
    total = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmark process failed:\n{done.stderr}")
    op, *rest = done.stdout.split()
    return float(op), total, " ".join(rest)


def _cpu_model() -> str:
    from runner.host.facts import cpu_model

    return cpu_model()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"store directory (default {DEFAULT_STORE})")
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the store even if it is there")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each (alternating)")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--legacy", action="store_true",
                        help="trials logged as before the samples tag (in <store>-legacy): the report reads each run's metric history")
    args = parser.parse_args(argv)
    if args.legacy:
        args.store = args.store.with_name(args.store.name + "-legacy")

    ready = args.store / "ready.json"
    cached = json.loads(ready.read_text()) if ready.exists() else None
    wanted_format = 1 if args.legacy else STORE_FORMAT
    if args.rebuild or not cached or cached.get("trials") != args.trials or cached.get("format", 1) != wanted_format:
        print(f"building a store of {args.trials} trials in {args.store} (a few minutes, once)...", flush=True)
        started = time.perf_counter()
        build_store(args.store, args.trials, legacy=args.legacy)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    else:
        print(f"reusing the store in {args.store} ({cached['trials']} trials; --rebuild to start over)")
    if args.build_only:
        return 0
    uri = f"sqlite:///{args.store / 'mlflow.db'}"

    search: list[tuple[float, float]] = []
    report: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        op, total, rest = _timed(SEARCH_RUNS, uri)
        search.append((op, total))
        rows = rest
        op, total, rest = _timed(REPORT, uri)
        report.append((op, total))
        lines = rest

    def median(values: list[float]) -> float:
        return statistics.median(values)

    s_op, s_total = median([s[0] for s in search]), median([s[1] for s in search])
    r_op, r_total = median([r[0] for r in report]), median([r[1] for r in report])
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print()
    kind = "legacy runs (samples from each run's metric history)" if args.legacy else "samples in the runs' tags"
    print(f"report_scale: {args.trials} trials, one sweep, {len(HOSTS)} hosts, sqlite store, {kind}, median of {args.rounds} rounds")
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores, load average {load[0]:.2f} at the end, Python {platform.python_version()}")
    print(f"search_runs returned {rows.split()[0]} runs; the report printed {lines.split()[0]} lines (exit {lines.split()[1]})")
    print()
    print(f"{'':34}{'operation':>12}{'whole process':>16}")
    print(f"{'mlflow.search_runs alone':34}{s_op:>10.2f} s{s_total:>14.2f} s")
    print(f"{'parsweep-report (load + table)':34}{r_op:>10.2f} s{r_total:>14.2f} s")
    print(f"{'ratio report / search_runs':34}{r_op / s_op:>11.2f}x{r_total / s_total:>15.2f}x   (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
