"""parsweep's runner: Hydra configs in, timed and checked trials out, logged to MLflow."""

__version__ = "0.1.0"
