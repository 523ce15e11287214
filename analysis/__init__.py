"""parsweep's analysis: pandas functions from MLflow runs to speedup tables, plots and exports.

Usable from a notebook::

    from analysis.load import load_latest_sweep, load_samples
    from analysis.report import build_report, load_report
    from analysis.metrics import speedup_table, amdahl_fit, crossover

    report = load_report("sqlite:///mlflow.db")            # latest sweep of experiment parsweep
    report.table                                           # one row per (host, workload, n, backend, workers)
    report.amdahl, report.crossover, report.notes

    trials = load_latest_sweep("sqlite:///mlflow.db")      # one row per trial, params typed
    samples = load_samples("sqlite:///mlflow.db", trials["run_id"])  # rep_wall_time_s, tidy
    speedup_table(trials, samples)

Modules: ``load`` (MLflow -> trial frame, samples), ``metrics`` (speedup, efficiency,
Karp-Flatt, Amdahl fit, crossover), ``stats`` (bootstrap intervals), ``report`` (the one
model every rendering reads), ``views`` (its cells for people), ``terminal``,
``export_markdown``, ``export_csv``, ``export_html``, ``export_json``, ``plots``, ``render``
(pick a format / write them all), ``publish`` (end of a sweep), ``__main__`` (the CLI).
"""
