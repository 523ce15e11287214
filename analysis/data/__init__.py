"""Reading and writing MLflow: the trial frame and samples (load), what a sweep leaves on its runs (publish, notebook)."""
