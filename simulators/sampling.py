"""Fast draws from fixed discrete distributions.

``random.choices(items, weights=...)`` rebuilds the cumulative weights and a result list on
every call; on the hot path that costs more than the rest of an event. :class:`Weighted` does
the same draw (one ``random()`` and one bisect, the algorithm of ``random.choices``) with the
cumulative weights computed once.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """A fixed distribution over ``items``; ``pick(rng)`` equals ``rng.choices(items, weights)[0]``."""

    __slots__ = ("_cum", "_hi", "_total", "items")

    def __init__(self, items: Sequence[T], weights: Iterable[float]) -> None:
        self.items = tuple(items)
        self._cum = list(itertools.accumulate(weights))
        if len(self._cum) != len(self.items) or not self.items:
            raise ValueError("need one weight per item and at least one item")
        self._total = self._cum[-1] + 0.0
        self._hi = len(self.items) - 1

    @classmethod
    def of(cls, pairs: Iterable[tuple[T, float]]) -> Weighted[T]:
        items, weights = zip(*pairs, strict=True)
        return cls(items, weights)

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect(self._cum, rng.random() * self._total, 0, self._hi)]
