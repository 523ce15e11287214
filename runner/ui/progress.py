"""What the user sees while a sweep runs: a live display on a terminal, plain lines elsewhere.

Three modes, chosen once per launch:

- ``live``: stdout is an interactive terminal. A rich progress display shows trials done /
  total, the current trial, elapsed time and the time left (estimated from the trials that
  finished), and under it the current trial's repetition k of R. Finished trials are printed
  above the display as they complete, so the log stays on screen once the display is gone.
- ``lines``: stdout is a pipe, a file or a CI log. One plain line per finished trial.
- ``quiet``: ``quiet=true``. Nothing until the final table; errors still go to stderr.

The launcher process owns the display; the trial's repetition messages reach it through
:func:`repetition_hook` (:func:`runner.execute.isolation.run_isolated` calls the hook as the trial
process reports each repetition). Nothing here knows about Hydra or MLflow.
"""

from __future__ import annotations

import atexit
import sys
import time
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.text import Text

LIVE, LINES, QUIET = "live", "lines", "quiet"
# The display refreshes from a thread of the launcher while trials run in their own
# process; twice a second is smooth enough and costs the measured cores next to nothing.
REFRESH_PER_SECOND = 2

RepetitionHook = Callable[[int, int, float], None]


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
    """``3/12 trials`` for the sweep, ``rep 2/6 (warm-up)`` for the trial."""

    def render(self, task: Task) -> Text:
        return Text(str(task.fields.get("count", "")), style="progress.download")


class _TimeColumn(ProgressColumn):
    """Elapsed time, and for the sweep the estimated time left."""

    def __init__(self, owner: "SweepProgress") -> None:
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
        self.trial_started_at: float | None = None
        self.finished_s = 0.0  # summed duration of finished trials, for the estimate
        self.console = console or Console(highlight=False, soft_wrap=True, emoji=False)
        self._progress: Progress | None = None
        self._sweep_task: TaskID | None = None
        self._trial_task: TaskID | None = None
        self._repetitions = 0
        self._warmup = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "SweepProgress":
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
                self._sweep_task = self._progress.add_task(
                    "sweep", total=self.total, kind="sweep", count=self._count_text()
                )
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

    def trial_started(self, name: str, repetitions: int, warmup: int = 0) -> None:
        self.trial_started_at = time.monotonic()
        self._repetitions, self._warmup = repetitions, warmup
        if self._progress is None:
            return
        if self._trial_task is not None:
            self._progress.remove_task(self._trial_task)
        self._trial_task = self._progress.add_task(
            f"[bold]{_escape(name)}[/]", total=repetitions, kind="trial", count=self._rep_text(0), last=None
        )

    def repetition(self, done: int, total: int, wall_s: float) -> None:
        """Repetition ``done`` of ``total`` (warm-up included) finished in ``wall_s`` seconds."""
        if self._progress is None or self._trial_task is None:
            return
        from runner.ui.terminal import format_seconds

        self._repetitions = total
        self._progress.update(
            self._trial_task, completed=done, total=total, count=self._rep_text(done), last=format_seconds(wall_s)
        )

    def trial_finished(self, line: str, failed: bool = False) -> None:
        """Count the trial and show its one-line summary (not when quiet)."""
        now = time.monotonic()
        if self.trial_started_at is not None:
            self.finished_s += now - self.trial_started_at
            self.trial_started_at = None
        self.done += 1
        self.failed += int(failed)
        if self._progress is not None:
            if self._trial_task is not None:
                self._progress.remove_task(self._trial_task)
                self._trial_task = None
            if self._sweep_task is not None:
                self._progress.update(self._sweep_task, completed=self.done, count=self._count_text())
        if self.mode == QUIET:
            return
        if self.mode == LIVE:
            self._print(Text(line, style="red" if failed else ""))
        else:
            self._print(line)

    def warn(self, message: str) -> None:
        """A warning about a trial: stands out on a terminal, one line elsewhere; hidden when quiet."""
        if self.mode == QUIET:
            return
        from runner.ui import terminal

        terminal.warn(message)

    # -- estimates ----------------------------------------------------------------------------

    def time_left_s(self) -> float | None:
        """Mean duration of the finished trials x trials left, minus what the current one has run."""
        if self.done == 0:
            return None
        mean = self.finished_s / self.done
        left = mean * (self.total - self.done)
        if self.trial_started_at is not None:
            left -= min(mean, time.monotonic() - self.trial_started_at)
        return max(0.0, left)

    # -- helpers -------------------------------------------------------------------------------

    def _count_text(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.done}/{self.total} trials{failed}"

    def _rep_text(self, done: int) -> str:
        text = f"rep {done}/{self._repetitions}"
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


# -- the launch's progress, reachable from the task that runs the trial ------------------------

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


def repetition_hook() -> RepetitionHook | None:
    """The hook for :func:`runner.execute.isolation.run_isolated`, when a display wants repetitions."""
    progress = _active
    if progress is None or progress.mode != LIVE:
        return None
    return progress.repetition
