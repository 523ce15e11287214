"""Conclusions in words: the verdict's rules, and the re-run verdicts of parsweep-reproduce."""
