"""``parsweep --help``: Hydra's help text, composed with Hydra's public compose API.

Hydra's own ``--help`` lists every config group it knows, Hydra's included (``hydra/launcher``,
``hydra/sweeper``... with every installed plugin's configs), although parsweep's help template
shows only the app's groups; each listing deep-copies Hydra's whole ConfigStore, ~70 times, which
took 0.5 s of the 0.85 s ``parsweep --help`` took (issue 21). Here the app's groups are parsweep's
own (:data:`runner.trial.spec.GROUPS`, their options the files in ``conf/``), so the text is the
one Hydra prints (``tests/test_ux_startup.py`` compares them). A template that asks for more than
the app's groups and the config is left to Hydra. The text printed here is kept for the next
``--help`` with the same words and sources (:mod:`runner.app.help_cache`), which then imports no Hydra.
"""

from __future__ import annotations

import argparse
import re
import string
from typing import Any

from runner.app.paths import group_options
from runner.trial.spec import GROUPS

#: What this help fills in; Hydra's template may also name $FLAGS_HELP and $HYDRA_CONFIG_GROUPS.
FILLED = {"APP_CONFIG_GROUPS", "CONFIG"}


def print_help(args: argparse.Namespace, config_path: str) -> str | None:
    """Print the app's help as Hydra would and return it; None (nothing printed) when Hydra must do it itself."""
    if args.config_dir or args.config_path or args.config_name or args.hydra_help:
        return None
    from hydra import compose, initialize_config_dir, initialize_config_module
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
            return None
        HydraConfig.instance().set_config(cfg)  # as Hydra's help does: ${hydra:...} resolves
        groups = "".join(f"{group}: {', '.join(group_options(group))}\n" for group in sorted(GROUPS))
        job = cfg.copy()
        with open_dict(job):
            del job["hydra"]
        text = string.Template(template).substitute(APP_CONFIG_GROUPS=groups, CONFIG=OmegaConf.to_yaml(job, resolve=args.resolve))
    print(text)
    return text

