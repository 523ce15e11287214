"""Where the Hydra configs are: the checkout's ``conf/``, or the installed package data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT_CONF = Path(__file__).resolve().parents[2] / "conf"


def config_path() -> str:
    """For ``@hydra.main``: the checkout's ``conf/`` when running from one, else ``pkg://runner.conf``."""
    if (_CHECKOUT_CONF / "config.yaml").is_file():
        return str(_CHECKOUT_CONF)
    return "pkg://runner.conf"


def group_options(group: str) -> list[str]:
    """The option names of a config group (``backend`` -> ``['multiprocessing', ...]``)."""
    if (_CHECKOUT_CONF / "config.yaml").is_file():
        directory = _CHECKOUT_CONF / group
        return sorted(p.stem for p in directory.glob("*.yaml"))
    package = resources.files("runner.conf") / group
    return sorted(entry.name[: -len(".yaml")] for entry in package.iterdir() if entry.name.endswith(".yaml"))


def group_option_text(group: str, option: str) -> str:
    if (_CHECKOUT_CONF / "config.yaml").is_file():
        return (_CHECKOUT_CONF / group / f"{option}.yaml").read_text()
    return (resources.files("runner.conf") / group / f"{option}.yaml").read_text()


def primary_config_text() -> str:
    """``conf/config.yaml``: parsweep's primary config."""
    if (_CHECKOUT_CONF / "config.yaml").is_file():
        return (_CHECKOUT_CONF / "config.yaml").read_text()
    return (resources.files("runner.conf") / "config.yaml").read_text()
