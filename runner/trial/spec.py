"""What a trial is, as plain validated data, and the one list of parsweep's settings and defaults.

:data:`DEFAULTS` is the single source of truth for every top-level key and its default: the
Hydra schema (``runner.app.schema``) is built from it, ``conf/config.yaml`` does not repeat
it, and :func:`build_spec` falls back on it for a plain dict that lacks a key.

Nothing here imports Hydra or MLflow: the trial process loads this module, under any
CPython >= 3.10. Every mistake a user can make is a :class:`ConfigError` whose message is one
line naming the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from runner.trial.values import (
    ConfigError,
    parse_choice,
    parse_count,
    parse_duration,
    parse_flag,
    parse_fraction,
    parse_name,
    parse_seconds,
)

__all__ = ["ConfigError", "DEFAULTS", "TrialSpec", "Policy", "build_spec", "build_policy", "check_value"]

AUTO = "auto"
CURRENT_PYTHON = "current"
SCHEDULES = ("interleaved", "sequential")
#: The most workers a trial may ask for. The largest machines parsweep targets have a few hundred
#: logical CPUs (2 x 192 cores on a two-socket server); the presets go to twice the usable CPUs.
#: Beyond 1024, a process backend needs more than 1024 interpreters (about 20 MB each: 20 GB and
#: more, and near the default per-user process limit, ulimit -u, of many systems), and a thread
#: backend measures only its own start-up: such a trial cannot answer parsweep's question.
MAX_WORKERS = 1024
# The 95% CI of the median needs 6 repetitions (see runner.trial.stats).
MIN_MAX_REPEATS = 6

#: Every top-level setting and its default. Nested dicts are settings with keys of their own
#: (``interference.retries``). The groups (backend, workload, tracking, sweep) are Hydra's.
DEFAULTS: dict[str, Any] = {
    "workers": 2,  # threads / processes / pool size (serial ignores it)
    "n": 10_000_000,  # range size: 100000000, 1e8 and 100_000_000 all work
    # recorded repetitions, or auto: until the speedups are known within target_speedup_ci (a trial with no
    # baseline: its median within target_rel_ci). Auto by default: on a VM whose CPU speed drifts +-20%
    # a pair of repetitions varies ~13%, so five pairs give +-12-20% and no answer (benchmarks/noisy_vm.py)
    "repeats": "auto",
    "warmup": 1,  # unrecorded repetitions first
    "chunks": None,  # tasks per repetition (null: one per worker)
    "target_rel_ci": 0.02,  # repeats=auto: stop when the median's 95% CI half-width is within 2%...
    "max_repeats": 100,  # ...or after this many repetitions...
    "max_time_s": 30,  # ...or before a repetition that would take the trial's repetitions past this
    "target_speedup_ci": 0.03,  # repeats=auto, interleaved: a contender stops when its paired speedup's 95% CI is within +-3%
    "sweep_budget_s": 300,  # repeats=auto: the most a sweep's rounds may take, shared out among its groups (null: no limit)
    "timeout_s": 600,  # a trial running longer is stopped whole and marked FAILED
    "python": CURRENT_PYTHON,  # the interpreter the trials run under: current, a command on PATH, a path
    "gil": None,  # free-threaded builds: null (as built), 0 or 1 (PYTHON_GIL for the trial)
    "schedule": "interleaved",  # interleaved: a (workload, n)'s trials in shuffled rounds; sequential: one after another
    "seed": None,  # the interleaved order's seed (null: a fresh one, logged)
    # pin each trial to fixed CPUs: serial and 1-worker trials to the same one, pools to a fixed set. On by
    # default: the 2-core VM's two virtual CPUs drift independently (their speeds' correlation 0.01), so
    # a pair measured on two CPUs carries both drifts; pinned A/A speedups land closer to 1.00
    # (benchmarks/affinity.py, benchmarks/noisy_vm.py)
    "affinity": True,
    # a trial's repetitions run in several processes, this many in each (null: one process for all). Two
    # processes running the same code on the same CPU differ by a few percent for their whole life (page
    # placement), which pairing in time cannot cancel: spread over processes, it averages out and the
    # speedup's interval sees it (benchmarks/process_offset.py; pyperf runs 20 processes for this reason)
    "repeats_per_process": 5,
    "interference": {
        "threshold": 0.1,  # a repetition is marked when other processes used this share of the usable CPUs
        "retries": 2,  # rounds of measuring marked repetitions again, once the machine is quiet
        "budget_s": 60,  # the most a launch spends waiting for quiet and measuring again
    },
    "experiment": "parsweep",  # MLflow experiment
    "quiet": False,  # true: print only the final table and errors
    # false: a sweep's report (terminal table, files on its run) comes without its PNG plots, which cost
    # about 0.6 s at the sweep's end (matplotlib's import and three figures: benchmarks/startup.py's 1-trial sweep
    # before and after it stopped drawing them); parsweep-report --out draws them later
    "plots": True,
    "resume": False,  # true: finish the interrupted sweep with this plan; or a sweep's run id
}
GROUPS = ("backend", "workload", "tracking", "sweep")
TOP_LEVEL_KEYS = tuple(DEFAULTS)


def parse_repeats(value: Any) -> int | str:
    """``repeats``: a whole number >= 1, or ``auto`` (repeat until the median is known well enough)."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        return parse_count("repeats", value, 1)
    except ConfigError:
        raise ConfigError(
            "repeats", value, "must be a whole number >= 1, or auto (repeat until the median's 95% CI is within target_rel_ci)"
        ) from None


def parse_workers(value: Any) -> int:
    """``workers``: a whole number from 1 to :data:`MAX_WORKERS`."""
    workers = parse_count("workers", value, 1)
    if workers > MAX_WORKERS:
        raise ConfigError("workers", value, f"must be at most {MAX_WORKERS} (parsweep's limit: more threads or processes than "
                          "that measure only their own start-up, and exceed the memory and process limits of the machines parsweep runs on)")
    return workers


def _count_or_null(key: str, value: Any, null_means: str) -> int | None:
    """A whole number >= 1, or None (``null``: ``null_means``)."""
    if value is None:
        return None
    try:
        return parse_count(key, value, 1)
    except ConfigError:
        raise ConfigError(key, value, f"must be a whole number >= 1, or null for {null_means}") from None


def parse_chunks(value: Any) -> int | None:
    """``chunks``: the number of tasks a repetition is cut into; null means one per worker."""
    return _count_or_null("chunks", value, "one chunk per worker")


def parse_max_repeats(value: Any) -> int:
    try:
        return parse_count("max_repeats", value, MIN_MAX_REPEATS)
    except ConfigError:
        raise ConfigError(
            "max_repeats", value, f"must be a whole number >= {MIN_MAX_REPEATS} (the median's 95% CI needs {MIN_MAX_REPEATS} repetitions)"
        ) from None


def parse_gil(value: Any) -> int | None:
    """``gil``: null (the interpreter as built), 0 or 1 (``PYTHON_GIL`` for a free-threaded build)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if str(value).strip() in ("0", "1"):
        return int(str(value).strip())
    raise ConfigError("gil", value, "must be null (the interpreter as built), 0 (GIL off) or 1 (GIL on); it sets PYTHON_GIL")


def parse_repeats_per_process(value: Any) -> int | None:
    """``repeats_per_process``: recorded repetitions a trial's process runs before a fresh one
    takes over; null: one process for the whole trial."""
    return _count_or_null("repeats_per_process", value, "one process for the whole trial")


def parse_seed(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return parse_count("seed", value, 0)
    except ConfigError:
        raise ConfigError("seed", value, "must be a whole number >= 0, or null for a fresh seed (logged)") from None


def parse_resume(value: Any) -> bool | str:
    """``resume``: true/false, or the run id of the sweep to finish."""
    if isinstance(value, str) and len(value.strip()) == 32 and all(c in "0123456789abcdef" for c in value.strip()):
        return value.strip()
    try:
        return parse_flag("resume", value)
    except ConfigError:
        raise ConfigError("resume", value, "must be true, false, or the run id of the sweep to finish") from None


def _interference_value(key: str, value: Any) -> Any:
    if key == "threshold":
        return parse_fraction("interference.threshold", value)
    if key == "retries":
        return parse_count("interference.retries", value, 0)
    if key == "budget_s":
        return parse_duration("interference.budget_s", value)
    raise ConfigError(f"interference.{key}", value, f"unknown key; interference.* keys are: {', '.join(DEFAULTS['interference'])}")


def check_value(key: str, value: Any) -> None:
    """Check one top-level value (``key`` may be ``interference.retries``) as given on the command line."""
    head, _, rest = key.partition(".")
    if head == "interference" and rest:
        _interference_value(rest, value)
        return
    checks = {
        "workers": parse_workers,
        "n": lambda v: parse_count("n", v, 1),
        "repeats": parse_repeats,
        "warmup": lambda v: parse_count("warmup", v, 0),
        "chunks": parse_chunks,
        "target_rel_ci": lambda v: parse_fraction("target_rel_ci", v),
        "max_repeats": parse_max_repeats,
        "max_time_s": lambda v: parse_seconds("max_time_s", v),
        "target_speedup_ci": lambda v: parse_fraction("target_speedup_ci", v),
        "sweep_budget_s": lambda v: parse_seconds("sweep_budget_s", v),
        "timeout_s": lambda v: parse_seconds("timeout_s", v),
        "python": lambda v: parse_name("python", v),
        "gil": parse_gil,
        "schedule": lambda v: parse_choice("schedule", v, SCHEDULES),
        "seed": parse_seed,
        "affinity": lambda v: parse_flag("affinity", v),
        "repeats_per_process": parse_repeats_per_process,
        "experiment": lambda v: parse_name("experiment", v),
        "quiet": lambda v: parse_flag("quiet", v),
        "plots": lambda v: parse_flag("plots", v),
        "resume": parse_resume,
    }
    check = checks.get(key)
    if check is not None:
        check(value)


LOCATION_OPTIONS = ("allow", "pythonpath")  # workload options that are not part of a trial's identity


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial needs, as plain picklable data (no Hydra, no MLflow).

    ``repeats`` is a count, or ``"auto"``: then repetitions go on until the median's 95% CI
    half-width is within ``target_rel_ci`` of it, ``max_repeats`` have run, or the trial's
    recorded repetitions have taken ``max_time_s``. ``chunks`` (None: one per worker) is how
    many tasks a repetition is cut into. ``python`` is the interpreter as the user named it
    (``current``, ``python3.13t``, a path); ``gil`` the ``PYTHON_GIL`` it runs with (None: as built).
    """

    backend: str
    backend_options: dict[str, Any]
    workload: str
    workload_options: dict[str, Any]
    workers: int
    n: int
    repeats: int | str
    warmup: int
    timeout_s: float | None
    experiment: str
    chunks: int | None = None
    target_rel_ci: float = DEFAULTS["target_rel_ci"]
    max_repeats: int = DEFAULTS["max_repeats"]
    max_time_s: float | None = DEFAULTS["max_time_s"]
    python: str = CURRENT_PYTHON
    gil: int | None = None
    target_speedup_ci: float = DEFAULTS["target_speedup_ci"]

    @property
    def start_method(self) -> str:
        return str(self.backend_options.get("start_method") or "none")

    @property
    def auto_repeats(self) -> bool:
        return self.repeats == AUTO

    @property
    def repeats_planned(self) -> int:
        """Recorded repetitions planned: ``repeats``, or ``max_repeats`` with auto (an upper bound)."""
        return self.max_repeats if self.auto_repeats else int(self.repeats)

    @property
    def chunk_count(self) -> int:
        """How many chunks one repetition runs: ``chunks``, else one per worker."""
        return self.chunks if self.chunks is not None else self.workers

    @property
    def workload_identity(self) -> tuple[str, str]:
        """What the chunks compute: the workload and its identifying options (custom: the function)."""
        options = {k: v for k, v in self.workload_options.items() if k not in LOCATION_OPTIONS}
        return self.workload, json.dumps(options, sort_keys=True, default=str)

    def config_hash(self) -> str:
        """Identity of the measurement: same hash, same experiment (tracking and limits excluded)."""
        identity: dict[str, Any] = {
            "backend": self.backend,
            "backend_options": self.backend_options,
            "workload": self.workload,
            # Where modules are looked for and who allowed them do not change the measurement.
            "workload_options": {k: v for k, v in self.workload_options.items() if k not in LOCATION_OPTIONS},
            "workers": self.workers,
            "n": self.n,
            "repeats": self.repeats,
            "warmup": self.warmup,
        }
        # Keys added later join the identity only when set, so older configs keep their hash.
        if self.chunks is not None:
            identity["chunks"] = self.chunks
        if self.auto_repeats:
            identity.update(target_rel_ci=self.target_rel_ci, max_repeats=self.max_repeats, max_time_s=self.max_time_s)
            if self.target_speedup_ci != DEFAULTS["target_speedup_ci"]:  # added later: the default keeps older hashes
                identity["target_speedup_ci"] = self.target_speedup_ci
        if self.python != CURRENT_PYTHON:
            identity["python"] = self.python
        if self.gil is not None:
            identity["gil"] = self.gil
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Policy:
    """How trials are ordered and cleaned of interference (see ``runner.execute.schedule``).

    ``schedule``: ``interleaved`` runs the trials of one (workload, n) in rounds, one
    repetition of each per round, in an order shuffled with ``seed``; ``sequential`` runs each
    trial whole, one after another. ``threshold``: the share of the usable CPUs other processes
    may use during a repetition before it is marked as interfered. ``retries``: rounds of
    measuring marked repetitions again once the machine is quiet. ``budget_s``: the most a
    launch spends on waiting for quiet and measuring again. ``affinity``: pin each trial's
    process (and the workers it starts) to fixed CPUs, so that the trials compared run on the
    same ones (see :func:`runner.execute.schedule.trial_cpus`). ``repeats_per_process``: a
    trial's process runs this many recorded repetitions, then a fresh one (started and warmed
    up as the first was) takes over; None: one process for the whole trial.
    """

    schedule: str = DEFAULTS["schedule"]
    seed: int | None = None
    threshold: float = DEFAULTS["interference"]["threshold"]
    retries: int = DEFAULTS["interference"]["retries"]
    budget_s: float = DEFAULTS["interference"]["budget_s"]
    affinity: bool = DEFAULTS["affinity"]
    sweep_budget_s: float | None = DEFAULTS["sweep_budget_s"]
    repeats_per_process: int | None = DEFAULTS["repeats_per_process"]

    def processes(self, repeats: int, fresh_processes: bool = True) -> int:
        """How many processes a trial of ``repeats`` recorded repetitions runs in (each started and
        warmed up): one per ``repeats_per_process``, or one for a backend that keeps its process
        (``Backend.fresh_processes``) or when ``repeats_per_process`` is None."""
        every = self.repeats_per_process
        if every is None or not fresh_processes:
            return 1
        return max(1, math.ceil(repeats / every))


def _get(cfg: Mapping[str, Any], key: str) -> Any:
    value = cfg.get(key, DEFAULTS[key]) if hasattr(cfg, "get") else DEFAULTS[key]
    return value


def build_spec(cfg: Mapping[str, Any]) -> TrialSpec:
    """Validate a composed config (a DictConfig or plain dict) into a :class:`TrialSpec`.

    Raises :class:`ConfigError` for the first bad value found. Keys the config lacks take
    their :data:`DEFAULTS`.
    """
    from runner.trial import backends, workloads

    backend_cfg = dict(_section(cfg, "backend"))
    workload_cfg = dict(_section(cfg, "workload"))
    backend_name = backend_cfg.pop("name", None)
    workload_name = workload_cfg.pop("name", None)
    backend_cls = backends.get(backend_name)
    workload_cls = workloads.get(workload_name)
    backend_options = backend_cls.check_options(backend_cfg)
    workload_options = workload_cls.check_options(workload_cfg)

    if backend_name == "interpreters" and not workload_cls.subinterpreters:
        raise ConfigError(
            "workload", workload_name, "cannot run under backend=interpreters (its extension modules do not load in "
            "subinterpreters); choose backend=threading, thread_pool or process_pool, or another workload"
        )
    workers = parse_workers(_get(cfg, "workers"))
    chunks = parse_chunks(_get(cfg, "chunks"))
    if not backend_cls.uses_workers:
        workers, chunks = 1, None
    repeats = parse_repeats(_get(cfg, "repeats"))
    timeout_s = parse_seconds("timeout_s", _get(cfg, "timeout_s"))
    max_time_s = parse_seconds("max_time_s", _get(cfg, "max_time_s"))
    if repeats == AUTO and timeout_s is not None and max_time_s is not None and max_time_s >= timeout_s:
        raise ConfigError(
            "max_time_s",
            _get(cfg, "max_time_s"),
            f"with repeats=auto it must be below timeout_s={timeout_s:g}, or the trial is stopped whole",
        )
    return TrialSpec(
        backend=str(backend_name),
        backend_options=backend_options,
        workload=str(workload_name),
        workload_options=workload_options,
        workers=workers,
        n=parse_count("n", _get(cfg, "n"), 1),
        repeats=repeats,
        warmup=parse_count("warmup", _get(cfg, "warmup"), 0),
        timeout_s=timeout_s,
        experiment=parse_name("experiment", _get(cfg, "experiment")),
        chunks=chunks,
        target_rel_ci=parse_fraction("target_rel_ci", _get(cfg, "target_rel_ci")),
        max_repeats=parse_max_repeats(_get(cfg, "max_repeats")),
        max_time_s=max_time_s,
        python=parse_name("python", _get(cfg, "python")),
        gil=parse_gil(_get(cfg, "gil")),
        target_speedup_ci=parse_fraction("target_speedup_ci", _get(cfg, "target_speedup_ci")),
    )


def build_policy(cfg: Mapping[str, Any]) -> Policy:
    """The scheduling and interference settings of a composed config; :class:`ConfigError` when bad."""
    interference = dict(DEFAULTS["interference"])
    given = cfg.get("interference") if hasattr(cfg, "get") else None
    if given is not None:
        given = plain(given)
        if not isinstance(given, Mapping):
            raise ConfigError("interference", given, "must hold threshold, retries and budget_s")
        interference.update(given)
    checked = {key: _interference_value(key, value) for key, value in interference.items()}
    return Policy(
        schedule=parse_choice("schedule", _get(cfg, "schedule"), SCHEDULES),
        seed=parse_seed(_get(cfg, "seed")),
        threshold=checked["threshold"],
        retries=checked["retries"],
        budget_s=checked["budget_s"],
        affinity=parse_flag("affinity", _get(cfg, "affinity")),
        sweep_budget_s=parse_seconds("sweep_budget_s", _get(cfg, "sweep_budget_s")),
        repeats_per_process=parse_repeats_per_process(_get(cfg, "repeats_per_process")),
    )


def plain(value: Any) -> Any:
    """A config value as plain dicts, lists and scalars (a Hydra DictConfig is a Mapping, its
    lists Sequences: read through them, interpolations resolve), so that a TrialSpec pickles
    for a trial process that has no OmegaConf."""
    if isinstance(value, Mapping):
        return {str(key): plain(value[key]) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(item) for item in value]
    return value


def _section(cfg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = plain(cfg.get(key))
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, f"must be chosen from the {key}/ config group")
    return value
