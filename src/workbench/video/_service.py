"""Video streams in the home: create, describe, list, delete, and retention on the clock."""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING

import orjson

from workbench.errors import (
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
    VersionMismatchException,
)
from workbench.video._index import Index
from workbench.video._times import check_max_results, decode_token, encode_token, to_datetime

if TYPE_CHECKING:
    from collections.abc import Sequence

    from workbench._workbench import Workbench
    from workbench.video._detectors import Detector
    from workbench.video._processor import FrameProcessor, RecordSink
    from workbench.video._stream import VideoStream

ACCOUNT = "000000000000"
REGION = "us-east-1"
MAX_RETENTION_HOURS = 87600
# A stream with DataRetentionInHours 0 keeps fragments only this long, for live readers.
LIVE_BUFFER_S = 300.0

_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
_MEDIA_TYPE = re.compile(r"[\w\-.+]+/[\w\-.+]+(,[\w\-.+]+/[\w\-.+]+)*")


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgumentException(
            f"StreamName {name!r} is invalid: use 1-256 characters from a-z, A-Z, 0-9, '_', '.' "
            "and '-'"
        )
    return name


class Video:
    """Kinesis Video Streams in the workbench's home (``wb.video``).

    >>> import tempfile
    >>> from workbench import SimulatedClock, Workbench
    >>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
    >>> cam = wb.video.create_stream("door-cam", data_retention_in_hours=24)
    >>> wb.video.describe_stream("door-cam")["StreamInfo"]["DataRetentionInHours"]
    24
    >>> [s["StreamName"] for s in wb.video.list_streams()["StreamInfoList"]]
    ['door-cam']
    """

    def __init__(self, wb: Workbench) -> None:
        self.wb = wb
        self.clock = wb.clock
        self.folder = wb.home.service_dir("video")
        self.index = Index(self.folder / "index.sqlite")

    def create_stream(
        self,
        name: str,
        *,
        media_type: str = "video/h264",
        data_retention_in_hours: int = 24,
        device_name: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> VideoStream:
        """Create a video stream; ResourceInUseException when the name is taken."""
        _check_name(name)
        if (
            not isinstance(media_type, str)
            or len(media_type) > 128
            or not _MEDIA_TYPE.fullmatch(media_type)
        ):
            raise InvalidArgumentException(
                f"MediaType {media_type!r} is invalid: use a media type such as 'video/h264' "
                "(type/subtype, at most 128 characters)"
            )
        retention = data_retention_in_hours
        if not isinstance(retention, int) or isinstance(retention, bool):
            raise InvalidArgumentException("DataRetentionInHours must be an integer")
        if not 0 <= retention <= MAX_RETENTION_HOURS:
            raise InvalidArgumentException(
                f"DataRetentionInHours {retention} is out of range: use 0-{MAX_RETENTION_HOURS}"
            )
        if device_name is not None and not 1 <= len(device_name) <= 128:
            raise InvalidArgumentException("DeviceName must be 1-128 characters")
        now = self.clock.now()
        created_ms = int(now * 1000)
        arn = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/{name}/{created_ms}"
        with self.index.connect(write=True) as db:
            if db.execute("SELECT 1 FROM streams WHERE name = ?", (name,)).fetchone():
                raise ResourceInUseException(
                    f"The stream {name} already exists; delete it first or choose another name."
                )
            db.execute(
                "INSERT INTO streams VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    arn,
                    device_name,
                    media_type,
                    retention,
                    now,
                    str(created_ms),
                    f"streams/{name}.{created_ms}",
                    orjson.dumps(tags or {}),
                ),
            )
        return self.stream(name)

    def stream(self, name: str) -> VideoStream:
        """The video stream called ``name`` or with that ARN (else ResourceNotFoundException)."""
        from workbench.video._stream import VideoStream

        row = self._row(name)
        return VideoStream(self, row["name"], row["arn"], self.folder / row["folder"])

    def describe_stream(self, name: str) -> dict:
        """DescribeStream: ``{"StreamInfo": {...}}``."""
        return {"StreamInfo": _info(self._row(name))}

    def list_streams(
        self, *, max_results: int = 10000, next_token: str | None = None, name_prefix: str = ""
    ) -> dict:
        """ListStreams, by name, paged; ``name_prefix`` is StreamNameCondition BEGINS_WITH."""
        check_max_results(max_results, 1, 10000)
        request = {"prefix": name_prefix}
        after = decode_token(next_token, request)["after"] if next_token else ""
        with self.index.connect() as db:
            rows = db.execute(
                "SELECT * FROM streams WHERE name > ? AND substr(name, 1, ?) = ? ORDER BY name "
                "LIMIT ?",
                (after, len(name_prefix), name_prefix, max_results + 1),
            ).fetchall()
        page = {"StreamInfoList": [_info(r) for r in rows[:max_results]]}
        if len(rows) > max_results:
            page["NextToken"] = encode_token({"request": request, "after": rows[-2]["name"]})
        return page

    def delete_stream(self, name: str, *, current_version: str | None = None) -> None:
        """Delete a stream and its fragments; VersionMismatchException on a stale version."""
        row = self._row(name)
        if current_version is not None and current_version != row["version"]:
            raise VersionMismatchException(
                f"CurrentVersion {current_version} is not the version of stream {name} "
                f"({row['version']})"
            )
        with self.index.connect(write=True) as db:
            db.execute("DELETE FROM fragments WHERE stream = ?", (name,))
            db.execute("DELETE FROM streams WHERE name = ?", (name,))
        # The rows are gone first: a crash here leaves only an unreferenced folder.
        shutil.rmtree(self.folder / row["folder"], ignore_errors=True)

    def processor(
        self,
        stream_name: str,
        sink: RecordSink | str,
        detectors: Sequence[Detector] | None = None,
        **options,
    ) -> FrameProcessor:
        """A frame processor over ``stream_name`` writing to ``sink``: a data stream's name
        (``wb.streams``) or any object with ``put_records``. Detectors default to motion and
        people; ``options`` are FrameProcessor's (``sampling_interval``, ``batch_size``).
        """
        from workbench.video._detectors import MotionDetector, PeopleDetector
        from workbench.video._processor import FrameProcessor

        target = self.wb.streams.stream(sink) if isinstance(sink, str) else sink
        chosen = detectors if detectors is not None else [MotionDetector(), PeopleDetector()]
        return FrameProcessor(self.stream(stream_name), target, chosen, **options)

    def enforce_retention(self) -> int:
        """Delete fragments older than their stream's retention; return how many went."""
        now = self.clock.now()
        with self.index.connect(write=True) as db:
            gone = db.execute(
                "DELETE FROM fragments WHERE seq IN (SELECT f.seq FROM fragments f JOIN streams s "
                "ON f.stream = s.name WHERE f.server_ts + "
                "CASE WHEN s.retention_hours = 0 THEN ? ELSE s.retention_hours * 3600.0 END <= ?) "
                "RETURNING file",
                (LIVE_BUFFER_S, now),
            ).fetchall()
        for row in gone:
            (self.folder / row["file"]).unlink(missing_ok=True)
        return len(gone)

    def recover(self) -> int:
        """Remove media files no fragment refers to (left by a producer killed mid-fragment).

        Streams with a producer at work are skipped: their unfinished files are not orphans.
        """
        with self.index.connect() as db:
            names = [r["name"] for r in db.execute("SELECT name FROM streams")]
        return sum(self.stream(name).recover(wait=False) for name in names)

    def _row(self, name: str):
        # A stream ARN names the stream too, as in AWS's StreamARN parameters.
        by = "arn" if isinstance(name, str) and name.startswith("arn:aws:kinesisvideo:") else "name"
        if by == "name":
            _check_name(name)
        with self.index.connect() as db:
            row = db.execute(f"SELECT * FROM streams WHERE {by} = ?", (name,)).fetchone()
        if row is None:
            raise ResourceNotFoundException(
                f"The stream {name} under account {ACCOUNT} was not found."
            )
        return row

    def __repr__(self) -> str:
        return f"Video({str(self.folder)!r})"


def _info(row) -> dict:
    info = {
        "StreamName": row["name"],
        "StreamARN": row["arn"],
        "MediaType": row["media_type"],
        "KmsKeyId": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesisvideo",
        "Version": row["version"],
        "Status": "ACTIVE",
        "CreationTime": to_datetime(row["creation_time"]),
        "DataRetentionInHours": row["retention_hours"],
    }
    if row["device_name"]:
        info["DeviceName"] = row["device_name"]
    return info
