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


TOP_LEVEL_KEYS = ("workers", "n", "repeats", "warmup", "timeout_s", "experiment")
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
        parse_count(key, value, 1)
    elif key == "warmup":
        parse_count(key, value, 0)
    elif key == "timeout_s":
        parse_seconds(key, value)
    elif key == "experiment":
        parse_name(key, value)


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial needs, as plain picklable data (no Hydra, no MLflow)."""

    backend: str
    backend_options: dict[str, Any]
    workload: str
    workload_options: dict[str, Any]
    workers: int
    n: int
    repeats: int
    warmup: int
    timeout_s: float | None
    experiment: str

    @property
    def start_method(self) -> str:
        return str(self.backend_options.get("start_method") or "none")

    def config_hash(self) -> str:
        """Identity of the measurement: same hash, same experiment (tracking and limits excluded)."""
        identity = {
            "backend": self.backend,
            "backend_options": self.backend_options,
            "workload": self.workload,
            "workload_options": self.workload_options,
            "workers": self.workers,
            "n": self.n,
            "repeats": self.repeats,
            "warmup": self.warmup,
        }
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_spec(cfg: Mapping[str, Any]) -> TrialSpec:
    """Validate a composed config (a DictConfig or plain dict) into a :class:`TrialSpec`.

    Raises :class:`ConfigError` for the first bad value found.
    """
    from runner import backends, workloads

    backend_cfg = dict(_section(cfg, "backend"))
    workload_cfg = dict(_section(cfg, "workload"))
    backend_name = backend_cfg.pop("name", None)
    workload_name = workload_cfg.pop("name", None)
    backend_cls = backends.get(backend_name)
    workload_cls = workloads.get(workload_name)
    backend_options = backend_cls.check_options(backend_cfg)
    workload_options = workload_cls.check_options(workload_cfg)

    workers = parse_count("workers", cfg.get("workers"), 1)
    if not backend_cls.uses_workers:
        workers = 1
    return TrialSpec(
        backend=backend_name,
        backend_options=backend_options,
        workload=workload_name,
        workload_options=workload_options,
        workers=workers,
        n=parse_count("n", cfg.get("n"), 1),
        repeats=parse_count("repeats", cfg.get("repeats"), 1),
        warmup=parse_count("warmup", cfg.get("warmup"), 0),
        timeout_s=parse_seconds("timeout_s", cfg.get("timeout_s")),
        experiment=parse_name("experiment", cfg.get("experiment")),
    )


def _section(cfg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = cfg.get(key)
    if type(value).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, Mapping):
        raise ConfigError(key, value, f"must be chosen from the {key}/ config group")
    return value
