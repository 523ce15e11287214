"""The report model and its figures: statistics, trust, speedups and fits, interpreters, comparisons."""
