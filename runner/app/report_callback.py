"""The speedup table at the end of a sweep: a Hydra callback of its own (``conf/config.yaml``:
``hydra.callbacks.report``). It belongs to the Hydra glue and calls the analysis (the analysis
is a library that knows nothing of Hydra, the app or the terminal); only this app layer may
import it, and only when the sweep ends (the launch path never pays for pandas).

It runs before the tracking callback's end (Hydra calls the callbacks' ``on_multirun_end``
in reverse order), so the table comes before the lines that say where everything is. It
draws nothing when the sweep ran nothing or its trials wait in the journal for a store that
went away; a failure to draw is one warning line, never a failed sweep.
"""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class ReportCallback(Callback):
    """Prints the sweep's report and attaches it to the sweep's run (see :mod:`analysis.publish`)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.app.launch import current
        from runner.ui import progress, terminal

        session = current().session
        if session is None or not session.parent_run_id:
            return
        session.settle()
        if session.done == 0:
            return
        if session.recorder.unlogged() or not session.recorder.available():
            return
        progress.deactivate()
        try:
            from analysis.publish import publish_sweep

            text = publish_sweep(session.uri, session.parent_run_id, plots=session.plots)
        except Exception as exc:  # the table is a courtesy: it must not hide failed trials or the exit code
            terminal.warn(f"could not build the speedup table: {terminal.describe(exc)}")
            return
        if not text:
            return
        session.held_warnings.clear()  # the report's warnings section says each once, with its trials
        if not session.quiet:
            print()
        print(text, flush=True)
