"""The structured schema Hydra composes against, and checks of command-line overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from runner.app import paths
from runner.trial.spec import GROUPS, TOP_LEVEL_KEYS, ConfigError, check_value


@dataclass
class TrackingConf:
    """Where runs are logged: ``uri`` null means MLFLOW_TRACKING_URI, then the local sqlite store."""

    kind: str = "local"
    uri: Any = None


@dataclass
class ParsweepConf:
    """The top-level schema. Group contents (backend, workload) are checked by their modules."""

    backend: Any = MISSING
    workload: Any = MISSING
    tracking: TrackingConf = field(default_factory=TrackingConf)
    workers: Any = 1
    n: Any = 10_000_000
    repeats: Any = 5
    target_rel_ci: Any = 0.02
    max_repeats: Any = 50
    max_time_s: Any = 30
    chunks: Any = None
    warmup: Any = 1
    timeout_s: Any = 600
    experiment: Any = "parsweep"
    quiet: Any = False
    resume: Any = False


def register_schema() -> None:
    """Make the schema available to ``conf/config.yaml`` as the ``parsweep_schema`` default."""
    ConfigStore.instance().store(name="parsweep_schema", node=ParsweepConf)


def _group_keys(group: str) -> set[str]:
    """Keys any option of a config group defines (``backend`` -> name, start_method, ...)."""
    import yaml

    keys: set[str] = set()
    for option in paths.group_options(group):
        data = yaml.safe_load(paths.group_option_text(group, option)) or {}
        keys.update(k for k in data if k != "defaults")
    return keys


def check_overrides(arguments: list[str]) -> None:
    """Check command-line overrides before Hydra sees them, so mistakes get one clear line.

    Catches unknown keys (with a suggestion), unknown group options, and bad top-level
    values, including each value of a sweep. Raises :class:`ConfigError`.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [a for a in arguments if not a.startswith("-")]
    if not overrides:
        return
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ConfigError("overrides", " ".join(overrides), text[0] if text else "cannot be parsed") from None
    known = list(TOP_LEVEL_KEYS) + list(GROUPS)
    for override in parsed:
        key = override.key_or_group
        if override.is_hydra_override() or override.is_add() or override.is_force_add() or override.is_delete():
            continue
        values = list(override.sweep_iterator()) if override.is_discrete_sweep() else [override.value()]
        head, _, rest = key.partition(".")
        if key in GROUPS:
            options = paths.group_options(key)
            for value in values:
                if value is None and key == "sweep":
                    continue
                if value not in options:
                    raise ConfigError(key, value, f"unknown {key}; choose one of: {', '.join(options)}")
        elif key in TOP_LEVEL_KEYS:
            for value in values:
                check_value(key, value)
        elif head in GROUPS and rest:
            allowed = sorted(_group_keys(head))
            if rest.split(".")[0] not in allowed:
                raise ConfigError(key, values[0], f"unknown key{_did_you_mean(rest, allowed, head + '.')}; {head}.* keys are: {', '.join(allowed)}")
        else:
            raise ConfigError(key, values[0], f"unknown key{_did_you_mean(key, known)}; keys are: {', '.join(known)}")


def _did_you_mean(word: str, candidates: list[str], prefix: str = "") -> str:
    import difflib

    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""
