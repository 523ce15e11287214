"""Helpers shared by the benchmark scripts: the machine, the `parsweep` command, the store.

Nothing here imports parsweep's own code: the benchmarks drive parsweep the way a user
does, through its console script, and read what it logged through MLflow's public client.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    from runner.host.facts import cpu_model as model

    return model()


def usable_cores() -> int:
    from runner.host.facts import usable_cpu_count

    return usable_cpu_count()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def machine_lines() -> list[str]:
    """The machine and the moment, as labelled lines for the top of a report."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"date         {now}",
        f"machine      {cpu_model()}, {os.cpu_count()} logical cores ({usable_cores()} usable)",
        f"python       {platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        f"os           {platform.system()} {platform.release()}",
        f"load average {load_average()}  (1, 5, 15 min)",
    ]


def parse_n(text: str) -> int:
    """``--n``: a range size as parsweep takes it (1e8 and 100_000_000 work)."""
    import argparse

    value = float(text.replace("_", ""))
    if not value.is_integer() or value < 2:
        raise argparse.ArgumentTypeError(f"--n={text}: must be a whole number >= 2 (1e8 and 100_000_000 work)")
    return int(value)


def parsweep_command() -> list[str]:
    """The real console script of the interpreter running this benchmark."""
    beside = Path(sys.executable).parent / "parsweep"  # not resolved: a venv's python is a symlink
    if beside.exists():
        return [str(beside)]
    found = shutil.which("parsweep")
    if found:
        return [found]
    raise SystemExit("parsweep: command not found; install the project (make run) or activate its venv")


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory that is removed whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def clean_env(workdir: Path | None = None) -> dict[str, str]:
    """The environment for parsweep: no stray MLflow run or store from the caller's shell.

    With ``workdir``, parsweep's host-wide trial lock is a private file in it: the benchmark
    still pays for taking the lock, but never waits for other people's sweeps on the host
    (their load is noise like any other; waiting for their trials would count as overhead).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONUNBUFFERED"] = "1"
    if workdir is not None:
        env["PARSWEEP_LOCK_FILE"] = str(workdir / "host.lock")
    return env


def run_parsweep(
    arguments: Sequence[str], workdir: Path, quiet: bool = True, source: Path | None = None, env: dict[str, str] | None = None
) -> float:
    """Run ``parsweep ARGUMENTS`` from ``workdir``; return its wall time in seconds.

    Hydra's output dirs and the tracking store are the caller's business (pass them as
    overrides pointing into ``workdir``). A non-zero exit stops the benchmark. ``source``:
    another checkout of parsweep (an older commit, say), run as ``python -m runner`` with this
    interpreter and that checkout first on ``PYTHONPATH`` (its plugin shadows this one's).
    ``env``: variables added to its environment.
    """
    env = {**clean_env(workdir), **(env or {})}
    if source is None:
        command = [*parsweep_command(), *arguments]
    else:
        command = [sys.executable, "-m", "runner", *arguments]
        env["PYTHONPATH"] = str(source)
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"benchmark: `{' '.join(command)}` exited with {done.returncode}")
    if not quiet:
        sys.stdout.write(done.stdout)
    return elapsed


def store_overrides(workdir: Path, label: str, store: str | None = None) -> list[str]:
    """Overrides that keep a launch's store (``store``.db, else ``label``.db) and Hydra
    output inside ``workdir``."""
    return [
        f"tracking.uri=sqlite:///{workdir / ((store or label) + '.db')}",
        f"hydra.run.dir={workdir / 'outputs' / label}",
        f"hydra.sweep.dir={workdir / 'multirun' / label}",
    ]


def trial_runs(uri: str, experiment: str = "parsweep") -> list[Any]:
    """Every trial run of ``experiment`` in the store at ``uri``, oldest first."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return list(
        client.search_runs(
            [found.experiment_id],
            filter_string="tags.`parsweep.role` = 'trial'",
            max_results=10_000,
            order_by=["attributes.start_time ASC"],
        )
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> float:
    """Standard deviation relative to the median (0 with one value)."""
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / statistics.median(values)


@dataclass(frozen=True)
class Paired:
    """Ratios of walls measured in the same rounds: their median and its bootstrap 95% interval."""

    ratios: list[float]
    median: float
    low: float
    high: float


def paired_ratios(reference: Sequence[float], other: Sequence[float], resamples: int = 2000) -> Paired:
    """``other[i] / reference[i]`` round by round (pairs close in time cancel the VM's drift),
    their median, and a percentile bootstrap 95% interval of that median (fixed seed: reproducible)."""
    import random

    ratios = [o / r for r, o in zip(reference, other)]
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples))
    return Paired(ratios, statistics.median(ratios), medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1])


def turn_order(sides: Sequence[T], index: int) -> list[T]:
    """``sides`` in order on an even ``index``, reversed on an odd one (A B, B A, A B, ...):
    alternated, neither side always goes first, and a drift over the run hits both alike."""
    return list(sides) if index % 2 == 0 else list(reversed(sides))


def in_turns(calls: Sequence[Callable[[], T]], index: int) -> list[T]:
    """Each of ``calls`` called once, in :func:`turn_order`; the results in ``calls``' order."""
    results = {position: call() for position, call in turn_order(list(enumerate(calls)), index)}
    return [results[position] for position in range(len(calls))]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain fixed-width table: left-aligned first column, right-aligned others."""
    widths = [max([len(str(h)), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(headers)]  # no rows: the headers

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"
