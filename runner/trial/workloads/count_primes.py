"""Count the primes in ``range(0, n)`` by pure-Python trial division.

The cost of testing ``k`` grows with ``k`` (a prime needs about sqrt(k)/2 divisions), so
equal-sized chunks are unequal work: with two chunks of ``range(0, 10**6)`` the upper half
takes about 1.7 times as long as the lower. That is the workload for ``chunks``: a pool
given more chunks than workers hands them out as workers come free and evens the load out,
which the logged per-worker busy time and ``load_imbalance`` (max / mean) show.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from runner.trial.workloads.base import Workload


def count_primes_chunk(start: int, end: int) -> int:
    """How many of ``start .. end-1`` are prime, testing each by trial division (odd divisors)."""
    count = 0
    for k in range(max(start, 2), end):
        if k % 2 == 0:
            if k == 2:
                count += 1
            continue
        d = 3
        while d * d <= k:
            if k % d == 0:
                break
            d += 2
        else:
            count += 1
    return count


@functools.lru_cache(maxsize=8)
def primes_below(n: int) -> int:
    """The exact number of primes below ``n``, by a sieve of Eratosthenes (a different method)."""
    if n < 3:
        return 0
    sieve = bytearray([1]) * n
    sieve[0] = sieve[1] = 0
    for p in range(2, int(n**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, n, p)))
    return sum(sieve)


class CountPrimes(Workload):
    name = "count_primes"
    preload = True

    @classmethod
    def item_cost_s(cls, n: int, options: Any, loop_cost_s: Any) -> float | None:
        return float(loop_cost_s()) * max(1.0, float(n ** 0.5) / 6)  # trial division up to sqrt(item)

    @property
    def chunk_function(self) -> Callable[[int, int], Any]:
        return count_primes_chunk

    def expected(self, n: int) -> int:
        return primes_below(n)


WORKLOAD = CountPrimes
