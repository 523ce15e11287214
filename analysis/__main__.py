"""``parsweep-report`` / ``python -m analysis``: speedup tables, verdicts and plots from what MLflow holds.

    parsweep-report                         # the latest sweep of experiment parsweep, as a table
    parsweep-report --sweep RUN_ID --format csv
    parsweep-report --all --out report/     # every trial of the experiment; all formats + PNGs
    parsweep-report --format samples-csv    # one row per repetition, with its trial's keys
    parsweep-report --format pyperf > a.json && python -m pyperf stats a.json
    parsweep-report --compare SWEEP_A SWEEP_B
    parsweep-report --compare SWEEP_A SWEEP_B --log   # also as a run of its own, next to the sweeps
    parsweep-report --compare experiment:parsweep@sqlite:////mnt/laptop/mlflow.db experiment:parsweep

``--compare A B``: A and B are each a sweep's run id or ``experiment:NAME``, optionally
``@URI`` for the store it is in; B's store is otherwise ``--tracking-uri-b``, else A's (see
:mod:`analysis.model.compare`).

A sweep's report (the default, or ``--sweep``) writes its figures back onto the sweep's trial runs
as metrics (:mod:`analysis.notebook`; idempotent: a second run writes nothing); ``--read-only``
skips that.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from analysis.render.registry import FORMATS

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
PROG = "parsweep-report"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag or value in one line (no usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog=PROG,
        description="Speedup, efficiency, Karp-Flatt and Amdahl fits, trust and a verdict for parsweep sweeps, from MLflow.",
        epilog="--compare A B: A and B are each a sweep's run id or experiment:NAME, optionally followed by @URI "
               "(the store it is in, e.g. experiment:parsweep@sqlite:////data/other.db); B's store is otherwise "
               "--tracking-uri-b, else A's. Formats with --compare: table, markdown, csv, json.",
    )
    parser.add_argument("--experiment", default="parsweep", help="MLflow experiment (default: parsweep)")
    parser.add_argument("--sweep", metavar="RUN_ID", help="a sweep's parent run id (default: the experiment's latest sweep)")
    parser.add_argument("--all", dest="all_trials", action="store_true", help="every finished trial of the experiment, across sweeps")
    parser.add_argument(
        "--tracking-uri", metavar="URI",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<current dir>/mlflow.db)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="table", metavar="FORMAT",
        help=f"what to print: {', '.join(FORMATS)} (default: table; samples-csv: one row per repetition; "
             "pyperf: a pyperf BenchmarkSuite JSON)",
    )
    parser.add_argument("--out", metavar="DIR", help="also write every format, the warnings CSV and the PNG plots into DIR")
    parser.add_argument("--no-ci", dest="intervals", action="store_false", help="skip the confidence intervals (no extra queries)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two sweeps or experiments row by row (see below)")
    parser.add_argument("--tracking-uri-b", metavar="URI", help="with --compare: the store B is in (default: A's store)")
    parser.add_argument(
        "--log", action="store_true",
        help="with --compare: also log the comparison as a run of its own in A's store and experiment, tagged with both sides",
    )
    parser.add_argument(
        "--read-only", action="store_true",
        help="write nothing back: by default a sweep's report puts its speedups on the sweep's trial runs (as metrics)",
    )
    args = parser.parse_args(argv)
    if args.compare:
        from analysis.render.export_compare import COMPARE_FORMATS

        if args.sweep or args.all_trials:
            parser.error("--compare takes its own two selections (A and B): drop --sweep / --all")
        if args.format not in COMPARE_FORMATS:
            parser.error(f"--format {args.format}: with --compare, one of {', '.join(COMPARE_FORMATS)}")
    elif args.tracking_uri_b:
        parser.error("--tracking-uri-b applies only with --compare A B")
    elif args.log:
        parser.error("--log applies only with --compare A B (a sweep's report is on the sweep's run already)")
    return args


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_NOT_FOUND


def _emit(
    args: argparse.Namespace,
    build: Callable[[], Any],
    where: str,
    show: Callable[[Any], None],
    render: Callable[[Any, str], str],
    write: Callable[[Any, str], list[Path]],
    after: Callable[[Any], None] | None = None,
) -> int:
    """Build the model (a report or a comparison), print it in ``--format``, write ``--out``.

    What cannot be found or read is one line on stderr, exit 1, no traceback. ``after`` runs on
    the model before it is shown (writing back to the store: its failure is a warning line).
    """
    from analysis.data.load import ReportError
    from runner.tracking.store import first_line

    try:
        model = build()
    except ReportError as exc:
        return _fail(str(exc))
    except Exception as exc:  # a store answered something unexpected: one line, no traceback
        return _fail(f"{where}: {type(exc).__name__}: {first_line(exc)}")
    if after is not None:
        after(model)
    if args.format == "table" and sys.stdout.isatty():
        show(model)
    else:
        sys.stdout.write(render(model, args.format))
    if args.out:
        written = write(model, args.out)
        print(f"wrote {len(written)} files to {args.out}: {', '.join(p.name for p in written)}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``parsweep-report``; returns the exit status."""
    args = parse_args(argv)
    if args.compare:
        from analysis.model.compare import compare
        from analysis.render.export_compare import print_compare, render_compare, write_compare

        def build_comparison() -> Any:
            return compare(args.compare[0], args.compare[1], tracking_uri=args.tracking_uri,
                           tracking_uri_b=args.tracking_uri_b, seed=args.seed)

        def log_comparison(comparison: Any) -> None:
            if args.log:
                from analysis.notebook import log_comparison as log_run

                _written_back(lambda: print(f"logged the comparison as run {log_run(comparison)} "
                                            f"in {comparison.a.tracking_uri}", file=sys.stderr), "could not log the comparison")

        return _emit(args, build_comparison, f"--compare {' '.join(args.compare)}", print_compare, render_compare, write_compare,
                     log_comparison)

    import os

    from analysis.render.registry import render, write_all
    from analysis.render.terminal import print_report
    from analysis.report import load_report
    from runner.tracking.store import resolve_uri

    uri = resolve_uri(args.tracking_uri, os.getcwd())

    def build_report() -> Any:
        return load_report(uri, experiment=args.experiment, sweep=args.sweep, all_trials=args.all_trials,
                           intervals=args.intervals, seed=args.seed)

    def publish(report: Any) -> None:
        """A sweep's report (not --all, with its intervals) puts its figures on the sweep's trial runs."""
        sweep = report.selection.get("sweep_run_id")
        if sweep and args.intervals and not args.read_only:
            from analysis.notebook import publish_figures

            _written_back(lambda: publish_figures(uri, sweep, report), "could not write the speedups onto the trial runs")

    code = _emit(args, build_report, uri, print_report, render, write_all, publish)
    if code == 0:  # the store answered: a sweep whose launcher died says so, with how to resume it
        from runner.tracking.interrupted import running_sweep_lines

        for line in running_sweep_lines(uri, args.experiment):
            print(line, file=sys.stderr)
    return code


def _written_back(write: Callable[[], Any], what: str) -> None:
    """Writing to the store is a courtesy of a report: a failure is one warning line, the report still prints."""
    from runner.tracking.store import first_line

    try:
        write()
    except Exception as exc:
        print(f"{PROG}: warning: {what} ({type(exc).__name__}: {first_line(exc)}); --read-only skips it", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
