"""Checks of single config values, each failing with a :class:`ConfigError` that names the key.

The lowest layer of parsweep: backends, workloads and the trial spec use these to validate
their options, and the command line is checked with them before Hydra composes anything.
Standard library only (the trial process imports this, under any CPython >= 3.10).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any


class ConfigError(ValueError):
    """A user-facing configuration mistake; ``str()`` is one line naming the key and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={show(value)}: {allowed}")


def show(value: Any) -> str:
    """A value as the user would type it (``None`` is ``null``)."""
    return "null" if value is None else str(value)


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


def _number(key: str, value: Any, allowed: str, accept: Callable[[float], bool]) -> float:
    """A finite number ``accept`` agrees with; else the key's one-line error."""
    if isinstance(value, bool) or value is None:
        raise ConfigError(key, value, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, allowed) from None
    if not math.isfinite(number) or not accept(number):
        raise ConfigError(key, value, allowed)
    return number


def parse_seconds(key: str, value: Any, allow_none: bool = True) -> float | None:
    """A duration in seconds > 0; null means no limit where ``allow_none``."""
    if value is None and allow_none:
        return None
    allowed = "must be a number of seconds > 0" + (", or null for no limit" if allow_none else "")
    return _number(key, value, allowed, lambda seconds: seconds > 0)


def parse_duration(key: str, value: Any) -> float:
    """A duration in seconds >= 0 (0 turns the thing it bounds off)."""
    return _number(key, value, "must be a number of seconds >= 0 (0 turns it off)", lambda seconds: seconds >= 0)


def parse_fraction(key: str, value: Any) -> float:
    """A fraction strictly between 0 and 1 (``0.02`` is 2%)."""
    return _number(key, value, "must be a fraction between 0 and 1 (0.02 means 2%)", lambda number: 0 < number < 1)


def parse_name(key: str, value: Any) -> str:
    """A non-empty name (an experiment, an interpreter command)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, value, "must be a non-empty name")
    return value.strip()


def parse_flag(key: str, value: Any) -> bool:
    """A yes/no switch: ``true`` / ``false`` (Hydra parses them to booleans)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ConfigError(key, value, "must be true or false")


def parse_choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(key, value, f"must be one of: {', '.join(choices)}")
    return value


#: Keys whose values are whole numbers by contract (``n=1e6`` means the integer 1000000).
INTEGRAL_KEYS = ("n", "workers", "repeats", "warmup", "chunks")
_FLOAT_LITERAL = re.compile(r"^[+-]?(\d[\d_]*)?(\.\d*)?([eE][+-]?\d+)?$")


def integral_text(value: str) -> str:
    """``1e6`` / ``1000000.0`` -> ``1000000``; anything else (``auto``, ``1.5``, ``range(1,4)``) as is.

    Hydra reads ``1e6`` as the float 1000000.0, which ``--cfg job``, ``--dry-run`` and a trial's
    ``overrides.yaml`` would then show; the integer is what it means. (The config hash is taken
    from the validated spec, where n is an int either way: it does not change.)"""
    text = value.strip()
    if not text or not _FLOAT_LITERAL.match(text) or not any(c.isdigit() for c in text):
        return value
    try:
        number = float(text.replace("_", ""))
    except ValueError:
        return value
    return str(int(number)) if math.isfinite(number) and number.is_integer() else value


def integral_override(override: str) -> str:
    """A command-line override with :data:`INTEGRAL_KEYS` values as integers: ``n=1e5,1e6`` ->
    ``n=100000,1000000`` (lists too; ``range(...)``, sweeps' other forms and other keys as typed)."""
    key, sep, value = override.partition("=")
    if not sep or key.lstrip("+~") not in INTEGRAL_KEYS or "(" in value or "[" in value:
        return override
    return f"{key}={','.join(integral_text(part) for part in value.split(','))}"
