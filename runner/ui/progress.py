"""What the user sees while a sweep runs: a live display on a terminal, plain lines elsewhere.

Three modes, chosen once per launch:

- ``live``: stdout is an interactive terminal. A rich progress display shows trials done /
  total, elapsed time and the time left (estimated from what finished), and under it what is
  being measured: the trial and its repetition k of R, or with an interleaved schedule the
  group of trials and its round. Finished trials are printed above the display as they
  complete, so the log stays on screen once the display goes.
- ``lines``: stdout is a pipe, a file or a CI log. One plain line per finished trial, never a
  terminal control code.

A lone trial's warnings come under its line; a sweep's are held for its end and said there once
each, grouped with the trials that had them (the report's warnings section, or
``runner.trial.quality.group_warnings`` when there is no report).
- ``quiet``: ``quiet=true``. Nothing until the final table; errors still go to stderr.

The launcher process owns the display. The scheduler tells it about repetitions through
:func:`observer` (see ``runner.execute.schedule.Observer``). Nothing here knows about Hydra
or MLflow.
"""

from __future__ import annotations

import atexit
import sys
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.text import Text

from runner.trial.units import format_seconds

LIVE, LINES, QUIET = "live", "lines", "quiet"
# The display refreshes from a thread of the launcher while trials run in their own
# process; twice a second is smooth enough and costs the measured cores next to nothing.
REFRESH_PER_SECOND = 2


def choose_mode(quiet: bool, local_jobs: bool = True, console: Console | None = None) -> str:
    """``quiet`` if asked; ``live`` on an interactive terminal when jobs run in this process; else ``lines``."""
    if quiet:
        return QUIET
    console = console or Console()
    if local_jobs and console.is_terminal and not console.is_dumb_terminal:
        return LIVE
    return LINES


def format_clock(seconds: float | None) -> str:
    """``75`` -> ``1:15``, ``3725`` -> ``1:02:05``, None -> ``-:--``."""
    if seconds is None:
        return "-:--"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _CountColumn(ProgressColumn):
    """``3/12 trials`` for the sweep, ``rep 2/6 (warm-up)`` or ``round 2/5`` for what is measured."""

    def render(self, task: Task) -> Text:
        return Text(str(task.fields.get("count", "")), style="progress.download")


class _TimeColumn(ProgressColumn):
    """Elapsed time, and for the sweep the estimated time left."""

    def __init__(self, owner: SweepProgress) -> None:
        super().__init__()
        self.owner = owner

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if task.fields.get("kind") != "sweep":
            last = task.fields.get("last")
            text = f"{format_clock(elapsed)}" + (f"  (last rep {last})" if last else "")
            return Text(text, style="progress.elapsed")
        left = self.owner.time_left_s()
        eta = "estimating…" if left is None else f"~{format_clock(left)} left"
        return Text(f"{format_clock(elapsed)} elapsed  {eta}", style="progress.remaining")


class SweepProgress:
    """Progress of one launch (a sweep of ``total`` trials, or one trial when ``total`` is 1)."""

    def __init__(self, total: int, mode: str = LINES, console: Console | None = None) -> None:
        self.total = total
        self.mode = mode
        self.done = 0
        self.failed = 0
        self.started_at = time.monotonic()
        self.measured_total = 0  # repetitions of the trials being measured now, and done of them
        self.measured_done = 0
        self.console = console or Console(highlight=False, soft_wrap=True, emoji=False)
        self._progress: Progress | None = None
        self._sweep_task: TaskID | None = None
        self._work_task: TaskID | None = None
        self._warmup = 0
        self._interleaved = False
        self._trials_measured = 1
        self.held: list[tuple[str, str]] | None = None  # a sweep's: (trial, warning) kept for its end

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SweepProgress:
        self.started_at = time.monotonic()
        if self.mode == LIVE:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(bar_width=24),
                _CountColumn(),
                _TimeColumn(self),
                console=self.console,
                transient=True,  # the display goes away at the end; the trial lines above it stay
                refresh_per_second=REFRESH_PER_SECOND,
                redirect_stdout=True,
                # Warnings land above the display; an stderr sent elsewhere (2>file) stays there.
                redirect_stderr=_is_terminal(sys.stderr),
            )
            self._progress.start()
            if self.total > 1:
                self._sweep_task = self._progress.add_task("sweep", total=self.total, kind="sweep", count=self._count_text())
        return self

    def stop(self) -> None:
        """End the live display (idempotent); what it printed above stays."""
        if self._progress is not None:
            progress, self._progress = self._progress, None
            progress.stop()

    # -- events -----------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """An informational line (not shown when quiet)."""
        if self.mode == QUIET:
            return
        self._print(Text(text, style="dim") if self.mode == LIVE else text)

    def measuring(self, names: Sequence[str], repetitions: int, warmup: int = 0, interleaved: bool = False) -> None:
        """Trials start being measured: one (``repetitions`` of it), or several together in rounds."""
        self._warmup, self._interleaved, self._trials_measured = warmup, interleaved and len(names) > 1, len(names)
        self.measured_total = (repetitions + warmup) * len(names)
        self.measured_done = 0
        if self._progress is None:
            return
        if self._work_task is not None:
            self._progress.remove_task(self._work_task)
        description = f"{names[0]} ({len(names)} trials in rounds)" if self._interleaved else names[0]
        self._work_task = self._progress.add_task(
            f"[bold]{_escape(description)}[/]", total=self.measured_total, kind="trial", count=self._rep_text(0), last=None
        )

    def repetition(self, done: int, total: int, wall_s: float, name: str | None = None) -> None:
        """One more repetition of the trials being measured (``done``/``total``: of trial ``name``)."""
        self.measured_done += 1
        if self._progress is None or self._work_task is None:
            return
        if self._interleaved:
            rounds = self._rep_text(done, total)
            fields: dict[str, Any] = {"completed": self.measured_done, "total": self.measured_total, "count": rounds}
            if name:  # whose turn it was
                fields["description"] = f"[bold]{_escape(name)}[/] ({self._trials_measured} trials in rounds)"
        else:
            self.measured_total = total
            fields = {"completed": done, "total": total, "count": self._rep_text(done, total)}
        self._progress.update(self._work_task, last=format_seconds(wall_s), **fields)

    def trial_finished(self, line: str, failed: bool = False, warnings: Sequence[str] = (), trial: str | None = None) -> None:
        """Count the trial and show its line, and its warnings right under it (not when quiet).

        Given a :attr:`held` list (a sweep's), the warnings go there instead, for the sweep's end,
        where each is said once with the trials that had it; the trial's line still flags them
        (``[spread, oversubscribed]``)."""
        self.done += 1
        self.failed += int(failed)
        if self._progress is not None and self._sweep_task is not None:
            self._progress.update(self._sweep_task, completed=self.done, count=self._count_text())
        if self.mode == QUIET:
            return
        if self.mode == LIVE:
            self._print(Text(line, style="red" if failed else ""))
        else:
            self._print(line)
        if self.held is not None:
            self.held.extend((trial or line, warning) for warning in warnings)
            return
        for warning in warnings:
            self.warn(warning)

    def warn(self, message: str) -> None:
        """A warning: yellow on a terminal, one plain line in a pipe (with the trial lines, on
        stdout, so that a redirected log keeps each warning under its trial); hidden when quiet."""
        if self.mode == QUIET:
            return
        from runner.ui import terminal

        terminal.warn(message, sys.stdout if self.mode == LINES else None)

    # -- estimates ----------------------------------------------------------------------------

    def time_left_s(self) -> float | None:
        """Elapsed time per finished trial x trials left (None until one has finished)."""
        if self.done == 0:
            return None
        elapsed = time.monotonic() - self.started_at
        return max(0.0, elapsed / self.done * (self.total - self.done))

    # -- helpers -------------------------------------------------------------------------------

    def _count_text(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.done}/{self.total} trials{failed}"

    def _rep_text(self, done: int, total: int | None = None) -> str:
        if self._interleaved:
            per_round = max(1, self._trials_measured)
            rounds = max(1, self.measured_total // per_round)
            return f"round {min(rounds, self.measured_done // per_round + 1)}/{rounds}"
        text = f"rep {done}/{total if total is not None else self.measured_total}"
        if self._warmup and done < self._warmup:
            text += " (warm-up)"
        return text

    def _print(self, renderable: Text | str) -> None:
        if isinstance(renderable, str):
            print(renderable, flush=True)
        else:
            self.console.print(renderable)


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# -- the launch's progress, reachable from the launcher and the task ------------------------------

_active: SweepProgress | None = None


def activate(progress: SweepProgress) -> SweepProgress:
    """Start ``progress`` and make it the one :func:`active` returns (stopping any previous one)."""
    global _active
    deactivate()
    _active = progress.start()
    return progress


def active() -> SweepProgress | None:
    return _active


def deactivate() -> None:
    """Stop the active display, if any (also run at exit, so a Ctrl-C leaves a sane terminal)."""
    global _active
    if _active is not None:
        progress, _active = _active, None
        progress.stop()


atexit.register(deactivate)


class _Observer:
    """The scheduler's observer (``runner.execute.schedule.Observer``) feeding the active display."""

    def measuring(self, jobs: Sequence[Any], rounds: int, interleaved: bool) -> None:
        shown = _active
        if shown is not None:
            warmup = max((job.spec.warmup for job in jobs), default=0)
            shown.measuring([job.name for job in jobs], rounds, warmup, interleaved)

    def repetition(self, job: Any, done: int, total: int, wall_s: float) -> None:
        shown = _active
        if shown is not None:
            shown.repetition(done, total, wall_s, job.name)

    def note(self, text: str) -> None:
        shown = _active
        if shown is None:
            print(text, file=sys.stderr, flush=True)
        else:
            shown.note(text)


def observer() -> _Observer:
    """What the scheduler tells about its work, shown on this launch's display."""
    return _Observer()
