"""``parsweep-reproduce RUN_ID``: re-run a logged trial or a whole sweep, and compare.

What it re-runs is exactly what was logged: each trial's composed ``.hydra/config.yaml``
(downloaded from MLflow), through the real ``parsweep`` command::

    parsweep --config-dir <trial's .hydra> --config-name config tracking.uri=<store>      # a trial
    parsweep -m --config-dir <dir> --config-name config +trial=run_<id1>,run_<id2>,...    # a sweep

(a sweep's trials become options of a ``trial`` group, one file per original trial). The new
runs carry ``parsweep.reproduces=<the run they re-run>``. Then, per trial: the original and
new medians, their ratio, and whether the difference is within noise (a two-sided
Mann-Whitney U test on the ``rep_wall_time_s`` samples), and a warning for each difference in
host, Python build, package versions or git commit. Exit 0 when every re-run gave the right
answer, 1 when one did not (or failed), 2 when nothing could be re-run.

Reproducing from files alone works the same way without MLflow: a trial's ``.hydra`` folder
(from ``outputs/...`` / ``multirun/...``, or downloaded from the run's artifacts) is a
primary config of its own; :func:`hydra_settings_for` adds the Hydra settings that its
``config.yaml`` lacks (the tracking callback, parsweep's sweeper, quiet logging), so the
re-run is logged like any other.

Security: nothing in a run's logged data is executed unchecked. A logged config may name only
parsweep's own keys; no ``hydra`` section, ``_target_`` or interpolation other than
``${hydra:runtime.cwd}``; and a custom workload's modules must be on *your* allowlist
(``PARSWEEP_ALLOW_MODULES`` or ``--allow``; the ``workload.allow`` list inside the logged
config does not count, since whoever logged the run wrote it). ``--trust`` lifts these checks.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

EXIT_OK = 0
EXIT_WRONG = 1
EXIT_REFUSED = 2
ALPHA = 0.05
REPRODUCES_TAG = "parsweep.reproduces"
SAFE_INTERPOLATION = "${hydra:runtime.cwd}"
ALLOWED_TOP_KEYS = (
    "backend", "workload", "tracking", "workers", "n", "repeats", "warmup", "timeout_s", "experiment",
    "quiet", "chunks", "target_rel_ci", "max_repeats", "max_time_s", "resume",
)
CUSTOM_REF_KEYS = ("function", "combine", "expected")


# -- a trial's .hydra folder as a primary config ----------------------------------------------


def hydra_settings_for(config_dir: str, config_name: str | None) -> list[str]:
    """Arguments that make a composed config (no ``hydra`` section, no defaults) run as parsweep.

    The folder becomes the primary config path, and the Hydra settings the composed config
    lacks are added: the tracking callback, parsweep's sweeper, no Hydra log files. Empty for
    a primary config of one's own (one with ``hydra:`` or ``defaults:``).
    """
    import yaml

    path = Path(config_dir) / f"{config_name or 'config'}.yaml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    if not isinstance(data, dict) or "hydra" in data or "defaults" in data:
        return []
    # --config-dir alone would not do: Hydra searches parsweep's own conf/ first, and its
    # config.yaml would win. As the primary config path, the folder is searched alone.
    return [
        f"--config-path={Path(config_dir).resolve()}",
        "hydra/sweeper=parsweep",
        "hydra/job_logging=disabled",
        "hydra/hydra_logging=disabled",
        "++hydra.callbacks.tracking._target_=runner.app.callbacks.TrackingCallback",
    ]


# -- statistics -------------------------------------------------------------------------------


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _exact_u_counts(n1: int, n2: int) -> list[int]:
    """How many of the C(n1+n2, n1) orderings give each U = 0..n1*n2 (no ties)."""
    # counts[i][j] is a list indexed by U for samples of sizes i and j.
    previous = [[1] for _ in range(n2 + 1)]  # i = 0: U is always 0
    for i in range(1, n1 + 1):
        current = [[1]]  # j = 0
        for j in range(1, n2 + 1):
            size = i * j + 1
            row = [0] * size
            # The largest value comes from sample 1 (adds j to U) or from sample 2.
            for u, c in enumerate(previous[j]):
                row[u + j] += c
            for u, c in enumerate(current[j - 1]):
                row[u] += c
            current.append(row)
        previous = current
    return previous[n2]


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test: ``(U of a, p-value)``.

    Exact for small samples without ties, else the normal approximation with tie and
    continuity corrections.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    ranks = _ranks(list(a) + list(b))
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    has_ties = len(set(a) | set(b)) < n1 + n2
    if not has_ties and n1 * n2 <= 400:
        counts = _exact_u_counts(n1, n2)
        total = sum(counts)
        u_low = min(u1, n1 * n2 - u1)
        tail = sum(counts[: int(u_low) + 1]) / total
        return u1, min(1.0, 2 * tail)
    n = n1 + n2
    tie_term = 0.0
    for value in set(ranks):
        t = ranks.count(value)
        tie_term += t**3 - t
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return u1, 1.0
    z = (abs(u1 - n1 * n2 / 2) - 0.5) / math.sqrt(variance)
    return u1, min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2)))


def noise_verdict(original: Sequence[float], new: Sequence[float], alpha: float = ALPHA) -> tuple[bool | None, str]:
    """Whether ``new`` differs from ``original`` beyond noise; None when the samples are too small."""
    if len(original) < 2 or len(new) < 2:
        return None, f"cannot tell ({len(original)} vs {len(new)} repetitions; use repeats >= 3)"
    _, p = mann_whitney_u(original, new)
    detail = f"Mann-Whitney p={p:.3f}, {len(original)} vs {len(new)} reps"
    if p >= alpha:
        return True, f"yes ({detail})"
    return False, f"NO ({detail})"


# -- what may be run --------------------------------------------------------------------------


def _strings(node: Any, path: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def _keys(node: Any, path: str = "") -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            yield here
            yield from _keys(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _keys(value, f"{path}[{index}]")


def config_problems(config: dict[str, Any], allow: Sequence[str]) -> list[str]:
    """Why a logged config must not run without ``--trust`` (empty: it may run).

    ``allow``: the local allowlist of custom workload modules (never the logged one).
    """
    from runner.trial.workloads.custom import is_allowed

    problems = []
    if not isinstance(config, dict):
        return ["the logged config is not a mapping"]
    for key in config:
        if key not in ALLOWED_TOP_KEYS:
            problems.append(f"it sets '{key}', which is not a parsweep key (a hydra section or defaults list could run code)")
    for key in _keys(config):
        if key.rsplit(".", 1)[-1] in ("_target_", "_partial_", "_args_"):
            problems.append(f"{key} asks Hydra to instantiate an object")
    for key, text in _strings(config):
        if "${" in text and text != SAFE_INTERPOLATION:
            problems.append(f"{key}={text} is an interpolation (it could read environment variables or files)")
    workload = config.get("workload")
    if isinstance(workload, dict) and workload.get("name") == "custom":
        for key in CUSTOM_REF_KEYS:
            ref = workload.get(key)
            if ref is None:
                continue
            module = str(ref).partition(":")[0]
            if not is_allowed(module, list(allow)):
                problems.append(
                    f"workload.{key}={ref}: module '{module}' is not on your allowlist "
                    "(PARSWEEP_ALLOW_MODULES or --allow; the run's own workload.allow does not count)"
                )
        pythonpath = workload.get("pythonpath")
        if pythonpath not in (None, SAFE_INTERPOLATION):
            problems.append(f"workload.pythonpath={pythonpath}: the run chose where its modules are imported from")
    return problems


# -- environment differences ------------------------------------------------------------------


def _facts_from_tags(tags: dict[str, str]) -> dict[str, dict[str, Any]]:
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


# -- talking to MLflow ------------------------------------------------------------------------


@dataclass
class Original:
    """One logged trial to re-run."""

    run: Any
    config_text: str
    overrides_text: str
    facts: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    @property
    def option(self) -> str:
        return f"run_{self.run_id}"


def _download_text(client: Any, run_id: str, artifact: str, dest: Path) -> str | None:
    try:
        local = client.download_artifacts(run_id, artifact, str(dest))
    except Exception:
        return None
    try:
        return Path(local).read_text()
    except OSError:
        return None


def fetch_original(tracker: Any, run: Any, workdir: Path, allow: Sequence[str]) -> Original | None:
    import json

    import yaml

    dest = workdir / run.info.run_id
    dest.mkdir(parents=True, exist_ok=True)
    config_text = _download_text(tracker.client, run.info.run_id, ".hydra/config.yaml", dest)
    if config_text is None:
        return None
    overrides_text = _download_text(tracker.client, run.info.run_id, ".hydra/overrides.yaml", dest) or "[]\n"
    host_text = _download_text(tracker.client, run.info.run_id, "host.json", dest)
    try:
        facts = json.loads(host_text) if host_text else _facts_from_tags(run.data.tags)
    except json.JSONDecodeError:
        facts = _facts_from_tags(run.data.tags)
    try:
        config = yaml.safe_load(config_text)
        problems = config_problems(config, allow)
    except yaml.YAMLError as exc:
        problems = [f"the logged config is not valid YAML ({str(exc).splitlines()[0]})"]
    return Original(run, config_text, overrides_text, facts, problems)


def _search(tracker: Any, experiment_id: str, filter_string: str) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = tracker.client.search_runs([experiment_id], filter_string=filter_string, max_results=1000,
                                          order_by=["attributes.start_time ASC"], page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- the command ------------------------------------------------------------------------------


@dataclass
class Comparison:
    name: str
    original_s: float | None
    new_s: float | None
    correct: bool
    status: str
    verdict: str


def compare(tracker: Any, original: Original, new_run: Any | None) -> Comparison:
    name = original.run.info.run_name or original.run_id
    old_median = original.run.data.metrics.get("wall_time_s")
    if new_run is None:
        return Comparison(name, old_median, None, False, "MISSING", "no new run was logged")
    new_median = new_run.data.metrics.get("wall_time_s")
    correct = new_run.info.status == "FINISHED" and new_run.data.metrics.get("correct") == 1.0
    before = tracker.metric_history(original.run_id, "rep_wall_time_s")
    after = tracker.metric_history(new_run.info.run_id, "rep_wall_time_s")
    if before and after:
        _, verdict = noise_verdict(before, after)
    else:
        verdict = "cannot tell (no repetition samples)"
    if not correct:
        verdict = new_run.data.tags.get("parsweep.error", new_run.info.status)
    return Comparison(name, old_median, new_median, correct, new_run.info.status, verdict)


def _seconds(value: float | None) -> str:
    from runner.ui.terminal import format_seconds

    return format_seconds(value) if value is not None else "-"


def print_comparisons(rows: list[Comparison], out: Any = sys.stdout) -> None:
    width = max([len(r.name) for r in rows] + [5])
    print(f"\n{'trial':<{width}}  {'original':>10}  {'new':>10}  {'ratio':>6}  within noise?", file=out)
    for row in rows:
        ratio = f"{row.new_s / row.original_s:5.2f}x" if row.new_s and row.original_s else "   -  "
        verdict = row.verdict if row.correct else f"FAILED: {row.verdict}"
        print(f"{row.name:<{width}}  {_seconds(row.original_s):>10}  {_seconds(row.new_s):>10}  {ratio:>6}  {verdict}", file=out)
    print("(ratio: new median / original median; within noise: the two sets of repetitions do not differ at the 5% level)", file=out)


def run_parsweep(arguments: list[str]) -> int:
    """The real ``parsweep`` command, with this interpreter; its output goes to the terminal."""
    command = [sys.executable, "-m", "runner", *arguments]
    print("parsweep-reproduce: running: parsweep " + " ".join(arguments), flush=True)
    return subprocess.call(command)


def reproduce(run_id: str, uri: str, trust: bool = False, allow: Sequence[str] = (), workdir: Path | None = None) -> int:
    """Re-run ``run_id`` (a trial or a sweep) into the store at ``uri``; returns the exit code."""
    from runner.host.facts import host_facts
    from runner.tracking.store import ROLE_TAG, Tracker, check_reachable
    from runner.trial.workloads.custom import allowed_modules

    check_reachable(uri)
    tracker = Tracker(uri)
    run = tracker.get_run(run_id)
    if run is None:
        print(f"parsweep-reproduce: error: RUN_ID={run_id}: no such run in {uri}", file=sys.stderr)
        return EXIT_REFUSED
    role = run.data.tags.get(ROLE_TAG)
    if role not in ("trial", "sweep"):
        print(f"parsweep-reproduce: error: RUN_ID={run_id}: not a parsweep trial or sweep run (tag {ROLE_TAG} is {role})", file=sys.stderr)
        return EXIT_REFUSED
    allow_list = allowed_modules(list(allow))  # yours: --allow plus PARSWEEP_ALLOW_MODULES
    experiment_id = run.info.experiment_id
    temp = tempfile.TemporaryDirectory(prefix="parsweep-reproduce-") if workdir is None else None
    base = Path(temp.name) if temp else Path(workdir)  # type: ignore[arg-type]
    try:
        trial_runs = [run] if role == "trial" else tracker.children(experiment_id, run_id)
        originals = []
        for trial_run in trial_runs:
            original = fetch_original(tracker, trial_run, base / "downloads", allow_list)
            if original is None:
                print(f"  skipped: {trial_run.info.run_name} ({trial_run.info.run_id}) has no logged .hydra/config.yaml", file=sys.stderr)
                continue
            originals.append(original)
        if not originals:
            print(f"parsweep-reproduce: error: RUN_ID={run_id}: no trial with a logged config to re-run", file=sys.stderr)
            return EXIT_REFUSED
        refused = [(o, p) for o in originals for p in o.problems]
        if refused and not trust:
            for original, problem in refused:
                print(f"parsweep-reproduce: refused: run {original.run_id}: {problem}", file=sys.stderr)
            print("parsweep-reproduce: nothing was run; re-run with --trust if you trust whoever logged it", file=sys.stderr)
            return EXIT_REFUSED

        common = [f"++tracking.uri={_quote(uri)}", f"++hydra.callbacks.tracking.reproduces={_quote(run_id)}"]
        started_ms = int(time.time() * 1000) - 1000
        if role == "trial":
            config_dir = base / "trial" / ".hydra"
            config_dir.mkdir(parents=True, exist_ok=True)
            (config_dir / "config.yaml").write_text(originals[0].config_text)
            (config_dir / "overrides.yaml").write_text(originals[0].overrides_text)
            code = run_parsweep(["--config-dir", str(config_dir), "--config-name", "config", *common])
        else:
            config_dir = base / "sweep"
            (config_dir / "trial").mkdir(parents=True, exist_ok=True)
            (config_dir / "config.yaml").write_text(f"# parsweep-reproduce of sweep {run_id}: one trial/ option per original trial\n")
            for original in originals:
                (config_dir / "trial" / f"{original.option}.yaml").write_text("# @package _global_\n" + original.config_text)
            options = ",".join(o.option for o in originals)
            code = run_parsweep(["-m", "--config-dir", str(config_dir), "--config-name", "config", f"+trial={options}", *common])

        found = _search(tracker, experiment_id, f"tags.`{REPRODUCES_TAG}` = '{run_id}' and attributes.start_time >= {started_ms}")
        if role == "trial":
            new_runs = [r for r in found if r.data.tags.get(ROLE_TAG) == "trial"][-1:]
            pairs = [(originals[0], new_runs[0] if new_runs else None)]
        else:
            parents = [r for r in found if r.data.tags.get(ROLE_TAG) == "sweep"]
            children = tracker.children(experiment_id, parents[-1].info.run_id) if parents else []
            pairs = _match(originals, children)
            for original, new_run in pairs:
                if new_run is not None:
                    tracker.set_tags(new_run.info.run_id, {REPRODUCES_TAG: original.run_id})
            if parents:
                print(f"parsweep-reproduce: new sweep run {parents[-1].info.run_id} (tag {REPRODUCES_TAG}={run_id})")
        rows = [compare(tracker, original, new_run) for original, new_run in pairs]
        print_comparisons(rows)

        current = host_facts()
        differences: list[str] = []
        for original in originals:
            for line in environment_differences(original.facts, current):
                if line not in differences:
                    differences.append(line)
        for line in differences:
            print(f"  warning: {line}", file=sys.stderr)
        if differences:
            print("  (the numbers above compare different environments: expect differences that are not noise)", file=sys.stderr)

        wrong = [row for row in rows if not row.correct]
        if wrong:
            print(f"parsweep-reproduce: {len(wrong)} of {len(rows)} re-runs did not give the right answer (parsweep exited {code})", file=sys.stderr)
            return EXIT_WRONG
        print(f"parsweep-reproduce: all {len(rows)} re-run(s) gave the right answer")
        return EXIT_OK
    finally:
        if temp is not None:
            temp.cleanup()


def _match(originals: list[Original], children: list[Any]) -> list[tuple[Original, Any | None]]:
    """Pair each original trial with its re-run: same config hash, in launch order."""
    from runner.tracking.store import CONFIG_HASH_TAG

    remaining = list(children)
    pairs = []
    for original in originals:
        wanted = original.run.data.tags.get(CONFIG_HASH_TAG)
        match = next((c for c in remaining if wanted and c.data.tags.get(CONFIG_HASH_TAG) == wanted), None)
        if match is None and remaining and len(remaining) == len(originals) - len(pairs):
            match = remaining[0]  # a changed hash (e.g. another pythonpath): launch order decides
        if match is not None:
            remaining.remove(match)
        pairs.append((original, match))
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="parsweep-reproduce",
        description="Re-run a logged parsweep trial or sweep from its logged config and compare with the original.",
    )
    parser.add_argument("run_id", metavar="RUN_ID", help="a trial run or a sweep (parent) run")
    parser.add_argument("--tracking-uri", default=None, help="default: MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db")
    parser.add_argument("--allow", action="append", default=[], metavar="MODULE",
                        help="allow a custom workload module (repeatable; also PARSWEEP_ALLOW_MODULES)")
    parser.add_argument("--trust", action="store_true", help="run the logged config even if it fails the safety checks")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    from runner.tracking.store import TrackingError, resolve_uri

    uri = resolve_uri(args.tracking_uri, os.getcwd())
    try:
        code = reproduce(args.run_id, uri, trust=args.trust, allow=args.allow)
    except TrackingError as exc:
        print(f"parsweep-reproduce: error: {exc}", file=sys.stderr)
        code = EXIT_REFUSED
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()
