"""``parsweep-reproduce RUN_ID``: re-run a logged trial or a whole sweep, and compare.

What it re-runs is exactly what was logged: each trial's composed ``.hydra/config.yaml``
(downloaded from MLflow), through the real ``parsweep`` command::

    parsweep --config-dir <trial's .hydra> --config-name config tracking.uri=<store>   # a trial
    parsweep -m --config-dir <dir> +logged=run_<id1>,run_<id2>,...                     # a sweep

(parsweep's own config, with each logged config as an option of a ``logged`` group, one file
per original trial: see ``runner.app.logged``). The new
runs carry ``parsweep.reproduces=<the run they re-run>``. Then, per trial: the original and
new medians, their ratio, and whether the difference is within noise, and a warning for each
difference in host, Python build, package versions or git commit. Exit 0 when every re-run
gave the right answer, 1 when one did not (or failed), 2 when nothing could be re-run.

Tests with power (:func:`noise_verdict`, through :mod:`analysis.model.stats`): a two-sided
Mann-Whitney U test (scipy) on the repetitions (the ``parsweep.rep_wall_times_s`` tag, else
the ``rep_wall_time_s`` history). With N against M repetitions it cannot go below
p = 2 / C(N+M, N); when that is above 5% the verdict is "cannot tell: N vs M repetitions are
too few", never "within noise". "Within noise" also needs the 95% interval of new/original
(ratio of medians) within 0.8-1.25 (:data:`analysis.model.stats.WITHIN_NOISE`; else "cannot tell: too noisy"), so a 2x change never
reads as within noise. So that the test can decide, the re-run gets ``++repeats=N`` with N
the smallest count (at least the original's, at most 50) that lets it reach p < 0.05 against
the original's repetitions (:func:`rerun_repeats`; 3 original repetitions: 5); ``--repeats N``
chooses another.

Reproducing from files alone works the same way without MLflow: ``parsweep --config-dir
<a trial's .hydra folder> --config-name config`` runs that logged config with parsweep's own
config groups and settings, logged like any other run.

Security: nothing in a run's logged data is executed unchecked. A logged config may name only
parsweep's own keys; no ``hydra`` section, ``_target_`` or interpolation other than
``${hydra:runtime.cwd}``; and a custom workload's modules must be on *your* allowlist
(``PARSWEEP_ALLOW_MODULES`` or ``--allow``; the ``workload.allow`` list inside the logged
config does not count, since whoever logged the run wrote it); the interpreter (``python``)
may be ``current`` or a command looked up on your PATH, not a path the run chose. ``--trust``
lifts these checks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.claims.reproduction import Rerun, environment_differences, facts_from_tags, judge_rerun, print_reruns, rerun_repeats
from analysis.model.stats import ALPHA
from runner.tracking.names import REPRODUCES_TAG, SAMPLE_METRIC, SAMPLES_TAG, TRUST_TAG
from runner.trial.spec import CURRENT_PYTHON, GROUPS, TOP_LEVEL_KEYS

EXIT_OK = 0
EXIT_WRONG = 1
EXIT_REFUSED = 2
SAFE_INTERPOLATION = "${hydra:runtime.cwd}"
# parsweep's own keys, from its config schema: a key added there is a key a logged config may set
# (a composed config holds the groups' sections, never the `sweep` preset's name).
ALLOWED_TOP_KEYS = (*[g for g in GROUPS if g != "sweep"], *TOP_LEVEL_KEYS)
CUSTOM_REF_KEYS = ("function", "combine", "expected")


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
    python = config.get("python", CURRENT_PYTHON)
    if python is not None and str(python) != CURRENT_PYTHON and ("/" in str(python) or "\\" in str(python)):
        # a command name is looked up on *your* PATH; a path is a program the run chose
        problems.append(f"python={python}: the run names an interpreter by path; run it only if you trust that program")
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


# -- talking to MLflow ------------------------------------------------------------------------


@dataclass
class Original:
    """One logged trial to re-run."""

    run: Any
    config_text: str
    overrides_text: str
    facts: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)  # its recorded repetitions' wall times

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

    from runner.tracking.store import first_line

    dest = workdir / run.info.run_id
    dest.mkdir(parents=True, exist_ok=True)
    config_text = _download_text(tracker.client, run.info.run_id, ".hydra/config.yaml", dest)
    if config_text is None:
        return None
    overrides_text = _download_text(tracker.client, run.info.run_id, ".hydra/overrides.yaml", dest) or "[]\n"
    host_text = _download_text(tracker.client, run.info.run_id, "host.json", dest)
    try:
        facts = json.loads(host_text) if host_text else facts_from_tags(run.data.tags)
    except json.JSONDecodeError:
        facts = facts_from_tags(run.data.tags)
    try:
        config = yaml.safe_load(config_text)
        problems = config_problems(config, allow)
    except yaml.YAMLError as exc:
        problems = [f"the logged config is not valid YAML ({first_line(exc)})"]
    return Original(run, config_text, overrides_text, facts, problems, run_samples(tracker, run))


def run_samples(tracker: Any, run: Any) -> list[float]:
    """A trial's recorded repetition wall times: its ``parsweep.rep_wall_times_s`` tag, else
    (runs logged before the tag) its ``rep_wall_time_s`` metric history."""
    from analysis.data.load import parse_samples

    values = parse_samples(run.data.tags.get(SAMPLES_TAG))
    return values if values is not None else tracker.metric_history(run.info.run_id, SAMPLE_METRIC)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- the command ------------------------------------------------------------------------------


def compare(tracker: Any, original: Original, new_run: Any | None) -> Rerun:
    """One original against its re-run (:func:`analysis.claims.reproduction.judge_rerun`)."""
    name = original.run.info.run_name or original.run_id
    old_median = original.run.data.metrics.get("wall_time_s")
    if new_run is None:
        return judge_rerun(name, old_median, original.samples, None, None, [], None, False, "MISSING")
    correct = new_run.info.status == "FINISHED" and new_run.data.metrics.get("correct") == 1.0
    return judge_rerun(
        name, old_median, original.samples, original.run.data.tags.get(TRUST_TAG),
        new_run.data.metrics.get("wall_time_s"), run_samples(tracker, new_run), new_run.data.tags.get(TRUST_TAG),
        correct, new_run.info.status, new_run.data.tags.get("parsweep.error"),
    )


def run_parsweep(arguments: list[str]) -> int:
    """The real ``parsweep`` command, with this interpreter; its output goes to the terminal."""
    command = [sys.executable, "-m", "runner", *arguments]
    print("parsweep-reproduce: running: parsweep " + " ".join(arguments), flush=True)
    return subprocess.call(command)


def reproduce(
    run_id: str, uri: str, trust: bool = False, allow: Sequence[str] = (), workdir: Path | None = None, repeats: int | None = None
) -> int:
    """Re-run ``run_id`` (a trial or a sweep) into the store at ``uri``; returns the exit code.

    ``repeats``: the re-run's repetitions; by default :func:`rerun_repeats` of the originals'
    (enough for the comparison's test to be able to reach p < 0.05).
    """
    from runner.host.facts import host_facts
    from runner.tracking.names import ROLE_TAG
    from runner.tracking.store import Tracker, check_reachable, search_all_runs
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

        counts = [len(o.samples) for o in originals]
        if repeats is None:
            repeats = rerun_repeats(counts)
            if repeats is not None:
                print(f"parsweep-reproduce: repeats={repeats}: enough for the test against the original's "
                      f"{'/'.join(str(c) for c in sorted(set(counts)))} repetitions to reach p < {ALPHA:g} (--repeats to choose)")
        common = [f"++tracking.uri={_quote(uri)}", f"++hydra.callbacks.tracking.reproduces={_quote(run_id)}"]
        if repeats is not None:
            common.append(f"++repeats={repeats}")
        started_ms = int(time.time() * 1000) - 1000
        if role == "trial":
            config_dir = base / "trial" / ".hydra"
            config_dir.mkdir(parents=True, exist_ok=True)
            (config_dir / "config.yaml").write_text(originals[0].config_text)
            (config_dir / "overrides.yaml").write_text(originals[0].overrides_text)
            code = run_parsweep(["--config-dir", str(config_dir), "--config-name", "config", *common])
        else:
            import yaml

            from runner.app.logged import LOGGED_GROUP, logged_dir, option_text

            logged = logged_dir({o.option: option_text(yaml.safe_load(o.config_text)) for o in originals})
            options = ",".join(o.option for o in originals)
            code = run_parsweep(["-m", "--config-dir", str(logged), f"+{LOGGED_GROUP}={options}", *common])

        found = search_all_runs(tracker.client, [experiment_id], f"tags.`{REPRODUCES_TAG}` = '{run_id}' and attributes.start_time >= {started_ms}")
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
        print_reruns(rows)

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
    """Pair each original trial with its re-run: the same config hash, else the same params but
    ``repeats`` (the re-run's repeats may differ), else launch order."""
    from runner.tracking.names import CONFIG_HASH_TAG

    def params(run: Any) -> dict[str, str]:
        return {k: v for k, v in run.data.params.items() if k != "repeats"}

    remaining = list(children)
    pairs: list[tuple[Original, Any | None]] = []
    for original in originals:
        wanted = original.run.data.tags.get(CONFIG_HASH_TAG)
        match = next((c for c in remaining if wanted and c.data.tags.get(CONFIG_HASH_TAG) == wanted), None)
        if match is None:
            match = next((c for c in remaining if params(c) == params(original.run)), None)
        if match is None and remaining and len(remaining) == len(originals) - len(pairs):
            match = remaining[0]  # a changed hash and params (e.g. another pythonpath): launch order decides
        if match is not None:
            remaining.remove(match)
        pairs.append((original, match))
    return pairs


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number >= 1")
    return value


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
    parser.add_argument("--repeats", type=_positive, metavar="N",
                        help=f"the re-run's repetitions (default: enough for the test to reach p < {ALPHA:g} against the "
                             "original's, at least as many; at most 50)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    from runner.tracking.store import TrackingError, resolve_uri

    uri = resolve_uri(args.tracking_uri, os.getcwd())
    try:
        code = reproduce(args.run_id, uri, trust=args.trust, allow=args.allow, repeats=args.repeats)
    except TrackingError as exc:
        print(f"parsweep-reproduce: error: {exc}", file=sys.stderr)
        code = EXIT_REFUSED
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()
