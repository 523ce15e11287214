"""The structured schemas Hydra composes against, built from what the code declares.

Every top-level key and its default come from :data:`runner.trial.spec.DEFAULTS`;
``conf/config.yaml`` holds the defaults list (which backend, workload, tracking) and Hydra's
settings, and does not repeat the values. ``parsweep --cfg job`` prints them all.

Each backend and workload has a schema of its own, made from its class's ``OPTIONS`` (its keys,
their types and defaults) and stored as ``parsweep_schema_<group>_<name>``; its
``conf/<group>/<name>.yaml`` extends it (``- /parsweep_schema_<group>_<name>@_here_`` in its
defaults list) and holds only its name and what differs. Hydra then refuses, as it composes, a key
the part does not have and a value its type cannot hold.

In the whole config's schema ``backend`` and ``workload`` stay ``Any``: which keys they hold depends
on the option chosen, and that option's own schema checks them. Hydra cannot type them any better
without changing what composes: an open ``dict[str, Any]`` refuses the parts' schemas (OmegaConf
will not assign a structured config to a plain dict type), and a closed base class the parts'
schemas extend (``name: str``) would refuse, with a ``ConfigKeyError``, the options of a part whose
YAML file does not extend its schema (a user's ``--config-dir`` holding ``backend/mine.yaml`` =
``name: multiprocessing`` and ``start_method: spawn``, which composes today and which parsweep's own
checks, ``check_options``, then judge), while adding only the check that ``name`` is a string.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import field, make_dataclass
from typing import Any

import yaml
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from runner.app import paths
from runner.trial.spec import DEFAULTS, GROUPS

SCHEMA_NAME = "parsweep_schema"


#: The settings whose type Hydra checks as it composes (a value it cannot convert fails there).
#: Every other setting is ``Any``, and :func:`runner.trial.spec.check_value` alone checks it, because
#: Hydra's types cannot say what it accepts: counts (``workers``, ``n``, ``warmup``, ``max_repeats``,
#: ``interference.retries``) take ``1e7`` and ``100_000`` as well as ints; ``repeats`` is a count or
#: ``auto``; ``resume`` false or a run id; ``chunks``, ``gil``, ``seed`` and the durations may be
#: null, and a duration typed ``float`` would turn ``30`` into ``30.0`` in the composed config;
#: ``affinity``'s values are being reconsidered. The command line is checked by parsweep before
#: Hydra composes (``runner.app.overrides``), so its one-line errors are unchanged.
CHECKED_TYPES: dict[str, type] = {
    "python": str,
    "schedule": str,
    "experiment": str,
    "quiet": bool,
    "plots": bool,
    "target_rel_ci": float,
    "target_speedup_ci": float,
    "interference.threshold": float,
}


def _field(key: str, default: Any) -> Any:
    if isinstance(default, dict):
        nested = make_dataclass(f"{key.title()}Conf", [(k, *_field(f"{key}.{k}", v)) for k, v in default.items()])
        return nested, field(default_factory=nested)
    return CHECKED_TYPES.get(key, Any), field(default=default)


@functools.lru_cache(maxsize=1)
def schema() -> type:
    """``ParsweepConf``: the groups (checked by their own modules) and every setting with its default
    (typed where Hydra can check it: :data:`CHECKED_TYPES`)."""
    tracking = make_dataclass("TrackingConf", [("kind", str, field(default="local")), ("uri", Any, field(default=None))])
    fields: list[Any] = [("backend", Any, field(default=MISSING)), ("workload", Any, field(default=MISSING))]
    fields.append(("tracking", tracking, field(default_factory=tracking)))
    fields += [(key, *_field(key, default)) for key, default in DEFAULTS.items()]
    return make_dataclass("ParsweepConf", fields)


def part_schema(group: str, name: str, options: dict[str, tuple[Any, Any]]) -> type:
    """The schema of one backend or workload: its ``name`` and its ``OPTIONS`` with their types and defaults."""
    fields: list[Any] = [("name", str, field(default=name))]
    for key, (kind, default) in options.items():
        if isinstance(default, (list, dict)):
            fields.append((key, kind, field(default_factory=functools.partial(copy.deepcopy, default))))
        else:
            fields.append((key, kind, field(default=default)))
    return make_dataclass(f"{name.title().replace('_', '')}{group.title()}Conf", fields)


def register_schema() -> None:
    """Make the schemas available: the whole config's to ``conf/config.yaml`` as its first default,
    each backend's and workload's to its own YAML file (``parsweep_schema_<group>_<name>``). They are
    stored as primary configs, not in a group: Hydra's ``--help`` and tab completion list groups."""
    from runner.trial import backends, workloads

    store = ConfigStore.instance()
    store.store(name=SCHEMA_NAME, node=schema())
    for group, parts in (("backend", backends), ("workload", workloads)):
        for name in parts.available():
            store.store(name=f"{SCHEMA_NAME}_{group}_{name}", node=part_schema(group, name, parts.get(name).OPTIONS))


@functools.lru_cache(maxsize=1)
def group_defaults() -> dict[str, str]:
    """The option each group takes when the command line does not choose (``backend`` -> ``serial``)."""
    data = yaml.safe_load(paths.primary_config_text()) or {}
    chosen = {}
    for entry in data.get("defaults", []):
        if isinstance(entry, dict):
            for key, value in entry.items():
                if key in GROUPS and isinstance(value, str):
                    chosen[key] = value
    return chosen
