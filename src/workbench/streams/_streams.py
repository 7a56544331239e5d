"""The streams of one home: create, open, list, describe and delete (``wb.streams``).

Each stream is a folder ``<home>/streams/<name>/`` holding ``stream.json`` (its metadata,
replaced atomically), a ``lock`` file and ``shards/<shard id>/<segment>/`` (see ``_log.py`` and
docs/streams-format.md).

>>> import tempfile
>>> from workbench import SimulatedClock, Workbench
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
>>> _ = wb.streams.create_stream("retail-trans", 4)
>>> wb.streams.list_streams()["StreamNames"]
['retail-trans']
>>> shards = wb.streams.stream("retail-trans").list_shards()
>>> [s["HashKeyRange"]["StartingHashKey"] for s in shards][:2]
['0', '85070591730234615865843651857942052864']
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from workbench._files import atomic_write_json, locked
from workbench.clock import Clock
from workbench.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from workbench.streams._consumer_api import ConsumerAPI
from workbench.streams._iterators import IteratorSigner, home_secret
from workbench.streams._metadata import ShardInfo, StreamMeta
from workbench.streams._routing import hash_key_ranges
from workbench.streams._stream import Stream, check_tag
from workbench.streams._validation import ACCOUNT, check_int, check_stream_name, invalid

SHARD_LIMIT = 500
ON_DEMAND_SHARDS = 4
MIN_RECORD_KIB, MAX_RECORD_KIB = 1024, 10240


class Streams(ConsumerAPI):
    """Kinesis Data Streams for one home (``wb.streams``)."""

    def __init__(self, folder: Path, clock: Clock) -> None:
        self.folder = folder
        self.clock = clock
        self.signer = IteratorSigner(home_secret(folder))
        self._open: dict[str, Stream] = {}

    def __repr__(self) -> str:
        return f"Streams({str(self.folder)!r})"

    def _folder(self, name: str) -> Path:
        return self.folder / check_stream_name(name)

    def create_stream(
        self,
        name: str,
        shard_count: int | None = None,
        *,
        on_demand: bool = False,
        max_record_size_kib: int = MIN_RECORD_KIB,
        tags: dict[str, str] | None = None,
        fsync: bool = False,
    ) -> Stream:
        """CreateStream: ``shard_count`` provisioned shards, or on-demand (4 shards to start).

        ``fsync`` makes every put flush to the disk before it returns (survives power loss);
        without it a put that returned is in the OS and survives the process being killed.
        """
        folder = self._folder(name)
        name = folder.name
        if on_demand:
            if shard_count is not None:
                raise InvalidArgumentException(
                    "ShardCount must not be given for a stream in ON_DEMAND mode; it starts "
                    f"with {ON_DEMAND_SHARDS} shards and scales by itself."
                )
            shard_count = ON_DEMAND_SHARDS
        elif shard_count is None:
            raise InvalidArgumentException(
                "ShardCount is required for a stream in PROVISIONED mode (or pass on_demand=True)."
            )
        check_int(shard_count, "shardCount", 1, 1 << 31)
        if shard_count > SHARD_LIMIT:
            raise LimitExceededException(
                f"This request would exceed the shard limit for the account {ACCOUNT} in "
                f"us-east-1. Requested shards: {shard_count}. Limit: {SHARD_LIMIT}."
            )
        check_int(max_record_size_kib, "maxRecordSizeInKiB", MIN_RECORD_KIB, MAX_RECORD_KIB)
        tags = dict(tags or {})
        if len(tags) > 50:
            raise invalid(tags, "tags", "have length less than or equal to 50")
        for key, value in tags.items():
            check_tag(key, value)
        now_ms = self.clock.now_ms()
        meta = StreamMeta(
            name=name,
            created_ms=now_ms,
            mode="ON_DEMAND" if on_demand else "PROVISIONED",
            retention_hours=24,
            max_record_size_kib=max_record_size_kib,
            fsync=fsync,
            shards=[
                ShardInfo(i, start, end, now_ms)
                for i, (start, end) in enumerate(hash_key_ranges(shard_count))
            ],
            tags=tags,
            next_shard_index=shard_count,
        )
        with locked(self.folder / "#lock"):
            if (folder / "stream.json").exists():
                raise ResourceInUseException(
                    f"Stream {name} under account {ACCOUNT} already exists."
                )
            staging = self.folder / f"#new-{name}-{uuid.uuid4().hex}"
            (staging / "shards").mkdir(parents=True)
            atomic_write_json(staging / "stream.json", meta.to_json())
            shutil.rmtree(folder, ignore_errors=True)  # leftovers of an interrupted delete
            os.rename(staging, folder)
        self._open.pop(name, None)
        return self.stream(name)

    def stream(self, name: str) -> Stream:
        """The stream called ``name`` (or given by its ARN); ResourceNotFoundException if none."""
        # Every request names its stream: one open under that very name (checked when it
        # opened) is only checked to still exist, without checking the name and making paths.
        stream = self._open.get(name)
        if stream is not None and stream._meta_file.exists():
            return stream
        folder = self._folder(name)
        name = folder.name
        stream = self._open.get(name)
        if stream is None or not (folder / "stream.json").exists():
            if stream is not None:
                stream.close()
            stream = Stream(self, name, folder)
            stream._meta()
            self._open[name] = stream
        return stream

    def list_streams(self) -> dict:
        """ListStreams' answer, names in order."""
        names = sorted(
            p.name
            for p in self.folder.iterdir()
            if not p.name.startswith("#") and (p / "stream.json").exists()
        )
        summaries = []
        for name in names:
            try:
                summary = self.stream(name).describe_summary()["StreamDescriptionSummary"]
            except ResourceNotFoundException:
                continue
            summaries.append(
                {
                    key: summary[key]
                    for key in (
                        "StreamName",
                        "StreamARN",
                        "StreamStatus",
                        "StreamModeDetails",
                        "StreamCreationTimestamp",
                    )
                }
            )
        return {
            "StreamNames": [s["StreamName"] for s in summaries],
            "HasMoreStreams": False,
            "StreamSummaries": summaries,
        }

    def describe_stream(self, name: str) -> dict:
        return self.stream(name).describe()

    def describe_stream_summary(self, name: str) -> dict:
        return self.stream(name).describe_summary()

    def delete_stream(self, name: str, *, enforce_consumer_deletion: bool = False) -> None:
        """DeleteStream: the stream and all its records go at once (renamed away, then removed).

        A stream with registered consumers is refused unless ``enforce_consumer_deletion``.
        """
        stream = self.stream(name)
        if self.consumer_count(stream.name) and not enforce_consumer_deletion:
            raise ResourceInUseException(
                f"Stream {stream.name} under account {ACCOUNT} has registered consumers; "
                "deregister them or pass enforce_consumer_deletion=True."
            )
        with locked(self.folder / "#lock"), locked(stream.folder / "lock"):
            trash = self.folder / f"#deleted-{stream.name}-{uuid.uuid4().hex}"
            os.rename(stream.folder, trash)
        stream.close()
        self._open.pop(stream.name, None)
        shutil.rmtree(trash, ignore_errors=True)

    def consumer_count(self, name: str) -> int:
        """Registered (enhanced fan-out) consumers of a stream: files in its ``consumers``
        folder, which the consumers module keeps."""
        folder = self._folder(name) / "consumers"
        try:
            return sum(1 for p in folder.iterdir() if p.suffix == ".json")
        except FileNotFoundError:
            return 0
