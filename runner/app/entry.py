"""The ``parsweep`` console script: a repeated ``--help`` from the cache, everything else :mod:`runner.app.main`.

:mod:`runner.app.main` imports Hydra as it loads (its ``@hydra.main`` task is module-level), 0.2 s
that a help kept by :mod:`runner.app.help_cache` does not need; this module imports neither.
"""

from __future__ import annotations

import os
import sys


def reader_left() -> None:
    """``parsweep --help | head``: the reader left; nothing more to say (exit 0, no traceback)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(0) from None


def main() -> None:
    from runner.app.help_cache import cached

    text = cached(sys.argv[1:])
    if text is not None:
        try:
            print(text, flush=True)
        except BrokenPipeError:
            reader_left()
        return
    from runner.app.main import main as launch

    launch()
