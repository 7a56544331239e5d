"""Which ``_id`` an index may hold, answered from memory: a write of new documents then needs
no scan of the index's ``_id`` column to learn that none of them replaces a document.

Holds a 64-bit hash of every ``_id`` written (8 bytes a document) in two sorted arrays: a large
one and one of the latest writes, merged into the large one now and then, so that adding a
batch copies little and asking is two binary searches. "Maybe held" can be wrong only in the
safe direction (a hash collision, or a document deleted since): the index then looks those few
``_id`` up in DuckDB. "Not held" is exact. A scan of a million ``_id`` took longer than the rest
of a bulk request of a thousand.

>>> import polars as pl
>>> known = KnownIds(id_hashes(pl.Series(["a", "b"])))
>>> known.maybe_held(id_hashes(pl.Series(["b", "c"]))).tolist()
[True, False]
>>> known.add(id_hashes(pl.Series(["c"])))
>>> known.maybe_held(id_hashes(pl.Series(["b", "c", "d"]))).tolist()
[True, True, False]
"""

from __future__ import annotations

import numpy as np
import polars as pl

_MERGE_AT = 1 << 16  # latest hashes kept apart until this many, then merged into the large array


def id_hashes(ids: pl.Series) -> np.ndarray:
    return ids.hash(seed=0).to_numpy()


class KnownIds:
    def __init__(self, hashes: np.ndarray) -> None:
        self._large = np.sort(hashes)
        self._latest = np.empty(0, dtype=np.uint64)

    def maybe_held(self, hashes: np.ndarray) -> np.ndarray:
        """True where the ``_id`` may be in the index, False where it certainly is not."""
        return _member(self._large, hashes) | _member(self._latest, hashes)

    def add(self, hashes: np.ndarray) -> None:
        self._latest = _inserted(self._latest, hashes)
        if len(self._latest) >= _MERGE_AT:
            self._large = _inserted(self._large, self._latest)
            self._latest = np.empty(0, dtype=np.uint64)


def _member(sorted_: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    if not len(sorted_):
        return np.zeros(len(hashes), dtype=bool)
    return sorted_[np.minimum(np.searchsorted(sorted_, hashes), len(sorted_) - 1)] == hashes


def _inserted(sorted_: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    new = np.sort(hashes)
    return np.insert(sorted_, np.searchsorted(sorted_, new), new)
