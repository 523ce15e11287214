"""parsweep's analysis: pandas functions from MLflow runs to speedup tables.

Usable from a notebook::

    from analysis.load import load_sweep
    from analysis.table import speedup_table
    speedup_table(load_sweep("sqlite:///mlflow.db", "<sweep run id>"))
"""
