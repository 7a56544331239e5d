"""The lease table of a consumer application: one lease per shard, shared by worker processes.

A lease says which worker reads a shard (``leaseOwner``), how far the application got
(``checkpoint``: a sequence number, or TRIM_HORIZON / LATEST / AT_TIMESTAMP before the first
checkpoint, or SHARD_END once a closed shard is finished) and how the lease has changed
(``leaseCounter``, bumped by every take, renewal and checkpoint), as the KCL keeps it in DynamoDB.

The table is a SQLite file (see ``_sqlite`` for why), so any process of the home can open it.

>>> import tempfile, pathlib
>>> table = LeaseTable(pathlib.Path(tempfile.mkdtemp()) / "app.sqlite")
>>> table.create_leases({"shardId-000000000000": ()}, lambda shard_id: TRIM_HORIZON)
1
>>> lease = table.take("shardId-000000000000", "worker-a", expected_counter=0)
>>> (lease.lease_owner, lease.lease_counter, lease.checkpoint)
('worker-a', 1, 'TRIM_HORIZON')
>>> table.checkpoint("shardId-000000000000", "worker-a", 1, "4959033827149025660855")
2
>>> table.renew("shardId-000000000000", "worker-b", 2) is None   # not the owner: refused
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from workbench.streams._sqlite import Database

TRIM_HORIZON = "TRIM_HORIZON"
LATEST = "LATEST"
AT_TIMESTAMP = "AT_TIMESTAMP"
SHARD_END = "SHARD_END"
INITIAL_POSITIONS = (TRIM_HORIZON, LATEST, AT_TIMESTAMP)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS application (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    lease_key TEXT PRIMARY KEY,
    checkpoint TEXT NOT NULL,
    lease_counter INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    parent_shard_ids TEXT NOT NULL,
    owner_switches_since_checkpoint INTEGER NOT NULL DEFAULT 0
);
"""


class LeaseLost(Exception):
    """This worker no longer holds a shard's lease (taken over, or stolen for balance).

    Whatever was read from that shard since its last checkpoint will be read again by the new
    owner, so a handler sees those records at least once.
    """


@dataclass(frozen=True)
class Lease:
    """One row of the lease table."""

    lease_key: str
    checkpoint: str
    lease_counter: int
    lease_owner: str | None
    parent_shard_ids: tuple[str, ...]
    owner_switches_since_checkpoint: int = 0

    @property
    def finished(self) -> bool:
        """The shard was read to its end and that end is checkpointed."""
        return self.checkpoint == SHARD_END

    def to_dict(self) -> dict[str, object]:
        """The lease as the KCL names its attributes."""
        return {
            "leaseKey": self.lease_key,
            "checkpoint": self.checkpoint,
            "leaseCounter": self.lease_counter,
            "leaseOwner": self.lease_owner,
            "parentShardId": list(self.parent_shard_ids),
            "ownerSwitchesSinceCheckpoint": self.owner_switches_since_checkpoint,
        }


def _lease(row: tuple) -> Lease:
    key, checkpoint, counter, owner, parents, switches = row
    return Lease(key, checkpoint, counter, owner, tuple(orjson.loads(parents)), switches)


class LeaseTable:
    """The leases of one application over one stream, in a SQLite file any process can open.

    Every write is conditional on the counter (and owner) the writer last saw; a write that lost a
    race changes nothing and returns None, so two workers can never both believe they own a shard.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = Database(self.path, _SCHEMA)

    def setting(self, key: str) -> str | None:
        """A value stored with the application (its initial position, a timestamp)."""
        row = self._db.one("SELECT value FROM application WHERE key = ?", (key,))
        return row[0] if row else None

    def leases(self) -> list[Lease]:
        """Every lease, ordered by shard id."""
        return [_lease(row) for row in self._db.all("SELECT * FROM leases ORDER BY lease_key")]

    def get(self, lease_key: str) -> Lease | None:
        row = self._db.one("SELECT * FROM leases WHERE lease_key = ?", (lease_key,))
        return _lease(row) if row else None

    def create_leases(
        self,
        shards: Mapping[str, Iterable[str]],
        first_checkpoint: Callable[[str], str],
        *,
        settings: Mapping[str, str] | None = None,
    ) -> int:
        """Add a lease for each shard id (mapped to its parents' ids) that has none yet.

        The first call on a new table stores ``settings`` and starts each lease at
        ``first_checkpoint(shard_id)`` (the application's initial position); shards that appear
        later (children of a split or merge) start at TRIM_HORIZON so none of their records is
        missed. Returns how many leases were added.
        """
        with self._db.transaction() as sql:
            fresh = sql.execute("SELECT 1 FROM application WHERE key = 'initialized'").fetchone()
            fresh = fresh is None
            rows = [
                (
                    shard_id,
                    first_checkpoint(shard_id) if fresh else TRIM_HORIZON,
                    orjson.dumps(sorted(parents)).decode(),
                )
                for shard_id, parents in shards.items()
            ]
            before = sql.total_changes
            sql.executemany(
                "INSERT OR IGNORE INTO leases (lease_key, checkpoint, parent_shard_ids) "
                "VALUES (?, ?, ?)",
                rows,
            )
            added = sql.total_changes - before
            if fresh:
                sql.executemany(
                    "INSERT OR REPLACE INTO application (key, value) VALUES (?, ?)",
                    [("initialized", "1"), *(settings or {}).items()],
                )
        return added

    def _update(self, sql: str, params: tuple, lease_key: str) -> Lease | None:
        rows = self._db.all(f"{sql} RETURNING *", params)
        return _lease(rows[0]) if rows else None

    def take(self, lease_key: str, owner: str, expected_counter: int) -> Lease | None:
        """Make ``owner`` the holder, if nobody changed the lease since ``expected_counter``."""
        return self._update(
            "UPDATE leases SET lease_owner = ?, lease_counter = lease_counter + 1, "
            "owner_switches_since_checkpoint = owner_switches_since_checkpoint "
            "+ (lease_owner IS NOT NULL AND lease_owner != ?) "
            "WHERE lease_key = ? AND lease_counter = ? AND checkpoint != 'SHARD_END'",
            (owner, owner, lease_key, expected_counter),
            lease_key,
        )

    def renew(self, lease_key: str, owner: str, counter: int) -> int | None:
        """Show ``owner`` is alive; the new counter, or None when the lease is no longer its own."""
        lease = self._update(
            "UPDATE leases SET lease_counter = lease_counter + 1 "
            "WHERE lease_key = ? AND lease_owner = ? AND lease_counter = ?",
            (lease_key, owner, counter),
            lease_key,
        )
        return lease.lease_counter if lease else None

    def checkpoint(self, lease_key: str, owner: str, counter: int, checkpoint: str) -> int | None:
        """Record how far ``owner`` processed the shard; the new counter, or None if not owner."""
        lease = self._update(
            "UPDATE leases SET checkpoint = ?, lease_counter = lease_counter + 1, "
            "owner_switches_since_checkpoint = 0 "
            "WHERE lease_key = ? AND lease_owner = ? AND lease_counter = ?",
            (checkpoint, lease_key, owner, counter),
            lease_key,
        )
        return lease.lease_counter if lease else None

    def release(self, lease_key: str, owner: str, counter: int) -> bool:
        """Give the lease up so another worker can take it at once (a clean shutdown)."""
        return (
            self._update(
                "UPDATE leases SET lease_owner = NULL, lease_counter = lease_counter + 1 "
                "WHERE lease_key = ? AND lease_owner = ? AND lease_counter = ?",
                (lease_key, owner, counter),
                lease_key,
            )
            is not None
        )

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"LeaseTable({str(self.path)!r})"
