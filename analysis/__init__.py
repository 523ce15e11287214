"""parsweep's analysis: pandas functions from MLflow runs to speedup tables, verdicts, plots and exports.

Usable from a notebook::

    from analysis.data.load import load_latest_sweep, load_samples
    from analysis.model.report import build_report, load_report
    from analysis.model.metrics import speedup_table, amdahl_fit, crossover

    report = load_report("sqlite:///mlflow.db")            # latest sweep of experiment parsweep
    report.table                                           # one row per (host, python, workload, n, backend, ..., workers)
    report.verdict, report.amdahl, report.crossover, report.interpreters, report.fastest, report.warnings

    trials = load_latest_sweep("sqlite:///mlflow.db")      # one row per trial, params typed
    samples = load_samples("sqlite:///mlflow.db", trials)  # one row per repetition (from the trials' tags)
    speedup_table(trials, samples)

    from analysis.model.compare import compare                   # two sweeps, row by row
    compare("SWEEP_A", "experiment:other@sqlite:////elsewhere/mlflow.db").rows

Modules: ``load`` (MLflow -> trial frame, samples), ``trust`` (why a figure may be off),
``stats`` (bootstrap intervals, the Mann-Whitney test and its power), ``metrics`` (speedup,
efficiency, Karp-Flatt, Amdahl fit, crossover), ``interpreters`` (serial cost per
interpreter, the fastest way overall), ``verdict`` (plain-language lines), ``report`` (the
one model every rendering reads), ``views`` (its cells for people), ``terminal``,
``export_markdown``, ``export_csv``, ``export_html``, ``export_json``, ``export_samples``
(per-repetition CSV, pyperf JSON), ``plots``, ``render`` (pick a format / write them all),
``compare`` and ``export_compare`` (``--compare``), ``publish`` (end of a sweep),
``reproduce`` (``parsweep-reproduce``), ``__main__`` (the CLI).
"""
