"""``parsweep-report`` / ``python -m analysis``: speedup tables and plots from what MLflow holds.

    parsweep-report                         # the latest sweep of experiment parsweep, as a table
    parsweep-report --sweep RUN_ID --format csv
    parsweep-report --all --out report/     # every trial of the experiment; all formats + PNGs
"""

from __future__ import annotations

import argparse
import sys

from analysis.render import FORMATS

EXIT_NOT_FOUND = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="parsweep-report",
        description="Speedup, efficiency, Karp-Flatt and Amdahl fits of parsweep sweeps, from MLflow.",
    )
    parser.add_argument("--experiment", default="parsweep", help="MLflow experiment (default: parsweep)")
    parser.add_argument("--sweep", metavar="RUN_ID", help="a sweep's parent run id (default: the experiment's latest sweep)")
    parser.add_argument("--all", dest="all_trials", action="store_true", help="every finished trial of the experiment, across sweeps")
    parser.add_argument(
        "--tracking-uri", metavar="URI",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<current dir>/mlflow.db)",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="what to print (default: table)")
    parser.add_argument("--out", metavar="DIR", help="also write every format and the PNG plots into DIR")
    parser.add_argument("--no-ci", dest="intervals", action="store_false", help="skip the confidence intervals (no samples read)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``parsweep-report``; returns the exit status."""
    args = parse_args(argv)
    from analysis.load import ReportError, resolve_uri
    from analysis.render import render, write_all
    from analysis.report import load_report

    uri = resolve_uri(args.tracking_uri)
    try:
        report = load_report(
            uri, experiment=args.experiment, sweep=args.sweep, all_trials=args.all_trials, intervals=args.intervals, seed=args.seed
        )
    except ReportError as exc:
        print(f"parsweep-report: error: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except Exception as exc:  # the store answered something unexpected: one line, no traceback
        from runner.tracking.store import first_line

        print(f"parsweep-report: error: {uri}: {type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.format == "table" and sys.stdout.isatty():
        from analysis.terminal import print_report

        print_report(report)
    else:
        sys.stdout.write(render(report, args.format))
    if args.out:
        written = write_all(report, args.out)
        print(f"wrote {len(written)} files to {args.out}: {', '.join(p.name for p in written)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
