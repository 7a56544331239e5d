"""Which ``_id`` an index may hold, answered from memory: a write of new documents then needs
no scan of the index's ``_id`` column to learn that none of them replaces a document.

Holds a 64-bit hash of every ``_id`` written (8 bytes a document, sorted, plus a set of the
latest). "Maybe held" can be wrong only in the safe direction (a hash collision, or a document
deleted since): the index then looks those few ``_id`` up in DuckDB. "Not held" is exact. A
scan of a million ``_id`` took longer than the rest of a bulk request of a thousand.

>>> import polars as pl
>>> known = KnownIds(pl.Series(["a", "b"]))
>>> known.maybe_held(pl.Series(["b", "c"])).to_list()
[True, False]
>>> known.add(pl.Series(["c"]))
>>> known.maybe_held(pl.Series(["b", "c", "d"])).to_list()
[True, True, False]
"""

from __future__ import annotations

import numpy as np
import polars as pl

_MERGE_AT = 1 << 16  # recent hashes kept in a set until this many, then merged into the array


class KnownIds:
    def __init__(self, ids: pl.Series) -> None:
        self._sorted = np.sort(_hashes(ids))
        self._recent: set[int] = set()

    def maybe_held(self, ids: pl.Series) -> pl.Series:
        """True where the ``_id`` may be in the index, False where it certainly is not."""
        hashes = _hashes(ids)
        held = np.zeros(len(hashes), dtype=bool)
        if len(self._sorted):
            at = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
            held = self._sorted[at] == hashes
        if self._recent:
            recent = self._recent
            held |= np.fromiter((h in recent for h in hashes.tolist()), bool, len(hashes))
        return pl.Series(held)

    def add(self, ids: pl.Series) -> None:
        self._recent.update(_hashes(ids).tolist())
        if len(self._recent) >= _MERGE_AT:
            recent = np.fromiter(self._recent, np.uint64, len(self._recent))
            self._sorted = np.sort(np.concatenate([self._sorted, recent]))
            self._recent = set()


def _hashes(ids: pl.Series) -> np.ndarray:
    return ids.hash(seed=0).to_numpy()
