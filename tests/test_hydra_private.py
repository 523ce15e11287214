"""Pins what parsweep relies on from Hydra's private API (all of it in ``runner/app/hydra_private.py``).

If a Hydra upgrade changes any of it, these fail first, and say which use broke. The third
use, applying value overrides to a composed template, is pinned job by job against Hydra's
own full compose in ``tests/test_core_compose.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from conftest import REPO
from runner.app.hydra_private import apply_value_overrides, args_parser, override_dirname

pytestmark = pytest.mark.timeout(60)


def test_the_parser_tells_overrides_from_flag_values() -> None:
    args, _ = args_parser().parse_known_args(["-m", "--cfg", "job", "-cn", "other", "--config-dir", "/x", "backend=serial", "n=1e6"])
    assert args.multirun and args.cfg == "job" and args.config_name == "other" and args.config_dir == "/x"
    assert args.overrides == ["backend=serial", "n=1e6"]
    args, _ = args_parser().parse_known_args(["--help"])
    assert args.help and not args.multirun
    args, _ = args_parser().parse_known_args(["-sc", "install=bash"])
    assert args.shell_completion


def test_value_overrides_are_applied_as_hydra_applies_them() -> None:
    config = OmegaConf.create({"a": 1, "b": {"c": 2}, "d": 3})
    OmegaConf.set_struct(config, True)
    parsed = OverridesParser.create().parse_overrides(["a=10", "b.c=20", "+e=5", "++a=11", "~d"])
    apply_value_overrides(parsed, config)
    assert OmegaConf.to_container(config) == {"a": 11, "b": {"c": 20}, "e": 5}
    with pytest.raises(Exception, match="Could not override 'nope'"):
        apply_value_overrides(OverridesParser.create().parse_overrides(["nope=1"]), config)


def test_override_dirname_follows_hydras_settings() -> None:
    parsed = OverridesParser.create().parse_overrides(["b=2", "a=1", "seed=3"])
    settings = OmegaConf.create({"kv_sep": "_", "item_sep": "+", "exclude_keys": ["seed"]})
    assert override_dirname(parsed, settings) == "a_1+b_2"


def test_no_other_module_touches_hydras_private_api() -> None:
    """Private imports (``hydra._internal``, ``omegaconf._utils``, ``mlflow.store``) live only in hydra_private."""
    offenders = []
    for path in [*(REPO / "runner").rglob("*.py"), *(REPO / "analysis").rglob("*.py"), *(REPO / "hydra_plugins").rglob("*.py")]:
        if path.name == "hydra_private.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                private = any(part.startswith("_") and not part.startswith("__") for part in parts)
                if private or name.startswith("mlflow.store"):
                    offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert offenders == [], offenders


def test_hydra_private_is_listed_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    assert "runner/app/hydra_private.py" in readme
    assert Path(REPO / "runner" / "app" / "hydra_private.py").is_file()
