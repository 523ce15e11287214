"""Numbers as people read them: seconds and range sizes.

The one place these are formatted: the trial's warnings, the terminal lines, the run names
and the analysis tables all use these functions. Standard library only.
"""

from __future__ import annotations


def format_seconds(seconds: float | None) -> str:
    """``2.345`` -> ``2.345 s``, ``0.0123`` -> ``12.30 ms``, ``1.2e-5`` -> ``12.0 us``; None -> ``-``."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def format_n(n: int) -> str:
    """``10000000`` -> ``1e7``, ``3000000`` -> ``3e6``, ``12345`` -> ``12_345``."""
    if n >= 1000:
        mantissa, exponent = n, 0
        while mantissa % 10 == 0:
            mantissa //= 10
            exponent += 1
        if exponent >= 3 and mantissa < 10:
            return f"{mantissa}e{exponent}"
    return f"{n:_}"

