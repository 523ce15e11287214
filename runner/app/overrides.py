"""The command line checked before Hydra sees it, so that every mistake gets one clear line.

Hydra's own errors for a typo'd key or an unknown config-group option are correct but long
(and exit 1, with a traceback under ``HYDRA_FULL_ERROR``); :func:`check_overrides` finds the same
mistakes first and raises a :class:`ConfigError` naming the key, what is allowed, and a
suggestion. It knows the config groups wherever they come from: parsweep's ``conf/``, a
directory added with ``--config-dir`` or ``hydra.searchpath``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override

from runner.app import paths
from runner.trial.spec import DEFAULTS, GROUPS, TOP_LEVEL_KEYS, check_value
from runner.trial.values import ConfigError


class Groups:
    """The options of parsweep's config groups, in parsweep's ``conf/`` and the extra config directories."""

    def __init__(self, extra_dirs: Iterable[str] = ()) -> None:
        self.extra = [Path(d).expanduser().resolve() for d in extra_dirs if d]

    def options(self, group: str) -> list[str]:
        found = set(paths.group_options(group))
        for directory in self.extra:
            found |= {p.stem for p in (directory / group).glob("*.yaml")}
        return sorted(found)

    def source(self, group: str, option: str) -> tuple[str, str] | None:
        """Where one option of a group is defined (the file as a user would name it) and its text;
        a config directory's file wins over parsweep's own, as in Hydra's search path."""
        found = None
        for directory in self.extra:
            path = directory / group / f"{option}.yaml"
            if path.is_file():
                found = (_shown(path), path.read_text())
        if found is None and option in paths.group_options(group):
            found = (f"conf/{group}/{option}.yaml", paths.group_option_text(group, option))
        return found

    def keys(self, group: str, option: str) -> set[str]:
        """The keys one option of a group defines (``backend``, ``multiprocessing`` -> name, start_method):
        its file's, and a backend's or workload's declared ``OPTIONS`` (its schema, ``runner.app.schema``)."""
        found = self.source(group, option)
        try:
            data = yaml.safe_load(found[1] if found else "") or {}
        except yaml.YAMLError:  # said, with its file, when the option is chosen (check_option_files)
            return set()
        keys = {k for k in data if k != "defaults"} if isinstance(data, dict) else set()
        return keys | set(declared_options(group, option))


def declared_options(group: str, option: str) -> dict[str, tuple[Any, Any]]:
    """The ``OPTIONS`` a backend or workload module declares (none for other groups and unknown names)."""
    from runner.trial import backends, workloads

    parts = {"backend": backends, "workload": workloads}.get(group)
    if parts is None or option not in parts.available():
        return {}
    return parts.get(option).OPTIONS


def _shown(path: Path) -> str:
    """A file as the user would name it: relative to the launch folder when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def search_dirs(config_dir: str | None, overrides: Sequence[Override]) -> list[str]:
    """Directories Hydra will search besides parsweep's own: ``--config-dir`` and ``hydra.searchpath``."""
    found = [config_dir] if config_dir else []
    for override in overrides:
        if override.key_or_group == "hydra.searchpath":
            value = override.value()
            for entry in value if isinstance(value, list) else [value]:
                text = str(entry)
                if text.startswith("file://"):
                    found.append(text[len("file://") :])
                elif "://" not in text:
                    found.append(text)
    return found


def check_overrides(arguments: list[str], config_dir: str | None = None) -> None:
    """Check command-line overrides before Hydra composes them; raises :class:`ConfigError`.

    Catches unknown keys (with a suggestion), keys the chosen group option does not have,
    unknown group options, added keys (``+foo=1``) that are neither a config group nor a key
    parsweep has, and bad top-level values, including each value of a sweep.
    """
    overrides_text = [a for a in arguments if not a.startswith("-")]
    if not overrides_text:
        return
    try:
        parsed = OverridesParser.create().parse_overrides(overrides_text)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ConfigError("overrides", " ".join(overrides_text), text[0] if text else "cannot be parsed") from None
    groups = Groups(search_dirs(config_dir, parsed))
    chosen = _chosen_options(parsed, groups)
    check_option_files(chosen, groups)
    _check_parsed(parsed, groups, chosen)


def _check_parsed(parsed: Sequence[Override], groups: Groups, chosen: dict[str, list[str]]) -> None:
    known = list(TOP_LEVEL_KEYS) + list(GROUPS)
    for override in parsed:
        key = override.key_or_group
        if override.is_hydra_override():
            continue
        values = list(override.sweep_iterator()) if override.is_discrete_sweep() else [override.value()]
        head, _, rest = key.partition(".")
        if override.is_delete():
            raise ConfigError(f"~{key}", "", "parsweep's keys cannot be deleted; set them to another value (or null) instead")
        if key in GROUPS or (override.is_add() and groups.options(key)):
            options = groups.options(key)
            for value in values:
                if value is None and key == "sweep":
                    continue
                if value not in options:
                    raise ConfigError(key, value, f"unknown {key}; choose one of: {', '.join(options)}")
        elif key in TOP_LEVEL_KEYS:
            for value in values:
                check_value(key, value)
        elif head in DEFAULTS and isinstance(DEFAULTS[head], dict) and rest:
            allowed = list(DEFAULTS[head])
            if rest not in allowed:
                raise ConfigError(key, values[0], f"unknown key{_did_you_mean(rest, allowed, head + '.')}; {head}.* keys are: {', '.join(allowed)}")
            for value in values:
                check_value(key, value)
        elif head in GROUPS and rest:
            _check_group_key(head, rest.split(".")[0], key, values[0], chosen.get(head, []), groups)
        elif override.is_add() or override.is_force_add():
            raise ConfigError(
                key, values[0], f"parsweep has no such key{_did_you_mean(key, known)}; keys are: {', '.join(known)}"
            )
        else:
            raise ConfigError(key, values[0], f"unknown key{_did_you_mean(key, known)}; keys are: {', '.join(known)}")


def check_option_files(chosen: dict[str, list[str]], groups: Groups) -> None:
    """The chosen options' files, checked as the command line is: YAML that parses, and in a
    preset (``sweep=...``) known keys with good values, its ``hydra.sweeper.params`` too.
    Each mistake is one :class:`ConfigError` naming the choice, the file and the key."""
    for group, options in chosen.items():
        for option in options:
            found = groups.source(group, option)
            if found is None:
                continue
            where, text = found
            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(group, option, yaml_problem(where, exc)) from None
            if not isinstance(data, dict):
                raise ConfigError(group, option, f"{where} must hold keys and values (a YAML mapping)")
            if group == "sweep":
                _check_preset(option, where, data, groups, chosen)


def yaml_problem(where: str, exc: yaml.YAMLError) -> str:
    """``FILE is not valid YAML: what (line L, column C)``."""
    mark = getattr(exc, "problem_mark", None)
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{where} is not valid YAML: {getattr(exc, 'problem', None) or str(exc).splitlines()[0]}{at}"


def check_config_dir(config_dir: str, config_name: str | None) -> None:
    """``--config-dir``: a folder, whose primary config (if it holds one) parses; else :class:`ConfigError`.

    Checked before anything else reads it: a config that does not parse would otherwise be passed
    over for parsweep's own of the same name, and the launch would run what the user did not write.
    """
    folder = Path(config_dir).expanduser()
    if not folder.is_dir():
        raise ConfigError("--config-dir", config_dir, "no such folder; give a folder of config groups (sweep/NAME.yaml...) "
                          "or a trial's .hydra folder")
    primary = folder / f"{config_name or 'config'}.yaml"
    if primary.is_file():
        try:
            yaml.safe_load(primary.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError("--config-dir", config_dir, yaml_problem(_shown(primary.resolve()), exc)) from None


def _check_preset(option: str, where: str, data: dict[str, Any], groups: Groups, chosen: dict[str, list[str]]) -> None:
    """A preset's own values and its ``hydra.sweeper.params``, as if given on the command line."""
    lines: list[tuple[str, str]] = []  # (where in the file, beyond the top level; the override)
    for key, value in data.items():
        if key in ("defaults", "hydra"):
            continue
        if isinstance(value, dict) and key not in GROUPS:
            lines += [("", f"{key}.{sub}={_as_override(v)}") for sub, v in value.items()]
        elif not isinstance(value, dict):
            lines.append(("", f"{key}={_as_override(value)}"))
    sweeper = ((data.get("hydra") or {}).get("sweeper") or {}) if isinstance(data.get("hydra"), dict) else {}
    params = sweeper.get("params") if isinstance(sweeper, dict) else None
    for key, value in (params or {}).items():
        lines.append((" hydra.sweeper.params:", f"{key}={_as_override(value)}"))
    for place, line in lines:
        if "${" in line:  # a resolver (${parsweep.workers_up_to_cores:2}): known only when composed
            continue
        try:
            _check_parsed(OverridesParser.create().parse_overrides([line]), groups, chosen)
        except ConfigError as exc:
            raise ConfigError("sweep", option, f"{where}:{place} {exc}") from None
        except Exception as exc:
            raise ConfigError("sweep", option, f"{where}:{place} cannot be read as {line!r} ({str(exc).strip().splitlines()[0]})") from None


def _as_override(value: Any) -> str:
    """A YAML value as it would be written in an override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ",".join(_as_override(v) for v in value) + "]"
    return str(value)


def _chosen_options(parsed: Sequence[Override], groups: Groups) -> dict[str, list[str]]:
    """Each group's options this command line uses (its default, unless it chooses others)."""
    from runner.app.schema import group_defaults

    chosen = {group: [option] for group, option in group_defaults().items()}
    for override in parsed:
        if override.key_or_group in GROUPS and not override.is_hydra_override():
            values = list(override.sweep_iterator()) if override.is_discrete_sweep() else [override.value()]
            chosen[override.key_or_group] = [str(v) for v in values if v is not None]
    return chosen


def _check_group_key(group: str, name: str, key: str, value: Any, options: list[str], groups: Groups) -> None:
    every = sorted(set().union(*(groups.keys(group, option) for option in groups.options(group))) - {"name"})
    if name not in every:
        raise ConfigError(key, value, f"unknown key{_did_you_mean(name, every, group + '.')}; {group}.* keys are: {', '.join(every)}")
    lacking = [option for option in options if name not in groups.keys(group, option)]
    if lacking:
        having = [option for option in groups.options(group) if name in groups.keys(group, option)]
        raise ConfigError(
            key, value, f"{group}={lacking[0]} has no {name}; the {group}s that do: {', '.join(having)} (choose one: {group}=...)"
        )
    for option in options:
        _check_declared_type(group, option, name, key, value)


def _check_declared_type(group: str, option: str, name: str, key: str, value: Any) -> None:
    """A list or mapping where the part's schema declares a string: Hydra would refuse it as it
    composes, in many lines; said here in one, the part's own (``check_options``) when it has one."""
    declared = declared_options(group, option)
    if name not in declared or declared[name][0] is Any or not isinstance(value, (list, dict)):
        return
    from runner.trial import backends, workloads

    part = (backends if group == "backend" else workloads).get(option)
    try:
        part.check_options({**{k: v for k, (_, v) in declared.items() if v != "???"}, name: value})
    except ConfigError as exc:
        if exc.key == key:
            raise
    raise ConfigError(key, value, "must be one value (a string), not a list or a mapping")


def _did_you_mean(word: str, candidates: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""
