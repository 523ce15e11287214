"""The tree shows the architecture, and the imports keep to it.

``runner`` is layered: ``host`` (the machine) < ``trial`` (what runs inside a trial process)
< ``tracking``, ``execute``, ``ui`` < ``app`` (the Hydra glue); ``analysis`` sits above the
runner and the runner never imports it; the Hydra plugin imports nothing of parsweep at import
time. Every import is read from the source (function-level imports included), so a cycle or a
layer skipped upwards fails here.
"""

from __future__ import annotations

import ast
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.timeout(60)

NODES = ("runner.host", "runner.trial", "runner.tracking", "runner.execute", "runner.ui", "runner.app", "analysis", "hydra_plugins")
# What the trial process may import besides the standard library: optional psutil, the
# workloads' and cluster backends' own packages (imported only by their modules).
TRIAL_SIDE_THIRD_PARTY = {"psutil", "numpy", "ray", "distributed", "cpuinfo"}


def node_of(module: str) -> str | None:
    for node in NODES:
        if module == node or module.startswith(node + "."):
            return node
    if module == "runner.__main__":
        return module  # the `python -m runner` entry: above everything it starts
    return "runner" if module == "runner" else None  # the package itself: its version, nothing else


def imports() -> dict[str, set[tuple[str, str]]]:
    """Per module (dotted name): every (imported module, where) it imports."""
    found: dict[str, set[tuple[str, str]]] = {}
    for top in ("runner", "analysis", "hydra_plugins"):
        for path in (REPO / top).rglob("*.py"):
            module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            names: set[tuple[str, str]] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {(alias.name, f"{path.relative_to(REPO)}:{node.lineno}") for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add((node.module, f"{path.relative_to(REPO)}:{node.lineno}"))
                    names |= {(f"{node.module}.{alias.name}", f"{path.relative_to(REPO)}:{node.lineno}") for alias in node.names}
            found[module] = names
    return found


def edges() -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    known = imports()
    for module, names in known.items():
        source = node_of(module)
        for name, where in names:
            target = node_of(name)
            if source and target and source != target and (name in known or name.rsplit(".", 1)[0] in known):
                out.setdefault((source, target), where)
    return out


def test_the_layers_form_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for source, target in edges():
        graph.setdefault(source, set()).add(target)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(path[path.index(nxt):] + [nxt])}")
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


@pytest.mark.parametrize(
    "source, target",
    [
        ("runner.host", "runner.trial"), ("runner.trial", "runner.tracking"), ("runner.trial", "runner.execute"),
        ("runner.trial", "runner.app"), ("runner.trial", "runner.ui"), ("runner.host", "runner.app"),
        ("runner.tracking", "runner.app"), ("runner.execute", "runner.app"), ("runner.ui", "runner.app"),
        *[(layer, "analysis") for layer in NODES if layer.startswith("runner")],
    ],
)
def test_no_layer_imports_one_above_it(source: str, target: str) -> None:
    where = edges().get((source, target))
    assert where is None, f"{source} imports {target} at {where}"


def test_the_trial_side_needs_only_the_standard_library() -> None:
    """What the trial process runs must import under any CPython >= 3.10 with nothing installed."""
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for module, names in imports().items():
        if not module.startswith(("runner.trial", "runner.host")):
            continue
        for name, where in names:
            top = name.split(".")[0]
            if top in stdlib or top == "runner" or top == "__future__":
                continue
            if top in TRIAL_SIDE_THIRD_PARTY:
                continue
            offenders.append(f"{where}: {name}")
    assert offenders == [], offenders


def test_runner_has_its_layers_as_folders() -> None:
    flat = sorted(p.name for p in (REPO / "runner").glob("*.py"))
    assert flat == ["__init__.py", "__main__.py"], f"modules outside a layer: {flat}"
    for layer in ("app", "execute", "host", "tracking", "trial", "ui"):
        assert (REPO / "runner" / layer / "__init__.py").is_file(), layer
