"""The report, assembled: the figures (:mod:`analysis.model.report`) and the claims on them
(:mod:`analysis.claims.verdict`). What a notebook, ``parsweep-report`` and the end of a sweep call."""

from __future__ import annotations

import pandas as pd

from analysis.claims.verdict import verdict_lines
from analysis.data.load import EXPERIMENT, load_samples, load_trials
from analysis.model.metrics import finished
from analysis.model.report import Report, build_figures
from analysis.model.stats import CONFIDENCE, RESAMPLES, SEED


def build_report(
    trials: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    intervals: bool = True,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Report:
    """The report of a trial frame (and of its repetition samples: they give the trust of runs
    logged without a ``parsweep.trust`` tag, the per-repetition exports and, unless
    ``intervals=False``, the confidence intervals), with its verdict."""
    report = build_figures(trials, samples, intervals=intervals, confidence=confidence, resamples=resamples, seed=seed)
    report.verdict = verdict_lines(report)
    return report


def load_report(
    tracking_uri: str | None = None,
    *,
    experiment: str = EXPERIMENT,
    sweep: str | None = None,
    all_trials: bool = False,
    intervals: bool = True,
    seed: int = SEED,
) -> Report:
    """Load a selection (see :func:`analysis.data.load.load_trials`) and build its report.

    ``intervals=False`` skips the confidence intervals, and reads only the samples that come
    with the runs (their ``parsweep.rep_wall_times_s`` tags): no metric history is requested.
    """
    trials = load_trials(tracking_uri, experiment=experiment, sweep=sweep, all_trials=all_trials)
    done = finished(trials)
    samples = load_samples(trials.attrs["tracking_uri"], done, history=intervals) if not done.empty else None
    return build_report(trials, samples, intervals=intervals, seed=seed)
