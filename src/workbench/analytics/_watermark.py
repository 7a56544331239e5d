"""Per-record watermarks: which records are late, decided record by record yet vectorised.

The watermark a record meets is formed by every record before it: the largest event time seen
so far minus the out-of-orderness delay. A record is late when its event time is behind that
watermark by more than the allowed lateness. A running maximum over the batch, seeded with the
maximum carried from earlier batches, gives each record's watermark at once, so the answer is the
same however the input is cut into batches.

>>> import numpy as np
>>> late, seen, _ = late_records(np.array([10, 5, 20, 14, 16]), NO_TIME, behind=5)
>>> late.tolist(), seen
([False, False, False, True, False], 20)
>>> late_records(np.array([14, 16]), 20, behind=5)[0].tolist()   # same answer in two batches
[True, False]
"""

from __future__ import annotations

import numpy as np

# "No event seen yet": far below any real millisecond instant, yet safe to subtract from.
NO_TIME = -(2**62)
# The watermark of an input that has ended: every window closes.
END_OF_TIME = 2**62


def late_records(
    ts: np.ndarray, seen: int, behind: int, cap: int = END_OF_TIME
) -> tuple[np.ndarray, int, np.ndarray]:
    """(late mask, new max event time, max event time before each record) for ``ts`` after
    records whose maximum was ``seen``.

    ``behind`` is the watermark delay plus the allowed lateness, in milliseconds. ``cap`` is
    the least maximum of the other partitions (shards) of the input: the watermark of a
    partitioned input is the minimum over its partitions, as in Flink.
    """
    if len(ts) == 0:
        return np.zeros(0, dtype=bool), seen, ts
    running = np.maximum.accumulate(ts)
    before = np.empty_like(ts)
    before[0] = seen
    np.maximum(running[:-1], seen, out=before[1:])
    np.minimum(before, cap, out=before)
    return ts < before - behind, max(seen, int(running[-1])), before
