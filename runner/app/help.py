"""``parsweep --help``: Hydra's help text, composed with Hydra's public compose API.

Hydra's own ``--help`` lists every config group it knows, Hydra's included (``hydra/launcher``,
``hydra/sweeper``... with every installed plugin's configs), although parsweep's help template
shows only the app's groups; each listing deep-copies Hydra's whole ConfigStore, ~70 times, which
took 0.5 s of the 0.85 s ``parsweep --help`` took (issue 21). Here only the app's groups are
listed, through the same config loader, so the text is the one Hydra prints
(``tests/test_ux_startup.py`` compares them). A template that asks for more than the app's groups
and the config is left to Hydra.
"""

from __future__ import annotations

import argparse
import re
import string
from collections.abc import Iterator
from typing import Any

#: What this help fills in; Hydra's template may also name $FLAGS_HELP and $HYDRA_CONFIG_GROUPS.
FILLED = {"APP_CONFIG_GROUPS", "CONFIG"}


def print_help(args: argparse.Namespace, config_path: str) -> bool:
    """Print the app's help as Hydra would; False (nothing printed) when Hydra must do it itself."""
    if args.config_dir or args.config_path or args.config_name or args.hydra_help:
        return False
    from hydra import compose, initialize_config_dir, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf, open_dict

    if config_path.startswith("pkg://"):
        context: Any = initialize_config_module(config_module=config_path[len("pkg://") :], version_base="1.3")
    else:
        context = initialize_config_dir(config_dir=config_path, version_base="1.3")
    with context:
        cfg = compose(config_name="config", overrides=list(args.overrides), return_hydra_config=True)
        template = str(cfg.hydra.help.template)
        if not set(re.findall(r"\$\{?(\w+)", template)) <= FILLED:
            return False
        HydraConfig.instance().set_config(cfg)  # as Hydra's help does: ${hydra:...} resolves
        loader = GlobalHydra.instance().config_loader()
        groups = "".join(f"{group}: {', '.join(sorted(options))}\n" for group, options in sorted(_app_groups(loader, "")))
        job = cfg.copy()
        with open_dict(job):
            del job["hydra"]
        text = string.Template(template).substitute(APP_CONFIG_GROUPS=groups, CONFIG=OmegaConf.to_yaml(job, resolve=args.resolve))
    print(text)
    return True


def _app_groups(loader: Any, parent: str) -> Iterator[tuple[str, list[str]]]:
    """The config groups that are not Hydra's, with their options (Hydra's ``list_all_config_groups``)."""
    from hydra.core.object_type import ObjectType

    for group in loader.list_groups(parent):
        name = f"{parent}/{group}" if parent else group
        if name == "hydra":
            continue
        options = loader.get_group_options(name, ObjectType.CONFIG)
        if options:
            yield name, options
        yield from _app_groups(loader, name)
