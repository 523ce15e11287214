"""What the interpreter probe checks inside a trial interpreter, before any trial runs.

``runner.execute.interpreters`` runs :func:`import_problems` in every interpreter a sweep uses
(in a ``-c`` probe for another interpreter, directly for ``python=current``): the modules the
trials will import must import there, and a backend module's ``BACKEND`` is asked whether this
interpreter can run it at all (:meth:`~runner.trial.backends.base.Backend.interpreter_problem`:
``backend=interpreters`` needs CPython 3.14's ``concurrent.interpreters``).

Standard library only: this runs under any CPython >= 3.10.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

#: A problem's kind: the module failed to import, or it imported and says this interpreter cannot run it.
IMPORT_FAILED = "import"
UNSUPPORTED = "unsupported"
MISSING = "missing"  # a module:function whose module imported without that function


def import_problems(imports: Iterable[Iterable[str | None]]) -> list[list[str]]:
    """``[what, text, kind]`` for each ``(what, module, extra sys.path entry)`` that cannot serve here
    (``module`` may be ``module:function``: a custom workload's function, which must exist).

    ``text`` is the exception (``ImportError: ...``) for :data:`IMPORT_FAILED`, and the
    backend's own one-line reason for :data:`UNSUPPORTED`.
    """
    problems = []
    for what, target, extra in imports:
        if extra and extra not in sys.path:
            sys.path.insert(0, extra)
        module_name, _, function = str(target).partition(":")  # module, or module:function
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            problems.append([str(what), f"cannot import module '{module_name}' ({type(exc).__name__}: {exc})", IMPORT_FAILED])
            continue
        if function:
            if not callable(getattr(module, function, None)):
                problems.append([str(what), f"module '{module_name}' has no function '{function}'", MISSING])
            continue
        backend = getattr(module, "BACKEND", None)
        why = backend.interpreter_problem() if backend is not None else None
        if why:
            problems.append([str(what), why, UNSUPPORTED])
    return problems
