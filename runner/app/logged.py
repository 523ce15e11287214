"""Run a trial again from its logged config, with parsweep's own config groups.

Each trial's output folder (and its MLflow run) holds ``.hydra/config.yaml``: the composed
config, values only, no defaults list. Made the primary config it would lose parsweep's
groups (``backend=threading`` would then be a string, not a choice) and Hydra's settings. So
``parsweep --config-dir <trial>/.hydra --config-name config [overrides]`` is turned into
parsweep's own primary config plus the logged one as a config group option, the way Hydra's
docs put experiments: ``+logged=config`` with, in a directory of its own,
``logged/config.yaml`` = ``# @package _global_``, a defaults list choosing the logged backend,
workload and tracking, then the logged values. Groups the command line chooses again
(``backend=process_pool``) take the new choice, without the logged values of the old one.
``parsweep-reproduce`` re-runs a whole sweep the same way, one option per trial.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from runner.trial.spec import GROUPS

LOGGED_GROUP = "logged"
GROUP_CHOICE_KEY = {"backend": "name", "workload": "name", "tracking": "kind"}


def read_logged(config_dir: str, config_name: str | None) -> dict[str, Any] | None:
    """The logged config in ``config_dir``, or None when that is a primary config of one's own."""
    path = Path(config_dir) / f"{config_name or 'config'}.yaml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict) or "hydra" in data or "defaults" in data:
        return None
    return data


def option_text(logged: dict[str, Any], chosen_again: Iterable[str] = ()) -> str:
    """The logged config as a ``# @package _global_`` option of the ``logged`` group."""
    dropped = set(chosen_again)
    defaults: list[Any] = []
    values: dict[str, Any] = {}
    for key, value in logged.items():
        choice_key = GROUP_CHOICE_KEY.get(key)
        if choice_key and isinstance(value, dict):
            if key in dropped:
                continue  # the new choice's own values apply, not the old one's
            defaults.append({f"override /{key}": value.get(choice_key)})
        values[key] = value
    document = {"defaults": [*defaults, "_self_"], **values}
    return "# @package _global_\n" + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def logged_dir(options: dict[str, str]) -> str:
    """A temporary config directory holding the ``logged`` group's options (removed at exit)."""
    from runner.host.leftovers import make_temp_dir

    directory = make_temp_dir("logged")  # removed at exit; after a kill -9, by the next launch
    (directory / LOGGED_GROUP).mkdir()
    for name, text in options.items():
        (directory / LOGGED_GROUP / f"{name}.yaml").write_text(text)
    return str(directory)


def rewrite_arguments(arguments: list[str], config_dir: str, config_name: str | None, overrides: list[str]) -> list[str] | None:
    """The command line with a logged config dir replaced by parsweep's config plus ``+logged=...``;
    None when ``config_dir`` holds a primary config of one's own (nothing to rewrite)."""
    logged = read_logged(config_dir, config_name)
    if logged is None:
        return None
    chosen_again = {o.split("=", 1)[0] for o in overrides if o.split("=", 1)[0] in GROUPS}
    name = config_name or "config"
    directory = logged_dir({name: option_text(logged, chosen_again)})
    out: list[str] = []
    skip = False
    for argument in arguments:
        if skip:
            skip = False
            continue
        if argument in ("--config-dir", "-cd", "--config-name", "-cn"):
            skip = True
            continue
        if argument.startswith(("--config-dir=", "--config-name=")):
            continue
        out.append(argument)
    # Before the rest: Hydra's parser takes overrides in one run, so one after `--cfg job` would not count.
    return ["--config-dir", directory, f"+{LOGGED_GROUP}={name}", *out]
