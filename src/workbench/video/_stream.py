"""One video stream: a producer puts frames, consumers read fragments, media, clips and images."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import InvalidArgumentException
from workbench.video import _playback
from workbench.video._index import Fragment, encode_frames
from workbench.video._media import SUFFIX, commit_file, write_fragment
from workbench.video._times import (
    check_max_results,
    decode_token,
    encode_token,
    instant,
    time_range,
)

if TYPE_CHECKING:
    from workbench.video._service import Video

MAX_FRAGMENT_S = 10.0
# Timestamps are sums of floats: a frame due exactly at the cut may come a hair early.
_CUT_TOLERANCE_S = 1e-6


class VideoStream:
    """A Kinesis video stream: fragments of media, each with a number and two timestamps.

    Get one from ``wb.video.create_stream(name)`` or ``wb.video.stream(name)``.
    """

    def __init__(self, video: Video, name: str, arn: str, folder: Path) -> None:
        self.video = video
        self.name = name
        self.arn = arn
        self.folder = folder
        self._relative = folder.relative_to(video.folder).as_posix()

    def describe(self) -> dict:
        """DescribeStream's StreamInfo."""
        return self.video.describe_stream(self.name)["StreamInfo"]

    # -- producing -----------------------------------------------------------------------

    def put_media(
        self,
        frames: Iterable[tuple[float, np.ndarray]],
        *,
        fragment_duration: float = 2.0,
        pace: bool = False,
        stop: threading.Event | None = None,
    ) -> list[dict]:
        """PutMedia: cut ``(producer timestamp, BGR image)`` pairs into fragments and persist them.

        A fragment closes when the next frame is ``fragment_duration`` seconds after its first
        frame (every frame is a keyframe here), when the frame size changes, and at the end.
        ``pace`` waits on the workbench clock until each frame's producer time, as a live
        camera would deliver it. Returns one PERSISTED acknowledgement per fragment. A bad
        frame raises InvalidArgumentException after the frames before it are persisted.
        """
        if not 0 < fragment_duration <= MAX_FRAGMENT_S:
            raise InvalidArgumentException(
                f"fragment_duration {fragment_duration!r} s is out of range: use (0, "
                f"{MAX_FRAGMENT_S:g}] seconds"
            )
        clock = self.video.clock
        acks: list[dict] = []
        pending = _Pending()
        last = float("-inf")
        with self._ingest_lock(wait=True):
            self._recover_locked()
            try:
                for item in frames:
                    if stop is not None and stop.is_set():
                        break
                    timestamp, image = _check_frame(item, last)
                    last = timestamp
                    if pace and (wait := timestamp - clock.now()) > 0:
                        clock.sleep(wait, cancel=stop)
                    if pending.times and (
                        timestamp - pending.times[0] >= fragment_duration - _CUT_TOLERANCE_S
                        or image.shape != pending.images[0].shape
                    ):
                        acks.append(self._commit(pending, next_start=timestamp))
                        pending = _Pending()
                    if not pending.times:
                        pending.server_ts = clock.now()
                    pending.times.append(timestamp)
                    pending.images.append(image)
            finally:
                if pending.times:
                    acks.append(self._commit(pending, next_start=None))
        return acks

    def _commit(self, pending: _Pending, next_start: float | None) -> dict:
        times = pending.times
        step = float(np.median(np.diff(times))) if len(times) > 1 else 1 / 30
        end = next_start if next_start is not None else times[-1] + step
        tmp = self.folder / f".pending-{os.getpid()}-{threading.get_ident()}{SUFFIX}"
        spans = write_fragment(tmp, pending.images, fps=1 / step if step > 0 else 30.0)
        height, width = pending.images[0].shape[:2]
        index = self.video.index
        with index.connect(write=True) as db:
            seq = db.execute(
                "INSERT INTO fragments (stream, number, producer_ts, server_ts, duration_ms, "
                "size, file, width, height, frames) VALUES (?, '', ?, ?, ?, ?, '', ?, ?, ?)",
                (
                    self.name,
                    times[0],
                    pending.server_ts,
                    round((end - times[0]) * 1000),
                    tmp.stat().st_size,
                    width,
                    height,
                    encode_frames(times, spans),
                ),
            ).lastrowid
            number = index.fragment_number(seq)
            final = self.folder / f"{number}{SUFFIX}"
            db.execute(
                "UPDATE fragments SET number = ?, file = ? WHERE seq = ?",
                (number, f"{self._relative}/{final.name}", seq),
            )
            # Renamed inside the transaction: a committed row always names a whole file, and a
            # crash before the commit leaves only a file that recovery removes.
            commit_file(tmp, final)
        return {
            "EventType": "PERSISTED",
            "FragmentNumber": number,
            "FragmentTimecode": round(times[0] * 1000),
            "FrameCount": len(times),
        }

    @contextmanager
    def _ingest_lock(self, wait: bool) -> Iterator[bool]:
        # One producer per stream at a time; the kernel drops the lock when a producer dies.
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def recover(self, *, wait: bool = True) -> int:
        """Remove this stream's media files that no fragment refers to; return how many.

        With ``wait=False`` a stream whose producer is at work is left alone (returns 0).
        """
        with self._ingest_lock(wait=wait) as held:
            return self._recover_locked() if held else 0

    def _recover_locked(self) -> int:
        known = {f.path.name for f in self.video.index.fragments(self.name)}
        removed = 0
        for media in self.folder.iterdir():
            if media.suffix == SUFFIX and (media.name.startswith(".") or media.name not in known):
                media.unlink(missing_ok=True)
                removed += 1
        return removed

    # -- consuming -----------------------------------------------------------------------

    def fragments(self) -> list[Fragment]:
        """Every retained fragment, oldest first."""
        self.video.enforce_retention()
        return self.video.index.fragments(self.name)

    def list_fragments(
        self,
        start: object = None,
        end: object = None,
        *,
        timestamp_type: str = "PRODUCER_TIMESTAMP",
        max_results: int = 100,
        next_token: str | None = None,
    ) -> dict:
        """ListFragments whose producer or server timestamp lies in [start, end], paged.

        Without ``start`` and ``end`` every retained fragment is listed.
        """
        check_max_results(max_results, 1, 1000)
        low, high, column = time_range(
            start if start is not None else 0, end if end is not None else 2**40, timestamp_type
        )
        request = {"stream": self.arn, "range": [low, high, column]}
        where, params = f"{column} BETWEEN ? AND ?", [low, high]
        if next_token:
            ts, number = decode_token(next_token, request)["after"]
            where += f" AND ({column} > ? OR ({column} = ? AND number > ?))"
            params += [ts, ts, number]
        self.video.enforce_retention()
        rows = self.video.index.fragments(
            self.name, where, tuple(params), f"{column}, number", max_results + 1
        )
        page: dict = {"Fragments": [f.to_aws() for f in rows[:max_results]]}
        if len(rows) > max_results:
            last = rows[max_results - 1]
            ts = last.producer_timestamp if column == "producer_ts" else last.server_timestamp
            page["NextToken"] = encode_token({"request": request, "after": [ts, last.number]})
        return page

    def get_media(
        self,
        start_selector: str | dict = "EARLIEST",
        *,
        follow: bool | None = None,
        idle_timeout: float = 5.0,
        max_frames: int | None = None,
        stop: threading.Event | None = None,
    ) -> _playback.Media:
        """GetMedia: decoded frames from a start selector, optionally following the live edge.

        ``start_selector`` is a StartSelectorType (``"EARLIEST"``, ``"NOW"``) or AWS's dict
        (``{"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": "..."}``, ...).
        ``follow`` (default: only for NOW) keeps waiting for new fragments until none came
        for ``idle_timeout`` seconds of the workbench clock, ``max_frames`` were read, or
        ``stop`` is set. The returned iterator's ``continuation_token`` resumes after the
        last whole fragment read.
        """
        selector = _playback.parse_selector(start_selector)
        if follow is None:
            follow = selector["StartSelectorType"] == "NOW"
        return _playback.Media(self, selector, follow, idle_timeout, max_frames, stop)

    def get_clip(
        self, start: object, end: object, *, timestamp_type: str = "PRODUCER_TIMESTAMP"
    ) -> dict:
        """GetClip: an H.264 MP4 of [start, end) that browsers play, as ``{"Payload": bytes}``."""
        low, high, column = time_range(start, end, timestamp_type)
        return _playback.clip(self, low, high, column)

    def get_hls_playlist(
        self,
        start: object,
        end: object,
        *,
        timestamp_type: str = "PRODUCER_TIMESTAMP",
        expires: int = 300,
    ) -> dict:
        """GetHLSStreamingSessionURL with PlaybackMode ON_DEMAND: a ``file://`` URL of a VOD
        playlist (one H.264 MPEG-TS segment per fragment) that HLS players open.

        Sessions live under ``<home>/video/hls/`` until ``expires`` seconds of the workbench
        clock have passed (300-43200, as on AWS); a later call removes expired ones.
        """
        low, high, column = time_range(start, end, timestamp_type)
        return _playback.hls_playlist(self, low, high, column, expires)

    def get_images(
        self,
        start: object,
        end: object,
        *,
        sampling_interval: int = 1000,
        image_format: str = "JPEG",
        jpeg_quality: int = 80,
        width: int | None = None,
        height: int | None = None,
        timestamp_type: str = "PRODUCER_TIMESTAMP",
        max_results: int = 25,
        next_token: str | None = None,
    ) -> dict:
        """GetImages: one image every ``sampling_interval`` ms of [start, end], paged.

        Each image is ``{"TimeStamp", "ImageContent" (base64)}`` or ``{"TimeStamp", "Error":
        "NO_MEDIA"}`` where no fragment covers that instant. ``width``/``height`` scale the
        images (one of them keeps the aspect ratio).
        """
        low, high, column = time_range(start, end, timestamp_type)
        return _playback.images(
            self,
            low,
            high,
            column,
            sampling_interval=sampling_interval,
            image_format=image_format,
            jpeg_quality=jpeg_quality,
            size=(width, height),
            max_results=max_results,
            next_token=next_token,
        )

    def __repr__(self) -> str:
        return f"VideoStream({self.name!r})"


class _Pending:
    """The fragment being gathered: frames since the last cut and when the first arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.images: list[np.ndarray] = []
        self.server_ts = 0.0


def _check_frame(item: object, last: float) -> tuple[float, np.ndarray]:
    try:
        timestamp, image = item  # type: ignore[misc]
    except (TypeError, ValueError):
        raise InvalidArgumentException(
            f"a frame is a (producer timestamp, image) pair, got {type(item).__name__}"
        ) from None
    timestamp = instant(timestamp, "frame producer timestamp")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InvalidArgumentException("a frame's image must be a uint8 numpy array (BGR)")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 2:
        raise InvalidArgumentException(
            f"a frame's image must be height×width×3 BGR, got shape {image.shape}"
        )
    if timestamp <= last:
        raise InvalidArgumentException(
            f"producer timestamps must increase: {timestamp} follows {last}"
        )
    return timestamp, image
