"""Decoded nodes and items kept across requests, keyed by their wire bytes.

A scheduler that asks optsched about its cluster sends the same nodes and
the same running pods with every request; only the pending pods and what
changed since the last request are new. Decoding and checking a node or an
item costs far more than serializing its submessage again, so the server
keeps the model objects it decoded (``Node`` and ``Item`` are frozen) under
their bytes and decodes only what it has not seen.

Correctness rests on two facts: equal bytes parse to equal messages, and
decoding is a pure function of the message, the limits and the default item
kind (the scope of a table). Only objects that passed every check are kept;
a bad one raises, as it would without the cache, and naming its field still
works because the path is only formatted on that error path. Checks that
span objects (duplicate names, unknown references) run on every request.

The cache is two generations of plain dicts: lookups hit the young one or
promote from the old one, and when the young one fills, the old one is
dropped. Memory stays bounded by ``max_entries`` objects, a lookup takes one
or two dict probes, and threads may share it (the worst race decodes an
object twice).
"""

from __future__ import annotations

from typing import Any


class DecodeCache:
    def __init__(self, max_entries: int) -> None:
        if max_entries < 2:
            raise ValueError("a decode cache needs room for at least 2 entries")
        self.generation = max_entries // 2
        self._young: dict[tuple[Any, bytes], Any] = {}
        self._old: dict[tuple[Any, bytes], Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, scope: Any, key: bytes) -> Any:
        """The object stored for ``key`` in ``scope``, or None."""
        k = (scope, key)
        found = self._young.get(k)
        if found is None:
            found = self._old.get(k)
            if found is None:
                self.misses += 1
                return None
            self.put(scope, key, found)
        self.hits += 1
        return found

    def put(self, scope: Any, key: bytes, value: Any) -> None:
        if len(self._young) >= self.generation:
            self._old, self._young = self._young, {}
        self._young[(scope, key)] = value

    def __len__(self) -> int:
        return len(self._young) + len(self._old)


_cache: DecodeCache | None = None


def configure(max_entries: int) -> DecodeCache | None:
    """Use a new cache of ``max_entries`` objects in this process (0: none)."""
    return install(DecodeCache(max_entries) if max_entries else None)


def install(cache: DecodeCache | None) -> DecodeCache | None:
    """Use ``cache`` (None: none) in this process; returns it."""
    global _cache
    _cache = cache
    return cache


def active() -> DecodeCache | None:
    return _cache
