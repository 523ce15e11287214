"""What a trial is, as plain validated data, and the checks that get it there.

Nothing here imports Hydra or MLflow: the trial process loads this module. Every mistake a
user can make is reported as a :class:`ConfigError` whose message is one line naming the
key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping

class ConfigError(ValueError):
    """A user-facing configuration mistake; ``str()`` is one line naming the key."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={_show(value)}: {allowed}")


def _show(value: Any) -> str:
    if value is None:
        return "null"
    return str(value)


TOP_LEVEL_KEYS = (
    "workers",
    "n",
    "repeats",
    "warmup",
    "timeout_s",
    "experiment",
    "quiet",
    "chunks",
    "target_rel_ci",
    "max_repeats",
    "max_time_s",
    "resume",
)

AUTO = "auto"
# Defaults of the keys that came with repeats=auto and chunks (also in conf/config.yaml), used
# when a plain config dict does not carry them.
DEFAULT_TARGET_REL_CI = 0.02
DEFAULT_MAX_REPEATS = 50
DEFAULT_MAX_TIME_S = 30.0
# The 95% CI of the median needs 6 repetitions (see runner.trial.stats).
MIN_MAX_REPEATS = 6
GROUPS = ("backend", "workload", "tracking", "sweep")

_UNDERSCORE_INT = re.compile(r"^[+-]?\d+(_\d+)*$")


def parse_count(key: str, value: Any, minimum: int) -> int:
    """An integral count: ``100000000``, ``1e8`` and ``100_000_000`` are all 10**8."""
    allowed = f"must be a whole number >= {minimum}"
    if key == "n":
        allowed += " (100000000, 1e8 and 100_000_000 all work)"
    if isinstance(value, bool) or value is None:
        raise ConfigError(key, value, allowed)
    number: Any = value
    if isinstance(value, str):
        text = value.strip()
        if _UNDERSCORE_INT.match(text):
            number = int(text.replace("_", ""))
        else:
            try:
                number = float(text.replace("_", ""))
            except ValueError:
                raise ConfigError(key, value, allowed) from None
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            raise ConfigError(key, value, allowed)
        number = int(number)
    if not isinstance(number, int) or number < minimum:
        raise ConfigError(key, value, allowed)
    return number


def parse_seconds(key: str, value: Any) -> float | None:
    """A positive duration in seconds, or null for none."""
    if value is None:
        return None
    allowed = "must be a number of seconds > 0, or null for no limit"
    if isinstance(value, bool):
        raise ConfigError(key, value, allowed)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, allowed) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(key, value, allowed)
    return seconds


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


def parse_chunks(value: Any) -> int | None:
    """``chunks``: the number of tasks a repetition is cut into; null means one per worker."""
    if value is None:
        return None
    try:
        return parse_count("chunks", value, 1)
    except ConfigError:
        raise ConfigError("chunks", value, "must be a whole number >= 1, or null for one chunk per worker") from None


def parse_fraction(key: str, value: Any) -> float:
    """A fraction strictly between 0 and 1 (``0.02`` is 2%)."""
    allowed = "must be a fraction between 0 and 1 (0.02 means 2%)"
    if isinstance(value, bool) or value is None:
        raise ConfigError(key, value, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, allowed) from None
    if not math.isfinite(number) or not 0 < number < 1:
        raise ConfigError(key, value, allowed)
    return number


def parse_max_repeats(value: Any) -> int:
    try:
        return parse_count("max_repeats", value, MIN_MAX_REPEATS)
    except ConfigError:
        raise ConfigError(
            "max_repeats", value, f"must be a whole number >= {MIN_MAX_REPEATS} (the median's 95% CI needs {MIN_MAX_REPEATS} repetitions)"
        ) from None


def parse_name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, "must be a non-empty name")
    return value.strip()


def check_value(key: str, value: Any) -> None:
    """Check one top-level value as given on the command line (before Hydra composes)."""
    if key == "workers":
        parse_count(key, value, 1)
    elif key == "n":
        parse_count(key, value, 1)
    elif key == "repeats":
        parse_repeats(value)
    elif key == "warmup":
        parse_count(key, value, 0)
    elif key == "timeout_s":
        parse_seconds(key, value)
    elif key == "experiment":
        parse_name(key, value)
    elif key == "chunks":
        parse_chunks(value)
    elif key == "target_rel_ci":
        parse_fraction(key, value)
    elif key == "max_repeats":
        parse_max_repeats(value)
    elif key == "max_time_s":
        parse_seconds(key, value)
    elif key in ("quiet", "resume"):
        parse_flag(key, value)


def parse_flag(key: str, value: Any) -> bool:
    """A yes/no switch: ``true`` / ``false`` (Hydra parses them to booleans)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ConfigError(key, value, "must be true or false")


LOCATION_OPTIONS = ("allow", "pythonpath")  # workload options that are not part of a trial's identity


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial needs, as plain picklable data (no Hydra, no MLflow).

    ``repeats`` is a count, or ``"auto"``: then repetitions go on until the median's 95% CI
    half-width is within ``target_rel_ci`` of it, ``max_repeats`` have run, or the next one
    would end after ``max_time_s``. ``chunks`` (None: one per worker) is how many tasks a
    repetition is cut into.
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
    target_rel_ci: float = DEFAULT_TARGET_REL_CI
    max_repeats: int = DEFAULT_MAX_REPEATS
    max_time_s: float | None = DEFAULT_MAX_TIME_S

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

    def config_hash(self) -> str:
        """Identity of the measurement: same hash, same experiment (tracking and limits excluded)."""
        identity = {
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
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_spec(cfg: Mapping[str, Any]) -> TrialSpec:
    """Validate a composed config (a DictConfig or plain dict) into a :class:`TrialSpec`.

    Raises :class:`ConfigError` for the first bad value found.
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

    workers = parse_count("workers", cfg.get("workers"), 1)
    chunks = parse_chunks(cfg.get("chunks"))
    if not backend_cls.uses_workers:
        workers, chunks = 1, None
    repeats = parse_repeats(cfg.get("repeats"))
    timeout_s = parse_seconds("timeout_s", cfg.get("timeout_s"))
    max_time_s = parse_seconds("max_time_s", cfg.get("max_time_s", DEFAULT_MAX_TIME_S))
    if repeats == AUTO and timeout_s is not None and max_time_s is not None and max_time_s >= timeout_s:
        raise ConfigError(
            "max_time_s",
            cfg.get("max_time_s", DEFAULT_MAX_TIME_S),
            f"with repeats=auto it must be below timeout_s={timeout_s:g}, or the trial is stopped whole",
        )
    return TrialSpec(
        backend=backend_name,
        backend_options=backend_options,
        workload=workload_name,
        workload_options=workload_options,
        workers=workers,
        n=parse_count("n", cfg.get("n"), 1),
        repeats=repeats,
        warmup=parse_count("warmup", cfg.get("warmup"), 0),
        timeout_s=timeout_s,
        experiment=parse_name("experiment", cfg.get("experiment")),
        chunks=chunks,
        target_rel_ci=parse_fraction("target_rel_ci", cfg.get("target_rel_ci", DEFAULT_TARGET_REL_CI)),
        max_repeats=parse_max_repeats(cfg.get("max_repeats", DEFAULT_MAX_REPEATS)),
        max_time_s=max_time_s,
    )


def _section(cfg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = cfg.get(key)
    if type(value).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, f"must be chosen from the {key}/ config group")
    return value
