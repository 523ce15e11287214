"""The comparison half of ``parsweep-reproduce``: is a re-run within noise of the original?

It shares its statistics with ``parsweep-report --compare`` (:func:`analysis.model.stats.difference`:
the Mann-Whitney test with its power, the interval of the ratio of medians), with its own band:
:data:`~analysis.model.stats.WITHIN_NOISE` (0.8-1.25), a re-run's "within noise", never "no difference"),
and its trust marks with every other claim: a verdict on a side that is not trusted says so.
Nothing here runs anything or talks to MLflow (the re-run half is :mod:`runner.app.reproduce`).

Tests with power (:func:`noise_verdict`): a two-sided Mann-Whitney U test (scipy) on the
repetitions. With N against M repetitions it cannot go below p = 2 / C(N+M, N); when that is
above 5% the verdict is "cannot tell: N vs M repetitions are too few", never "within noise".
"Within noise" also needs the 95% interval of new/original (ratio of medians) within 0.8-1.25
(else "cannot tell: too noisy"), so a 2x change never reads as within noise. So that the test
can decide, the re-run gets the smallest repetition count (at least the original's, at most 50)
that lets it reach p < 0.05 against the original's (:func:`rerun_repeats`; 3 originals: 5).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from analysis.model.stats import ALPHA, FASTER, NO_DIFFERENCE, SEED, SLOWER, WITHIN_NOISE, can_reach_alpha, difference, repeats_for_power, too_few_text


def noise_verdict(
    original: Sequence[float], new: Sequence[float], alpha: float = ALPHA, seed: int = SEED
) -> tuple[bool | None, str]:
    """Whether ``new`` is within noise of ``original``: True (yes), False (no: a difference), None (cannot tell).

    :func:`analysis.model.stats.difference`: "within noise" needs the Mann-Whitney test to find no
    difference *and* the 95% interval of new/original (ratio of medians) to lie within
    0.8-1.25; a difference needs p < ``alpha`` and an interval that excludes 1. When the two
    sample sizes cannot give p < ``alpha`` at all it says "cannot tell: N vs M repetitions are too few".
    """
    found = difference(original, new, alpha=alpha, seed=seed, band=WITHIN_NOISE)
    ci = "no CI" if math.isnan(found.ci_low) else f"95% CI of the ratio {found.ci_low:.2f}–{found.ci_high:.2f}"
    detail = f"Mann-Whitney p={found.p_value:.3f}, {ci}, {found.before_count} vs {found.after_count} reps"
    if found.verdict == NO_DIFFERENCE:
        return True, f"yes ({detail})"
    if found.verdict in (FASTER, SLOWER):
        factor = found.ratio if found.ratio >= 1 else 1 / found.ratio
        return False, f"NO: {factor:.2f}x {found.verdict} ({detail})"
    if not can_reach_alpha(found.before_count, found.after_count, alpha):
        return None, too_few_text(found.before_count, found.after_count)
    return None, f"cannot tell: too noisy ({detail}; within noise needs the CI within {WITHIN_NOISE[0]:g}–{WITHIN_NOISE[1]:g})"


def rerun_repeats(original_counts: Sequence[int], alpha: float = ALPHA) -> int | None:
    """The ``repeats`` a re-run needs: for every original trial, enough repetitions that its
    test against the original's count can reach p < ``alpha`` (at least the original's; at most
    :data:`analysis.model.stats.MAX_REPEATS`). None when no original logged a repetition (nothing to
    test against: the logged ``repeats`` stands)."""
    counts = [count for count in original_counts if count > 0]
    return max(repeats_for_power(count, alpha) for count in counts) if counts else None


# -- environment differences ------------------------------------------------------------------


def facts_from_tags(tags: dict[str, str]) -> dict[str, dict[str, Any]]:
    facts: dict[str, dict[str, Any]] = {"host": {}, "python": {}, "packages": {}, "git": {}}
    for key, value in tags.items():
        section, _, name = key.partition(".")
        if section in ("host", "python", "git") and name:
            facts[section][name] = value
    return facts


COMPARED = (
    ("host", "host", ("name", "cpu_model", "cpu_logical", "cpu_physical", "cpu_usable")),
    ("python", "Python build", ("version", "implementation", "build", "compiler", "gil_enabled")),
    ("packages", "package version", None),
    ("git", "git commit", ("commit", "dirty")),
)


def environment_differences(original: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per fact that differs: host, Python build, package versions, git commit."""
    lines = []
    for section, label, keys in COMPARED:
        before = original.get(section) or {}
        after = current.get(section) or {}
        names = keys if keys is not None else sorted(set(before) | set(after))
        for name in names:
            if name not in before:
                continue  # not recorded then: nothing to compare
            old, new = str(before.get(name)).lower(), str(after.get(name, "absent")).lower()
            if old != new:
                lines.append(f"{label} differs: {name} was {before.get(name)}, now {after.get(name, 'absent')}")
    return lines


# -- one re-run against its original ---------------------------------------------------------


@dataclass
class Rerun:
    """One trial and its re-run, judged: medians, whether the re-run was right, the verdict."""

    name: str
    original_s: float | None
    new_s: float | None
    correct: bool
    status: str
    verdict: str


def judge_rerun(
    name: str,
    original_median: float | None,
    original_samples: Sequence[float],
    original_trust: str | None,
    new_median: float | None,
    new_samples: Sequence[float],
    new_trust: str | None,
    correct: bool,
    status: str,
    error: str | None = None,
) -> Rerun:
    """The verdict on one re-run: within noise of the original or not (:func:`noise_verdict`), with
    the trust of either side that is not trusted; a wrong or failed re-run says why instead."""
    if status == "MISSING":
        return Rerun(name, original_median, None, False, status, "no new run was logged")
    if original_samples and new_samples:
        _, verdict = noise_verdict(original_samples, new_samples)
    else:
        verdict = "cannot tell (no repetition samples)"
    if not correct:
        verdict = error or status
    else:
        verdict += _trust_note(original_trust, new_trust)
    return Rerun(name, original_median, new_median, correct, status, verdict)


def _trust_note(original: str | None, new: str | None) -> str:
    """`` [?: original: spread]`` when either side is not trusted: the verdict carries its trust."""
    from analysis.model.trust import is_ok

    parts = [f"{side}: {text}" for side, text in (("original", original), ("re-run", new)) if text and not is_ok(text)]
    return f" [?: {'; '.join(parts)}]" if parts else ""


def _seconds(value: float | None) -> str:
    from analysis.model.formatting import format_seconds

    return format_seconds(value)


def print_reruns(rows: list[Rerun], out: Any = sys.stdout) -> None:
    """The re-runs as a table for people, with what each column means."""
    width = max([len(r.name) for r in rows] + [5])
    print(f"\n{'trial':<{width}}  {'original':>10}  {'new':>10}  {'ratio':>6}  within noise?", file=out)
    for row in rows:
        ratio = f"{row.new_s / row.original_s:5.2f}x" if row.new_s and row.original_s else "   -  "
        verdict = row.verdict if row.correct else f"FAILED: {row.verdict}"
        print(f"{row.name:<{width}}  {_seconds(row.original_s):>10}  {_seconds(row.new_s):>10}  {ratio:>6}  {verdict}", file=out)
    print("(ratio: new median / original median; within noise: the Mann-Whitney test finds no difference at the 5% level "
          "and the 95% CI of the ratio lies within 0.8-1.25; cannot tell: too few repetitions for the test, or too noisy)", file=out)
