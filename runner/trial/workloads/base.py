"""The small interface every workload implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from runner.trial.values import ConfigError


class Workload:
    """A computation over ``range(0, n)`` that can be cut into chunks.

    ``chunk_function`` must be a module-level function (it is pickled to worker processes)
    taking ``(start, end)`` and returning a partial result. ``combine`` folds the partial
    results; ``expected`` gives the exact answer for ``range(0, n)``, against which every
    repetition is checked.
    """

    name: str = ""
    #: Its own config keys beyond ``name``: key -> (type, default), the one source of their defaults
    #: (see ``Backend.OPTIONS``): the Hydra schema its ``conf/workload/<name>.yaml`` extends is made from it.
    OPTIONS: ClassVar[dict[str, tuple[Any, Any]]] = {}
    #: Modules its chunks import beyond its own: the interpreter probe imports them too, so a trial
    #: interpreter that lacks one (NumPy) is refused before any trial runs.
    imports: ClassVar[tuple[str, ...]] = ()
    # What the plan's estimate needs to know of a workload, declared by it (adding one is its module
    # plus its YAML): whether its chunks release the GIL (threads then run at once), and its cost.
    releases_gil: bool = False
    holds_cpu: bool = True  # False: it waits (sleep), so every worker runs at once whatever the CPUs
    # Whether the fork servers import this module before forking (see ``Backend.preload``): every
    # trial they fork carries what it imports, so a module that imports a heavy library says False.
    preload: bool = False

    @classmethod
    def item_cost_s(cls, n: int, options: Mapping[str, Any], loop_cost_s: Callable[[], float]) -> float | None:
        """Seconds one item costs one worker; ``loop_cost_s()`` is the classic loop's, measured now.
        None: unknown until it runs (a custom function)."""
        return None
    #: Whether its chunk function can run in a subinterpreter (``backend=interpreters``); NumPy cannot.
    subinterpreters: bool = True

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the workload's own config keys; return them as plain data."""
        if options:
            key = next(iter(options))
            raise ConfigError(f"workload.{key}", options[key], f"{cls.name} takes no options")
        return {}

    @property
    def chunk_function(self) -> Callable[[int, int], Any]:
        raise NotImplementedError

    def combine(self, partials: list[Any]) -> Any:
        return sum(partials)

    def expected(self, n: int) -> Any:
        raise NotImplementedError

    def check(self, total: Any, n: int) -> str | None:
        """None when ``total`` is the right answer, else a one-line description of the error."""
        want = self.expected(n)
        if total != want:
            return f"wrong answer: got {total!r}, expected {want!r}"
        return None


class RangeSum(Workload):
    """Workloads whose answer is the sum of ``range(0, n)``: n(n-1)/2, however it is computed."""

    def expected(self, n: int) -> int:
        return n * (n - 1) // 2
