"""The tree shows the architecture, and the imports keep to it.

``runner`` is layered: ``host`` (the machine) < ``trial`` (what runs inside a trial process)
< ``tracking``, ``execute``, ``ui`` < ``app`` (the Hydra glue). ``analysis`` is a library over
MLflow and pandas, layered too: ``data`` (reading MLflow) < ``model`` (figures, statistics, trust,
the report's model) < ``claims`` (conclusions) and ``render`` (renderings) < the package's own
modules (the assembled report, publishing, the CLI). The analysis may use the runner's lower
layers (``host``, ``trial``, ``tracking``: names, the store's door, units) but never ``runner.app``,
``runner.execute`` or ``runner.ui``, and never Hydra: it imports in a notebook with no Hydra app.
Of the runner only ``app`` (the sweep-end report, ``parsweep-reproduce``'s re-run) uses the
analysis. The Hydra plugin imports nothing of parsweep at import time. Every import is read from
the source (function-level imports included), so a cycle or a layer skipped upwards fails here.
docs/ARCHITECTURE.md says the same in prose; :func:`test_the_architecture_page_names_every_layer`
keeps the two together.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.timeout(60)

NODES = (
    "runner.host", "runner.trial", "runner.tracking", "runner.execute", "runner.ui", "runner.app",
    "analysis.data", "analysis.model", "analysis.claims", "analysis.render", "analysis", "hydra_plugins",
)
ANALYSIS = ("analysis.data", "analysis.model", "analysis.claims", "analysis.render", "analysis")
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
        # of the runner, only the app uses the analysis
        *[(layer, part) for layer in NODES if layer.startswith("runner") and layer != "runner.app" for part in ANALYSIS],
        # the analysis is a library: no app, no terminal, no trial scheduling
        *[(part, layer) for part in ANALYSIS for layer in ("runner.app", "runner.ui", "runner.execute")],
        # and layered inside
        *[("analysis.data", part) for part in ANALYSIS if part != "analysis.data"],
        *[("analysis.model", part) for part in ("analysis.claims", "analysis.render", "analysis")],
        *[(part, "analysis") for part in ("analysis.claims", "analysis.render")],
        ("analysis.claims", "analysis.render"),
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


def test_the_analysis_never_imports_hydra() -> None:
    offenders = [f"{where}: {name}" for module, names in imports().items() if module.startswith("analysis")
                 for name, where in names if name.split(".")[0] in ("hydra", "omegaconf")]
    assert offenders == [], offenders


def test_the_analysis_imports_without_the_app() -> None:
    """In a fresh interpreter: the whole analysis imports, and neither Hydra nor the app comes with it."""
    import subprocess

    code = ("import sys, analysis.report, analysis.publish, analysis.notebook, analysis.__main__, analysis.render.registry, "
            "analysis.claims.reproduction, analysis.model.compare; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('hydra', 'omegaconf') or "
            "m.startswith(('runner.app', 'runner.ui', 'runner.execute'))); print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_analysis_has_its_layers_as_folders() -> None:
    top = sorted(p.name for p in (REPO / "analysis").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "notebook.py", "publish.py", "report.py"], top
    for layer in ("data", "model", "claims", "render"):
        assert (REPO / "analysis" / layer / "__init__.py").is_file(), layer


def test_the_architecture_page_names_every_layer() -> None:
    page = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    for node in NODES:
        assert f"`{node}`" in page, f"docs/ARCHITECTURE.md does not name {node}"


def adding_one() -> str:
    page = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    return page[page.index("## Adding one"):]


def test_the_adding_one_section_names_files_that_exist() -> None:
    """Every file it names is there (``<name>``: at least one such file), and so are its tests."""
    import re

    for path in re.findall(r"`([\w./<>-]+\.(?:py|yaml))`", adding_one()):
        pattern = re.sub(r"<\w+>", "*", path)
        assert list(REPO.glob(pattern)), f"docs/ARCHITECTURE.md names {path}: no such file"


def test_parts_are_not_named_where_the_page_says_their_declarations_are_read() -> None:
    """The plan, the report's order, the fork servers and the verdict's kinds read what backends and
    workloads declare: none of them names one (but ``serial``, the baseline every speedup is taken against)."""
    from runner.trial import backends, workloads

    parts = (set(backends.available()) | set(workloads.available())) - {"serial"}
    for path in ("runner/trial/forkserver.py", "runner/execute/processes.py", "runner/ui/plan.py", "analysis/model/metrics.py",
                 "analysis/model/columns.py", "analysis/render/views.py", "analysis/render/registry.py", "analysis/claims/verdict.py"):
        tree = ast.parse((REPO / path).read_text())
        named = sorted({node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value in parts})
        assert named == [], f"{path} names {named}"


def test_runner_has_its_layers_as_folders() -> None:
    flat = sorted(p.name for p in (REPO / "runner").glob("*.py"))
    assert flat == ["__init__.py", "__main__.py"], f"modules outside a layer: {flat}"
    for layer in ("app", "execute", "host", "tracking", "trial", "ui"):
        assert (REPO / "runner" / layer / "__init__.py").is_file(), layer


#: The ``global`` statements left, and why each holds state for the whole process rather than on an
#: object a caller could pass. A new one fails here until it says why.
GLOBALS_ALLOWED = {
    # signal handlers belong to the process; Python calls them with no object of ours
    ("runner/execute/signals.py", "_received"): "signal handler",
    ("runner/execute/signals.py", "_stopping"): "signal handler",
    ("runner/execute/signals.py", "_deferring"): "signal handler",
    # a pool worker's initializer can only leave the barrier where that worker's later tasks find it
    ("runner/trial/backends/pools.py", "_barrier"): "pool-worker initializer",
    # the trial interpreters' code folder: one per process, made on first use, removed at exit
    ("runner/execute/processes.py", "_CODE_PATH"): "one temporary folder per process",
    # the launch's live display: Hydra instantiates the callbacks and the launcher and calls the task
    # separately, and they share nothing but the process; atexit stops it on Ctrl-C
    ("runner/ui/progress.py", "_active"): "Hydra-instantiated parts share the display",
    # the open launch: Hydra instantiates the callbacks, the sweeper and the launcher from the config,
    # each by itself, and they share nothing but the process; what they hand each other (the dry-run
    # flag, the session, the sweep's plan, the callbacks Ctrl-C must abort) is on that one object
    ("runner/app/launch.py", "_current"): "the one door from Hydra-instantiated parts to their launch",
}


def test_no_global_statement_but_the_allowed_ones() -> None:
    found = set()
    for top in ("runner", "analysis", "hydra_plugins"):
        for path in sorted((REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Global):
                    found |= {(str(path.relative_to(REPO)), name) for name in node.names}
    assert found - set(GLOBALS_ALLOWED) == set(), "a module global set from a function: pass an object instead, or say why here"
    assert set(GLOBALS_ALLOWED) - found == set(), "gone: take it off GLOBALS_ALLOWED"


MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem", "add", "discard", "sort", "reverse"}


def module_containers(path: Path) -> dict[str, int]:
    """The module-level names ``path`` binds to a list, dict or set (a display, a comprehension or a
    call of ``list``/``dict``/``set``/``collections``), with their lines."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        container = isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)) or (
            isinstance(value, ast.Call) and ast.unparse(value.func).split(".")[-1] in ("list", "dict", "set", "defaultdict", "deque", "OrderedDict")
        )
        if container:
            found |= {target.id: node.lineno for target in targets if isinstance(target, ast.Name)}
    return found


def mutated_names(tree: ast.AST) -> set[str]:
    """Names (or ``module.NAME`` attributes) whose container is changed in place: a mutating method,
    an item or slice assigned or deleted, an augmented assignment."""
    def name(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        return node.attr if isinstance(node, ast.Attribute) else None

    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            found.add(name(node.func.value))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            for target in node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]:
                if isinstance(target, ast.Subscript):
                    found.add(name(target.value))
                elif isinstance(node, ast.AugAssign):
                    found.add(name(target))
    return found - {None}


def test_the_app_hands_nothing_over_through_module_containers() -> None:
    """The Hydra app's parts share one launch (``runner/app/launch.py``), never a module-level list or
    dict that one part fills and another reads (the dry-run flag, the live callbacks, the plan and
    the session once were such lists). A module-level container in ``runner/app`` is a constant: named
    in capitals, not empty, and changed nowhere (tests may patch one, the code never does)."""
    changed = set()
    for top in ("runner", "analysis", "hydra_plugins"):
        for path in (REPO / top).rglob("*.py"):
            changed |= mutated_names(ast.parse(path.read_text()))
    offenders = []
    for path in sorted((REPO / "runner" / "app").rglob("*.py")):
        tree = ast.parse(path.read_text())
        empty = {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign)) and isinstance(n.value, (ast.List, ast.Dict, ast.Set))
                 and not (n.value.keys if isinstance(n.value, ast.Dict) else n.value.elts)
                 for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
        for name, line in module_containers(path).items():
            if not name.isupper() or name in empty or name in changed:
                offenders.append(f"{path.relative_to(REPO)}:{line}: {name}")
    assert offenders == [], f"module-level state in the Hydra app: put it on the launch (runner.app.launch.Launch): {offenders}"


#: Module-level containers outside the app that the code changes, and why each belongs to the process
#: rather than to an object a caller could pass. A new one fails the test below until it says why.
CONTAINERS_ALLOWED = {
    # a trial interpreter's fork server is a process of ours, started once and shared by every
    # scheduler of this process (a sweep's, a reproduction's); atexit closes them all
    ("runner/execute/processes.py", "_SERVERS"): "one fork server per interpreter per process",
    # probing an interpreter is a subprocess; its answer is a fact of this machine, not of a launch
    ("runner/execute/interpreters.py", "_RESOLVED"): "a memo of resolved interpreters",
    # the format registry: register() adds a notebook's own exporter at run time, and every
    # renderer reads the one registry (the exporter modules are listed in EXPORTER_MODULES)
    ("analysis/render/registry.py", "EXPORTERS"): "the format registry",
    ("analysis/render/registry.py", "FILE_NAMES"): "the format registry",
    ("analysis/render/registry.py", "RENDERERS"): "the format registry",
}


def changed_containers(path: Path, attributes: set[str]) -> dict[str, int]:
    """The module-level names of ``path`` whose value is changed in place: by the module itself, or
    as ``module.NAME`` anywhere (``attributes``). Whatever made the value (a display, a call), and
    ``__all__`` aside."""
    tree = ast.parse(path.read_text())
    bound = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) and node.value else []
        bound |= {target.id: node.lineno for target in targets if isinstance(target, ast.Name)}
    own = mutated_names(tree)
    return {name: line for name, line in bound.items() if name != "__all__" and (name in own or name in attributes)}


def mutated_attributes(tree: ast.AST) -> set[str]:
    """Like :func:`mutated_names`, only the ``module.NAME`` kind (a container changed from elsewhere)."""
    rebuilt = ast.parse(ast.unparse(tree))
    for node in ast.walk(rebuilt):  # hide plain names: keep only what is reached as an attribute
        if isinstance(node, ast.Name):
            node.id = "\0"
    return mutated_names(rebuilt) - {"\0"}


def test_module_state_is_constant_or_says_why() -> None:
    """Everywhere, not only in the app: a module-level list, dict or set that the code changes is
    process-wide state. Each one left is on :data:`CONTAINERS_ALLOWED` with its reason (a resource of
    the process, a memo, a registry); the in-flight trials and a sweep's held warnings, once such
    lists, now live on the launch and the session."""
    tops = ("runner", "analysis", "hydra_plugins")
    attributes = set()
    for top in tops:
        for path in (REPO / top).rglob("*.py"):
            attributes |= mutated_attributes(ast.parse(path.read_text()))
    found = {}
    for top in tops:
        for path in sorted((REPO / top).rglob("*.py")):
            for name, line in changed_containers(path, attributes).items():
                found[(str(path.relative_to(REPO)), name)] = line
    found = {key: line for key, line in found.items() if key not in GLOBALS_ALLOWED}  # said why there
    assert set(found) - set(CONTAINERS_ALLOWED) == set(), "module-level state changed in place: pass an object instead, or say why here"
    assert set(CONTAINERS_ALLOWED) - set(found) == set(), "gone: take it off CONTAINERS_ALLOWED"


def test_the_state_rule_sees_a_list_filled_from_another_module(tmp_path: Path) -> None:
    """The rule above on the shape the in-flight list had: an empty module list that the module
    fills itself, and one that another module fills through ``module.NAME``."""
    (tmp_path / "a.py").write_text("_MEASURING: list[int] = []\nPENDING = []\nKEYS = {'a': 1}\ndef go(x):\n    _MEASURING.extend(x)\n")
    elsewhere = mutated_attributes(ast.parse("import a\ndef f():\n    a.PENDING.append(1)\n"))
    assert elsewhere == {"PENDING"}
    assert set(changed_containers(tmp_path / "a.py", elsewhere)) == {"_MEASURING", "PENDING"}


def test_the_module_container_rule_catches_the_hand_off_lists(tmp_path: Path) -> None:
    """The rule above, on the shapes it forbids: an empty list filled from elsewhere, a list a function
    replaces, a dict filled by item, and a constant that is never changed (allowed)."""
    source = tmp_path / "handoff.py"
    source.write_text(
        "DRY_RUN: list[bool] = []\n_LIVE = [1]\nPLANS = {'a': 1}\nNAMES = ('x',)\nKEYS = {'a': 'b'}\n"
        "def f(x):\n    _LIVE[:] = [x]\n    PLANS['b'] = x\n"
    )
    tree = ast.parse(source.read_text())
    assert set(module_containers(source)) == {"DRY_RUN", "_LIVE", "PLANS", "KEYS"}
    assert mutated_names(tree) == {"_LIVE", "PLANS"}
    assert mutated_names(ast.parse("from m import callbacks\ncallbacks.DRY_RUN.append(True)")) == {"DRY_RUN"}
