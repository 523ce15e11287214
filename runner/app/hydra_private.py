"""The only place parsweep touches Hydra's private API, and why (``tests/test_hydra_private.py`` pins each use).

Hydra has no public API for these two needs; each use is one call, made here and nowhere else:

1. :func:`args_parser`: Hydra's own command-line parser (``hydra._internal.utils.get_args_parser``).
   ``parsweep`` reads the command line before handing it to ``@hydra.main``, to give a mistake
   one clear line and exit 2 (Hydra would print a traceback-style error and exit 1), and to tell
   overrides from the values of Hydra's flags (``--cfg job``, ``-cn NAME``). Parsing them
   differently from Hydra would be worse than reusing its parser.

2. :func:`apply_value_overrides` and :func:`override_dirname`: how Hydra finishes a job's
   config from its overrides (``ConfigLoaderImpl._apply_overrides_to_config`` and
   ``config_loader_impl.get_overrides_dirname``). A sweep's jobs differ mostly in values
   (``workers=2``, ``n=1e8``); Hydra's public ``load_sweep_config`` composes every job from
   scratch, 35-50 ms each here, which alone would take the whole per-trial budget of 50 ms.
   ``runner.app.compose`` composes once per set of config-group choices with the public API
   and applies the value overrides with Hydra's own function, so each job is exactly what
   Hydra would compose (``tests/test_core_compose.py`` compares them, job by job).

Hydra is pinned to the versions these tests pass on; an upgrade that breaks one fails them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from hydra.core.override_parser.types import Override
from omegaconf import DictConfig


def args_parser() -> argparse.ArgumentParser:
    """Hydra's command-line parser, as ``@hydra.main`` uses it."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def apply_value_overrides(overrides: Sequence[Override], config: DictConfig) -> None:
    """Apply overrides that set values (not config-group choices) to ``config``, as Hydra does."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    ConfigLoaderImpl._apply_overrides_to_config(list(overrides), config)


def override_dirname(overrides: Sequence[Override], settings: Any) -> str:
    """``hydra.job.override_dirname`` of a job, from its task overrides and Hydra's settings for it."""
    from hydra._internal.config_loader_impl import get_overrides_dirname

    return str(
        get_overrides_dirname(
            overrides=list(overrides), kv_sep=settings.kv_sep, item_sep=settings.item_sep, exclude_keys=settings.exclude_keys
        )
    )
