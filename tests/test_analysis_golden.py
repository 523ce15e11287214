"""Every output format of one small real sweep, byte for byte against golden files.

The store is a real sqlite MLflow store written by :class:`test_analysis_store.StoreBuilder`
(fixed timings, fixed seeds): two workloads sizes, serial / threads / processes, a run with
interleaved rounds, a warning and a failed trial. Each rendering (terminal text, CSV and its
warnings, JSON, markdown, HTML, per-repetition CSV, pyperf JSON) is compared with
``tests/golden/<file>``, after replacing only what differs from store to store: run ids
(``<run-1>``, ``<run-2>``, ... in order of first appearance), the store's path (``<store>``)
and the time stamps of runs (``<time>``). The golden files were first written by the code
before the analysis was reorganised into folders (issue 19, commit 5f18fc8); rendered by the
reorganised code the same store differed only by two deliberate changes made meanwhile (issue
22: warnings grouped by kind in the terminal text, the ``remeasured`` count in the JSON), which
were then written in. A refactor that changes a byte of output fails here.

Regenerate them (after a deliberate change of output; read the diff before committing)::

    PARSWEEP_REGEN_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_analysis_golden.py -p no:cacheprovider
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from test_analysis_store import StoreBuilder, reps_around

from analysis.render.export_csv import warnings_csv
from analysis.render.registry import FILE_NAMES, render
from analysis.report import load_report

pytestmark = pytest.mark.timeout(300)

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("PARSWEEP_REGEN_GOLDEN") == "1"
FORMATS = ("table", "markdown", "csv", "html", "json", "samples-csv", "pyperf")


def build_store(directory: Path) -> tuple[StoreBuilder, str]:
    builder = StoreBuilder(directory)
    sweep = builder.sweep("sweep · golden")
    for n, scale in ((1000, 0.01), (100000, 1.0)):
        group = f"rounds-{n}" if n == 100000 else None  # the large n ran in interleaved rounds: paired intervals
        builder.trial(sweep, "serial", 1, n, reps_around(1.0 * scale), group=group)
        builder.trial(sweep, "threading", 2, n, reps_around(1.02 * scale), group=group)
        builder.trial(sweep, "multiprocessing", 2, n, reps_around(0.55 * scale), group=group)
        builder.trial(sweep, "multiprocessing", 4, n, reps_around(0.3 * scale), group=group,
                      warnings=["load average 3.1 above usable CPUs"] if n == 1000 else None)
    builder.trial(sweep, "multiprocessing", 8, 100000, None, status="FAILED", error="worker crashed")
    builder.finish_sweep(sweep, "FAILED")
    return builder, sweep


def normalise(text: str, uri: str) -> str:
    """Run ids in order of appearance, the store's path, run time stamps."""
    ids: dict[str, str] = {}
    text = text.replace(uri, "<store>").replace(uri.removeprefix("sqlite:///"), "<store>")
    text = re.sub(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", lambda m: ids.setdefault(m.group(0), f"<run-{len(ids) + 1}>"), text)
    return re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "<time>", text)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    builder, sweep = build_store(tmp_path_factory.mktemp("golden"))
    report = load_report(builder.uri, sweep=sweep)
    texts = {FILE_NAMES[fmt]: render(report, fmt) for fmt in FORMATS}
    texts["warnings.csv"] = warnings_csv(report)
    return {name: normalise(text, builder.uri) for name, text in texts.items()}


@pytest.mark.parametrize("name", [*(FILE_NAMES[fmt] for fmt in FORMATS), "warnings.csv"])
def test_output_is_byte_for_byte_the_golden_file(outputs: dict[str, str], name: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(outputs[name], encoding="utf-8")
    assert outputs[name] == path.read_text(encoding="utf-8"), f"{name} differs from {path} (see the module's docstring)"
