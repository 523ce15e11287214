"""The ``parsweep`` command: a thin Hydra entry around plain code.

``parsweep [overrides]`` runs one trial, ``parsweep -m [overrides]`` a sweep (the quick
sweep when no overrides are given). Validation, tracking and reporting live in the
callback (:mod:`runner.app.callbacks`); the task below only runs the trial, isolated.
"""

from __future__ import annotations

import gc
import os
import sys
import warnings

import hydra
from omegaconf import DictConfig, OmegaConf

from runner.ui import progress, terminal
from runner.app.schema import check_overrides, register_schema
from runner.host.facts import host_facts
from runner.execute.isolation import install_signal_handlers, run_isolated
from runner.app.paths import config_path
from runner.trial.results import TrialResult
from runner.trial.spec import ConfigError, TrialSpec, build_spec
from runner.app.plan import register_sweeper

QUICK_PRESET = "sweep=quick"


def workers_up_to_cores(factor: str | int = 2) -> str:
    """Resolver for presets: ``1,2,...,factor x usable cores`` as a sweep list."""
    usable = int(host_facts()["host"]["cpu_usable"])
    return ",".join(str(w) for w in range(1, int(factor) * usable + 1))


register_schema()
# conf/hydra/launcher/{ray,submitit_*}.yaml refine the launcher plugins' own configs of the same
# names on purpose; Hydra still validates them against the plugins' schemas, so no need to warn.
warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name")
register_sweeper()
OmegaConf.register_new_resolver("parsweep.workers_up_to_cores", workers_up_to_cores, replace=True)


def oversubscription_warnings(spec: TrialSpec, usable: int) -> list[str]:
    if spec.workers > usable:
        return [
            f"workers={spec.workers} is more than the {usable} usable CPU cores: the workers take turns "
            "on the cores, so expect speedup to flatten (lower workers to measure scaling)"
        ]
    return []


def run_task(cfg: DictConfig) -> TrialResult:
    """Run the trial a composed config describes; failures come back in the result, not raised."""
    try:
        spec = build_spec(cfg)
        result = run_isolated(spec, on_repetition=progress.repetition_hook())
        result.warnings += oversubscription_warnings(spec, int(host_facts()["host"]["cpu_usable"]))
        return result
    except ConfigError as exc:
        return TrialResult(error=str(exc))
    except Exception as exc:  # a bug of ours must not stop the sweep either
        return TrialResult(error=f"internal error: {terminal.describe(exc)}")


@hydra.main(version_base="1.3", config_path=config_path(), config_name="config")
def hydra_main(cfg: DictConfig) -> TrialResult:
    return run_task(cfg)


def show_callback_errors_as_warnings() -> None:
    """Hydra turns an exception in a callback into a Python warning printed as two lines with
    Hydra's file path; show it as one parsweep warning line instead."""
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if filename.replace(os.sep, "/").endswith("hydra/_internal/callbacks.py"):
            terminal.warn(" ".join(str(message).split()))
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main() -> None:
    """Console entry: check the command line first, so that mistakes get one clear line."""
    # No garbage collection while Hydra starts, MLflow loads and the sweep is planned: the
    # collector's full passes over those ~500k new, long-lived objects cost ~0.5 s a launch.
    # The tracking callback turns it back on once the sweep is set up (runner.app.callbacks.
    # settle_collector), and so does leaving main(), whatever happens.
    gc.disable()
    try:
        _main()
    finally:
        gc.enable()


def _main() -> None:
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # no INFO chatter about DB tables
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no "View run" line per run
    # Hydra's own parser tells overrides from its flags' values (`--cfg job`, `-cn NAME`).
    from hydra._internal.utils import get_args_parser

    args, _ = get_args_parser().parse_known_args(sys.argv[1:])
    modes = [flag for flag, on in (("-m", args.multirun), ("--cfg", args.cfg), ("--info", args.info),
                                   ("--shell-completion", args.shell_completion)) if on]
    if len(modes) > 1:
        terminal.error(f"{' and '.join(modes)}: choose one of these modes (to see a sweep's config: parsweep --cfg job KEY=VALUE)")
        raise SystemExit(2)
    if args.shell_completion or args.help or args.hydra_help or args.info:
        hydra_main()  # completion, help and info modes: their words are not overrides
        return
    try:
        check_overrides(args.overrides)
    except ConfigError as exc:
        terminal.error(str(exc))
        raise SystemExit(2) from None
    settings: list[str] = []
    if args.config_dir:  # e.g. a trial's .hydra folder: its config.yaml lacks the hydra section
        from analysis.reproduce import hydra_settings_for

        settings = hydra_settings_for(args.config_dir, args.config_name)
        sys.argv[1:1] = [a for a in settings if a.startswith("-")]  # flags before the overrides
        sys.argv += [a for a in settings if not a.startswith("-")]
    if args.multirun and not args.overrides and not settings:
        sys.argv.append(QUICK_PRESET)
    install_signal_handlers()
    show_callback_errors_as_warnings()
    try:
        hydra_main()
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (runner.execute.isolation.Interrupted)
        progress.deactivate()  # end the live display before saying what was stopped
        from runner.app.callbacks import abort_live_runs
        from runner.execute.isolation import stopping

        stopping()
        abort_live_runs(getattr(exc, "reason", "interrupted (Ctrl-C)"))
        raise SystemExit(getattr(exc, "exit_code", 130)) from None
