"""parsweep's analysis: pandas functions from MLflow runs to speedup tables, verdicts, plots and exports.

Usable from a notebook::

    from analysis.data.load import load_latest_sweep, load_samples
    from analysis.report import build_report, load_report
    from analysis.model.metrics import speedup_table, amdahl_fit, crossover

    report = load_report("sqlite:///mlflow.db")            # latest sweep of experiment parsweep
    report.table                                           # one row per (host, python, workload, n, backend, ..., workers)
    report.verdict, report.amdahl, report.crossover, report.interpreters, report.fastest, report.warnings

    trials = load_latest_sweep("sqlite:///mlflow.db")      # one row per trial, params typed
    samples = load_samples("sqlite:///mlflow.db", trials)  # one row per repetition (from the trials' tags)
    speedup_table(trials, samples)

    from analysis.model.compare import compare                   # two sweeps, row by row
    compare("SWEEP_A", "experiment:other@sqlite:////elsewhere/mlflow.db").rows

Folders (docs/ARCHITECTURE.md): ``data`` (MLflow -> trial frame, samples), ``model`` (statistics,
trust, speedups and their intervals, fits, interpreters, ``--compare``, the report's model),
``claims`` (the verdict's rules, re-run verdicts), ``render`` (cells, terminal, markdown, CSV,
HTML, JSON, samples, pyperf, plots; ``registry`` picks one or writes them all); and ``report``
(the assembled report), ``publish`` and ``notebook`` (what a sweep leaves on its runs),
``__main__`` (the CLI). ``parsweep-reproduce`` lives with the Hydra app (``runner.app.reproduce``).
"""
