"""Adding a part touches the files docs/ARCHITECTURE.md says, and it works: here, an exporter.

A throwaway exporter is one module (written to a temporary folder, as a user's would be)
declaring ``EXPORTERS``; registering it makes ``render``, ``write_all`` and ``FILE_NAMES``
know the new format, from a real store's report.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
from test_analysis_golden import build_store

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
    monkeypatch.setattr(formats, "FORMATS", formats.FORMATS)
    monkeypatch.setattr(formats, "EXPORTER_MODULES", [*formats.EXPORTER_MODULES, "export_tsv_throwaway"])
    for exporter in importlib.import_module("export_tsv_throwaway").EXPORTERS:
        formats.register(exporter)
    assert formats.FORMATS[-1] == "tsv" and formats.FILE_NAMES["tsv"] == "report.tsv"

    builder, sweep = build_store(tmp_path / "store")
    report = load_report(builder.uri, sweep=sweep)
    text = formats.render(report, "tsv")
    assert text.splitlines()[0].split("\t")[:4] == list(report.csv_frame().columns[:4])
    assert len(text.splitlines()) == len(report.table) + 1
    written = formats.write_all(report, tmp_path / "out", plots=False)
    assert (tmp_path / "out" / "report.tsv").read_text() == text
    assert [p.name for p in written][-1] == "report.tsv"
    sys.modules.pop("export_tsv_throwaway", None)
