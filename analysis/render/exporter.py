"""What an exporter declares about itself: one :class:`Exporter` per output format.

An exporter is one module under ``analysis/render/`` whose ``EXPORTERS`` lists the formats it
writes; :data:`analysis.render.registry.EXPORTER_MODULES` is the one place that names it. From
there ``--format``, the files ``--out`` writes and the sweep's ``report/`` artifacts follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.model.report import Report


@dataclass(frozen=True)
class Exporter:
    """One output format of a report."""

    name: str  # the --format value
    file_name: str  # its file when written to a directory
    render: Callable[[Report], str]  # the report as this format's text
    #: The same with the names of the PNG plots written beside it (formats that show them).
    render_with_plots: Callable[[Report, list[str]], str] | None = None
    #: Files written beside it: (file name, its text).
    companions: Sequence[tuple[str, Callable[[Report], str]]] = field(default_factory=tuple)
