"""Adding a part touches the files docs/ARCHITECTURE.md says, and it works: here, an exporter and a column.

A throwaway exporter is one module (written to a temporary folder, as a user's would be)
declaring ``EXPORTERS``; registering it makes ``render``, ``write_all`` and ``FILE_NAMES``
know the new format, from a real store's report. A throwaway column is one more entry in
:data:`analysis.model.columns.COLUMNS`: the table computes it, the CSV and JSON export it, the
terminal, markdown and HTML show it with its alignment and its legend. (Backends and workloads:
``tests/test_runner_extend.py``.)
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
from test_analysis_golden import build_store

from analysis.model import columns
from analysis.model.columns import Cell, Column
from analysis.model.formatting import format_seconds
from analysis.render import registry as formats
from analysis.report import load_report

pytestmark = pytest.mark.timeout(300)

TSV_MODULE = '''
"""Tab-separated table: a throwaway exporter."""
from analysis.render.exporter import Exporter


def to_tsv(report):
    table = report.csv_frame()
    lines = ["\\t".join(table.columns)]
    lines += ["\\t".join(str(v) for v in row) for row in table.itertuples(index=False)]
    return "\\n".join(lines) + "\\n"


EXPORTERS = [Exporter("tsv", "report.tsv", to_tsv)]
'''


def test_a_new_exporter_is_one_module_registered_in_one_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "export_tsv_throwaway.py").write_text(textwrap.dedent(TSV_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    for name in ("EXPORTERS", "FILE_NAMES", "RENDERERS"):
        monkeypatch.setattr(formats, name, dict(getattr(formats, name)))
    monkeypatch.setattr(formats, "FORMATS", formats.EXPORTERS.keys())  # the copy's view
    monkeypatch.setattr(formats, "EXPORTER_MODULES", [*formats.EXPORTER_MODULES, "export_tsv_throwaway"])
    for exporter in importlib.import_module("export_tsv_throwaway").EXPORTERS:
        formats.register(exporter)
    assert list(formats.FORMATS)[-1] == "tsv" and formats.FILE_NAMES["tsv"] == "report.tsv"

    builder, sweep = build_store(tmp_path / "store")
    report = load_report(builder.uri, sweep=sweep)
    text = formats.render(report, "tsv")
    assert text.splitlines()[0].split("\t")[:4] == list(report.csv_frame().columns[:4])
    assert len(text.splitlines()) == len(report.table) + 1
    written = formats.write_all(report, tmp_path / "out", plots=False)
    assert (tmp_path / "out" / "report.tsv").read_text() == text
    assert [p.name for p in written][-1] == "report.tsv"
    sys.modules.pop("export_tsv_throwaway", None)


#: A throwaway column: the CPU-seconds of workers a row's wall time holds.
WORKER_SECONDS = Column(
    "worker_seconds", "wall time x workers", compute=lambda table: table["wall_time_s"] * table["workers"],
    cell=Cell("worker-s", lambda rows, trusted: rows["worker_seconds"].map(format_seconds),
              legend="worker-s = wall time x workers"),
)


def test_a_new_column_is_one_declaration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columns, "COLUMNS", (*columns.COLUMNS, WORKER_SECONDS))  # the one entry a contributor adds
    builder, sweep = build_store(tmp_path / "store")
    report = load_report(builder.uri, sweep=sweep)
    assert list(report.table["worker_seconds"]) == list(report.table["wall_time_s"] * report.table["workers"])

    csv = formats.render(report, "csv").splitlines()
    assert csv[0].split(",")[-2:] == ["worker_seconds", "run_ids"]  # declared last: exported last, before the run ids
    assert formats.render(report, "json").count('"worker_seconds":') == len(report.table)
    text = formats.render(report, "table")
    header = next(line for line in text.splitlines() if line.lstrip().startswith("n ") and "speedup" in line)
    assert header.split()[-1] == "worker-s"  # shown last, right-aligned like every number
    assert "; worker-s = wall time x workers; Amdahl f" in text  # its legend, after the other columns'
    markdown = formats.render(report, "markdown")
    header_line = next(line for line in markdown.splitlines() if line.startswith("| n |"))
    rule = markdown.splitlines()[markdown.splitlines().index(header_line) + 1]
    assert header_line.endswith("| worker-s |") and rule.endswith("|---:|")
    assert '<th class="num">worker-s</th>' in formats.render(report, "html")
