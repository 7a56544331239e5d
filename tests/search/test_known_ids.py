"""The in-memory _id filter never says "not held" of an _id that was written."""

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from workbench.search import _known_ids
from workbench.search._known_ids import KnownIds, id_hashes

ids = st.text(min_size=1, max_size=6)


@given(st.lists(ids, max_size=10), st.lists(st.lists(ids, max_size=10), max_size=8), st.lists(ids))
def test_every_written_id_may_be_held_and_others_are_not(first, batches, asked):
    _known_ids._MERGE_AT, merge_at = 4, _known_ids._MERGE_AT  # merge often
    try:
        known = KnownIds(id_hashes(pl.Series(first, dtype=pl.String)))
        for batch in batches:
            known.add(id_hashes(pl.Series(batch, dtype=pl.String)))
        written = set(first).union(*batches)
        asked = [*written, *asked]
        held = known.maybe_held(id_hashes(pl.Series(asked, dtype=pl.String))).tolist()
    finally:
        _known_ids._MERGE_AT = merge_at
    assert held == [i in written for i in asked]  # 64-bit hashes: no collision among these
