"""Exact splitting of ``range(0, n)`` into contiguous chunks."""

from __future__ import annotations


def split_range(n: int, parts: int) -> list[tuple[int, int]]:
    """Split ``range(0, n)`` into ``parts`` contiguous ``(start, end)`` chunks.

    The chunks cover every integer exactly once, in order; their sizes differ by at most
    one (the first ``n % parts`` chunks get the extra item). When ``parts > n`` the surplus
    chunks are empty, so every worker still receives a task and the answer stays exact
    (n = 1 with 4 workers gives one chunk of one item and three empty ones).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    base, extra = divmod(n, parts)
    chunks = []
    start = 0
    for index in range(parts):
        end = start + base + (1 if index < extra else 0)
        chunks.append((start, end))
        start = end
    return chunks
