"""Which shards one worker reads: it takes free and expired leases, renews its own, and balances.

The KCL's rules, on the lease table:
- a lease is *active* while its shard is unfinished and all of its parents are finished
  (checkpointed at SHARD_END, or gone from the stream), so a child is read only after its parents;
- a lease is *expired* when this worker has seen its counter stand still for ``lease_timeout``
  seconds on the workbench clock (a live owner renews it every third of that); expiry is judged
  by each observer's own clock, never by a time stored in the table, so clocks need not agree;
- a worker takes free and expired leases up to its fair share, ceil(active leases / live workers),
  and steals one lease per round from a worker holding more than that share.

>>> import pathlib, tempfile
>>> from workbench import SimulatedClock
>>> from workbench.streams._leases import LeaseTable, TRIM_HORIZON
>>> path = pathlib.Path(tempfile.mkdtemp()) / "app.sqlite"
>>> clock = SimulatedClock(start=0)
>>> a = LeaseCoordinator(LeaseTable(path), "a", clock, lease_timeout=10)
>>> b = LeaseCoordinator(LeaseTable(path), "b", clock, lease_timeout=10)
>>> a.sync({"shard-0": (), "shard-1": ()}, lambda shard_id: TRIM_HORIZON)
2
>>> sorted(lease.lease_key for lease in a.take_leases())
['shard-0', 'shard-1']
>>> b.take_leases()  # a holds both and is alive: b steals one to balance
[Lease(lease_key='shard-0', checkpoint='TRIM_HORIZON', lease_counter=2, lease_owner='b', \
parent_shard_ids=(), owner_switches_since_checkpoint=1)]
>>> a.renew()  # a learns that it lost shard-0
['shard-0']
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from workbench.clock import Clock
from workbench.streams._leases import SHARD_END, Lease, LeaseLost, LeaseTable


@dataclass
class Held:
    """A lease this worker holds: the counter it last wrote and the checkpoint it took it at."""

    lease_key: str
    counter: int
    checkpoint: str
    parent_shard_ids: tuple[str, ...] = field(default=())


class LeaseCoordinator:
    """One worker's view of an application's lease table."""

    def __init__(
        self,
        table: LeaseTable,
        worker_id: str,
        clock: Clock,
        *,
        lease_timeout: float = 10.0,
        max_leases: int | None = None,
    ) -> None:
        self.table = table
        self.worker_id = worker_id
        self.clock = clock
        self.lease_timeout = float(lease_timeout)
        self.max_leases = max_leases
        self._lock = threading.RLock()
        self._held: dict[str, Held] = {}
        # lease key -> (counter, owner, when this worker first saw that pair)
        self._seen: dict[str, tuple[int, str | None, float]] = {}

    def held(self) -> dict[str, Held]:
        """The leases this worker holds now, by shard id."""
        with self._lock:
            return dict(self._held)

    def holds(self, held: Held) -> bool:
        """Whether ``held`` is still this worker's current hold on its shard."""
        with self._lock:
            return self._held.get(held.lease_key) is held

    def sync(
        self, shards: Mapping[str, Iterable[str]], first_checkpoint: Callable[[str], str], **kw
    ) -> int:
        """Add leases for shards (id -> parent ids) the table does not know yet."""
        known = {lease.lease_key for lease in self.table.leases()}
        missing = {shard_id: tuple(p) for shard_id, p in shards.items() if shard_id not in known}
        return self.table.create_leases(missing, first_checkpoint, **kw) if missing else 0

    def _observe(self, leases: list[Lease], now: float) -> None:
        for lease in leases:
            seen = self._seen.get(lease.lease_key)
            if seen is None or seen[:2] != (lease.lease_counter, lease.lease_owner):
                self._seen[lease.lease_key] = (lease.lease_counter, lease.lease_owner, now)

    def _expired(self, lease: Lease, now: float) -> bool:
        return now - self._seen[lease.lease_key][2] >= self.lease_timeout

    def take_leases(self) -> list[Lease]:
        """Take this worker's fair share of active leases; the leases newly taken."""
        with self._lock:
            now = self.clock.now()
            leases = self.table.leases()
            self._observe(leases, now)
            by_key = {lease.lease_key: lease for lease in leases}
            active = [
                lease
                for lease in leases
                if not lease.finished
                and all(p not in by_key or by_key[p].finished for p in lease.parent_shard_ids)
            ]
            mine, free, others = [], [], Counter()
            for lease in active:
                if lease.lease_owner == self.worker_id and lease.lease_key in self._held:
                    mine.append(lease)
                elif lease.lease_owner is None or self._expired(lease, now):
                    free.append(lease)
                elif lease.lease_owner != self.worker_id:
                    others[lease.lease_owner] += 1
                else:
                    # Ours in the table but not in memory: a hold this worker already gave up.
                    free.append(lease)
            target = math.ceil(len(active) / (len(others) + 1)) if active else 0
            if self.max_leases is not None:
                target = min(target, self.max_leases)
            wanted = target - len(mine)
            candidates = free[:wanted] if wanted > 0 else []
            if wanted > 0 and not free and others:
                owner, count = others.most_common(1)[0]
                if count > target:
                    candidates = [next(x for x in active if x.lease_owner == owner)]
            taken = []
            for lease in candidates:
                got = self.table.take(lease.lease_key, self.worker_id, lease.lease_counter)
                if got is not None:
                    self._held[got.lease_key] = Held(
                        got.lease_key, got.lease_counter, got.checkpoint, got.parent_shard_ids
                    )
                    taken.append(got)
            return taken

    def renew(self) -> list[str]:
        """Renew every held lease; the shard ids whose leases turned out to be lost."""
        lost = []
        with self._lock:
            for key, held in list(self._held.items()):
                counter = self.table.renew(key, self.worker_id, held.counter)
                if counter is None:
                    lost.append(key)
                    del self._held[key]
                else:
                    held.counter = counter
        return lost

    def checkpoint(self, held: Held, checkpoint: str) -> None:
        """Record ``checkpoint`` for a held shard; a finished shard's lease is given up.

        Raises :class:`LeaseLost` when another worker holds the shard now.
        """
        with self._lock:
            if self._held.get(held.lease_key) is not held:
                raise LeaseLost(f"worker {self.worker_id} no longer holds {held.lease_key}")
            counter = self.table.checkpoint(
                held.lease_key, self.worker_id, held.counter, checkpoint
            )
            if counter is None:
                del self._held[held.lease_key]
                raise LeaseLost(
                    f"worker {self.worker_id} lost the lease on {held.lease_key} to another "
                    "worker; its records since the last checkpoint will be read again there"
                )
            held.counter = counter
            if checkpoint == SHARD_END:
                self._give_up(held)

    def _give_up(self, held: Held) -> None:
        self.table.release(held.lease_key, self.worker_id, held.counter)
        del self._held[held.lease_key]

    def release_all(self) -> None:
        """Give up every lease so other workers can take them at once (a clean shutdown)."""
        with self._lock:
            for held in list(self._held.values()):
                self._give_up(held)
