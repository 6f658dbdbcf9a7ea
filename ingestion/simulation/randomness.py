"""Seeded draws and identifiers: the simulator's only source of chance."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")

_BLOCK = 1 << 16
# Crockford base32, the ULID alphabet: ids stay URL-safe and match the contract pattern.
_ALPHABET = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TO_ALPHABET = bytes.maketrans(bytes(range(32)), _ALPHABET)
_ALPHABET_TEXT = _ALPHABET.decode("ascii")
_TIME_SHIFTS = tuple(range(45, -1, -5))


class Weighted(Generic[T]):
    """Items with cumulative weights, ready for repeated weighted picks."""

    __slots__ = ("items", "cumulative")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self.cumulative = list(accumulate(weights))


class Draws:
    """Scalar draws served from numpy blocks, so per-event chance stays cheap and seeded."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._uniform = rng.random(_BLOCK)
        self._normal = rng.standard_normal(_BLOCK)
        self._next_uniform = 0
        self._next_normal = 0

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        """A uniform float in [low, high)."""
        if self._next_uniform == _BLOCK:
            self._uniform = self._rng.random(_BLOCK)
            self._next_uniform = 0
        value = float(self._uniform[self._next_uniform])
        self._next_uniform += 1
        return low + (high - low) * value

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> float:
        """A normal float."""
        if self._next_normal == _BLOCK:
            self._normal = self._rng.standard_normal(_BLOCK)
            self._next_normal = 0
        value = float(self._normal[self._next_normal])
        self._next_normal += 1
        return mean + sd * value

    def chance(self, probability: float) -> bool:
        """True with the given probability."""
        return self.uniform() < probability

    def integer(self, low: int, high: int) -> int:
        """A uniform integer in [low, high]."""
        return low + min(int(self.uniform() * (high - low + 1)), high - low)

    def lognormal(self, median: float, sigma: float) -> float:
        """A log-normal float with the given median."""
        return median * math.exp(self.normal(0.0, sigma))

    def exponential(self, mean: float) -> float:
        """An exponential float with the given mean."""
        return -mean * math.log(1.0 - self.uniform())

    def poisson(self, mean: float) -> int:
        """A Poisson count (straight from numpy: called a few times a day, not per event)."""
        return int(self._rng.poisson(mean)) if mean > 0 else 0

    def pick(self, items: Sequence[T]) -> T:
        """One item, uniformly."""
        return items[min(int(self.uniform() * len(items)), len(items) - 1)]

    def weighted(self, table: Weighted[T]) -> T:
        """One item of a weighted table."""
        index = bisect_right(table.cumulative, self.uniform() * table.cumulative[-1])
        return table.items[min(index, len(table.items) - 1)]


class Ids:
    """Random identifier text from its own seeded stream, so ids never shift other draws."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._text = ""
        self._next = 0

    def token(self, length: int) -> str:
        """`length` random base32 characters."""
        if self._next + length > len(self._text):
            raw = self._rng.integers(0, 32, size=_BLOCK, dtype=np.uint8).tobytes()
            self._text = raw.translate(_TO_ALPHABET).decode("ascii")
            self._next = 0
        start = self._next
        self._next += length
        return self._text[start : self._next]

    def event_id(self, epoch_ms: int) -> str:
        """A ULID-shaped id: 10 characters of time, 16 of chance (80 bits)."""
        time_part = "".join(_ALPHABET_TEXT[(epoch_ms >> shift) & 31] for shift in _TIME_SHIFTS)
        return time_part + self.token(16)
