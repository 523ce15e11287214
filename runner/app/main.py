"""The ``parsweep`` command: a thin Hydra entry around plain code.

The console script enters through :mod:`runner.app.entry`, which prints a kept ``--help`` without
loading this module (it imports Hydra). ``parsweep [overrides]`` runs one trial, ``parsweep -m [overrides]`` a sweep (the quick sweep
when no overrides are given), ``--dry-run`` lists a sweep's trials and runs nothing. The
command line is checked first (:mod:`runner.app.overrides`), so that mistakes get one line
and exit 2; planning, tracking and reporting live in the callbacks
(:mod:`runner.app.callbacks`, ``runner.app.report_callback``); the task measures a trial (the launcher,
:mod:`runner.app.launcher`, runs each job it measured with a task returning that job's result).
What those parts share is on the launch :func:`main` opens (:mod:`runner.app.launch`).
"""

from __future__ import annotations

import gc
import os
import sys
import warnings

import hydra
from omegaconf import DictConfig, OmegaConf

from runner import __version__
from runner.app.paths import config_path
from runner.app.schema import register_schema
from runner.trial.results import TrialResult
from runner.trial.values import ConfigError
from runner.ui import terminal

QUICK_PRESET = "sweep=quick"
DRY_RUN_FLAG = "--dry-run"


#: The Amdahl fit needs two worker counts above 1 within the usable CPUs (analysis.model.metrics.AMDAHL_MIN_POINTS).
AMDAHL_MIN_CPUS = 3


class PresetResolvers:
    """The resolvers the presets use, and the notes they have said: each note once, however often
    Hydra resolves the preset (the object OmegaConf holds keeps what was said, not the module)."""

    def __init__(self) -> None:
        self.said: set[str] = set()

    def note(self, text: str) -> None:
        if text not in self.said:
            self.said.add(text)
            print(text, file=sys.stderr, flush=True)

    def workers_up_to_cores(self, factor: str | int = 2) -> str:
        """``${parsweep.workers_up_to_cores:F}``: ``1,2,...,F x usable cores`` as a sweep list.

        On fewer than :data:`AMDAHL_MIN_CPUS` usable CPUs it notes what the sweep cannot show
        there (the Amdahl fit) and what it does show."""
        from runner.host.facts import usable_cpu_count

        cpus = usable_cpu_count()
        top = int(factor) * cpus
        if cpus < AMDAHL_MIN_CPUS:
            self.note(
                f"parsweep: note: {cpus} usable CPU{'s' if cpus != 1 else ''}: workers 1..{top} show the speedup up to {cpus} "
                f"and time-sharing beyond, but not Amdahl's serial fraction (its fit needs two worker counts above 1 within "
                f"the usable CPUs: {AMDAHL_MIN_CPUS} or more); Karp-Flatt at workers={cpus} is the estimate this machine gives"
            )
        return ",".join(str(w) for w in range(1, top + 1))

    def free_threaded_pythons(self) -> str:
        """``${parsweep.free_threaded_pythons:}`` for the ``sweep=gil`` preset; its module (interpreter
        probing) loads when a config uses it."""
        from runner.execute.interpreters import free_threaded_sweep_value

        return free_threaded_sweep_value(self.note)


def task(cfg: DictConfig) -> TrialResult:
    """Hydra's task: the trial's result. Failures come back in the result, never raised. (A job the
    launcher measured with the other trials of its group runs ``runner.app.launcher.Measured`` instead.)"""
    try:
        from runner.app import launch
        from runner.execute.interpreters import resolve, workload_imports
        from runner.execute.schedule import Job, Scheduler
        from runner.trial.spec import build_policy, build_spec
        from runner.ui import progress

        spec, policy = build_spec(cfg), build_policy(cfg)
        job = Job(0, spec, resolve(spec.python, spec.gil, workload_imports(spec)), terminal.trial_name(spec))
        in_flight = launch.current().in_flight
        for _, result in Scheduler(policy, progress.observer(), in_flight=in_flight).measure([job]):
            in_flight.handed_over(job)
            return result
        raise AssertionError("no result")
    except ConfigError as exc:
        return TrialResult(error=str(exc))
    except Exception as exc:  # a bug of ours must not stop the sweep either
        return TrialResult(error=f"internal error: {terminal.describe(exc)}")


hydra_main = hydra.main(version_base="1.3", config_path=config_path(), config_name="config")(task)

register_schema()
# conf/hydra/launcher/{ray,submitit_*}.yaml refine the launcher plugins' own configs of the same
# names on purpose; Hydra still validates them against the plugins' schemas, so no need to warn.
warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name")
_resolvers = PresetResolvers()
OmegaConf.register_new_resolver("parsweep.workers_up_to_cores", _resolvers.workers_up_to_cores, replace=True)
OmegaConf.register_new_resolver("parsweep.free_threaded_pythons", _resolvers.free_threaded_pythons, replace=True)


def ensure_plugins() -> None:
    """Stop with one line when Hydra's plugin scan does not see parsweep's sweeper and launcher.

    The scan finds them in a regular install and in the editable install ``make`` makes
    (``editable_mode=compat``); a plain ``pip install -e .`` (setuptools' default editable mode)
    hides ``hydra_plugins`` from it.
    """
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher

    if not any(cls.__name__ == "ParsweepLauncher" for cls in Plugins.instance().discover(Launcher)):
        terminal.error(
            "Hydra does not see parsweep's plugin (hydra_plugins/parsweep_sweeper): install parsweep with make, "
            "or pip install -e . --config-settings editable_mode=compat"
        )
        raise SystemExit(2)


def version_line() -> str:
    from importlib import metadata

    versions = []
    for package in ("hydra-core", "mlflow"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pass
    return f"parsweep {__version__} ({', '.join(versions)}; Python {sys.version.split()[0]})"


def main() -> None:
    """Console entry: check the command line first, so that mistakes get one clear line."""
    # No garbage collection while Hydra starts, MLflow loads and the sweep is planned: the
    # collector's full passes over those ~500k new, long-lived objects cost ~0.5 s a launch.
    # The tracking callback turns it back on once the sweep is set up (settle_collector), and
    # so does leaving main(), whatever happens.
    gc.disable()
    try:
        _main()
    except BrokenPipeError:
        from runner.app.entry import reader_left

        reader_left()
    finally:
        gc.enable()


def _main() -> None:
    from runner.app.hydra_private import args_parser
    from runner.host.leftovers import clean_stale

    clean_stale()  # what earlier launches killed with -9 left in the temporary folder
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # no INFO chatter about DB tables
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no "View run" line per run
    if not sys.stdout.isatty():  # hydra/launcher=ray: the driver relays its tasks' lines; no colour codes in a pipe
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
    arguments = command_line = sys.argv[1:]
    if "--version" in arguments:
        print(version_line())
        return
    dry_run = DRY_RUN_FLAG in arguments
    arguments = [a for a in arguments if a != DRY_RUN_FLAG]
    args, _ = args_parser().parse_known_args(arguments)
    modes = [flag for flag, on in (("-m", args.multirun), ("--cfg", args.cfg), ("--info", args.info),
                                   ("--shell-completion", args.shell_completion)) if on]
    if len(modes) > 1:
        hint = " (to see a sweep's trials before it runs: parsweep -m ... --dry-run)" if "--cfg" in modes else ""
        terminal.error(f"{' and '.join(modes)}: choose one of these modes{hint}")
        raise SystemExit(2)
    ensure_plugins()
    if args.help and not (args.shell_completion or args.info):
        from runner.app.help import print_help
        from runner.app.help_cache import keep
        from runner.app.overrides import check_overrides

        try:  # `parsweep wrkers=3 --help`: one line, as without --help
            check_overrides(list(args.overrides), args.config_dir)
        except ConfigError as exc:
            terminal.error(str(exc))
            raise SystemExit(2) from None
        text = print_help(args, config_path())
        if text is not None:
            if not args.resolve:  # resolving may read the clock, the environment, the CPU count
                keep(command_line, text)
            return
    if args.shell_completion or args.help or args.hydra_help or args.info:
        sys.argv[1:] = arguments
        hydra_main()  # completion, help and info modes: their words are not overrides
        return
    config_dir = args.config_dir
    if config_dir:
        from runner.app.overrides import check_config_dir

        try:
            check_config_dir(config_dir, args.config_name)
        except ConfigError as exc:
            terminal.error(str(exc))
            raise SystemExit(2) from None
    if config_dir:  # e.g. a trial's .hydra folder: its logged config runs with parsweep's groups
        from runner.app.logged import rewrite_arguments

        rewritten = rewrite_arguments(arguments, config_dir, args.config_name, list(args.overrides))
        if rewritten is not None:
            arguments = rewritten
            config_dir = arguments[1]
    overrides = [a for a in args_parser().parse_known_args(arguments)[0].overrides]
    try:
        from runner.app.overrides import check_overrides

        check_overrides(overrides, config_dir)
    except ConfigError as exc:
        terminal.error(str(exc))
        raise SystemExit(2) from None
    if args.multirun and not overrides:
        arguments.append(QUICK_PRESET)
    if not args.multirun:  # one job: n=1e6 is composed (and shown by --cfg job) as the integer it is
        from runner.trial.values import integral_override

        wanted = set(overrides)
        arguments = [integral_override(a) if a in wanted else a for a in arguments]
    from runner.app.launch import open_launch

    launch = open_launch(dry_run=dry_run)  # what Hydra's parts share: runner.app.launch
    sys.argv[1:] = arguments
    from runner.execute.signals import install_signal_handlers, stopping

    install_signal_handlers()
    try:
        hydra_main()
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (runner.execute.signals.Interrupted)
        from runner.ui import progress

        progress.deactivate()  # end the live display before saying what was stopped
        stopping()
        launch.abort_live_runs(getattr(exc, "reason", "interrupted (Ctrl-C)"))
        raise SystemExit(getattr(exc, "exit_code", 130)) from None
