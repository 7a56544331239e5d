"""Shard iterators: opaque, tamper-proof tokens that expire 300 s after issue.

A token carries the stream incarnation, the shard, the position of the next record and the
instant of issue, signed with HMAC-SHA256 under a secret kept in the home, so an iterator works
in every process that opens the home and a forged or edited one is refused.

>>> signer = IteratorSigner(b"k" * 32)
>>> token = signer.issue(Position("s", 1, 7, 42), issued_ms=1000)
>>> signer.open(token, now_ms=2000)
Position(stream='s', created_ms=1, shard_index=7, position=42)
>>> signer.open(token[:-2] + "xx", now_ms=2000)
Traceback (most recent call last):
...
workbench.errors.InvalidArgumentException: Invalid ShardIterator.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import NamedTuple

import orjson

from workbench.errors import ExpiredIteratorException, InvalidArgumentException

ITERATOR_LIFETIME_MS = 300_000
ITERATOR_TYPES = (
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
)
_MAC_BYTES = 16


class Position(NamedTuple):
    """Where an iterator points: a record position within one shard of one stream."""

    stream: str
    created_ms: int
    shard_index: int
    position: int


def home_secret(folder: Path) -> bytes:
    """The home's iterator secret, created once (exclusively, so racing processes agree).

    Files of the streams folder itself start with ``#``, which no stream name can contain.
    """
    path = folder / "#iterator-secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        deadline = time.monotonic() + 10
        while len(secret := path.read_bytes()) != 32:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)  # the creator is writing it
        return secret
    secret = secrets.token_bytes(32)
    staging = path.with_name("#iterator-secret.new")
    staging.write_bytes(secret)
    os.close(fd)
    os.replace(staging, path)
    return secret


class IteratorSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: bytes) -> bytes:
        return hmac.digest(self._secret, body, "sha256")[:_MAC_BYTES]

    def issue(self, where: Position, issued_ms: int) -> str:
        body = orjson.dumps([*where, issued_ms])
        return base64.urlsafe_b64encode(body + self._mac(body)).decode()

    def open(self, token: object, now_ms: int) -> Position:
        """The position in a token, after checking its signature and age."""
        if not isinstance(token, str) or not 1 <= len(token) <= 512:
            raise InvalidArgumentException("Invalid ShardIterator.")
        try:
            raw = base64.urlsafe_b64decode(token.encode())
        except ValueError:
            raise InvalidArgumentException("Invalid ShardIterator.") from None
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, self._mac(body)):
            raise InvalidArgumentException("Invalid ShardIterator.")
        stream, created_ms, shard_index, position, issued_ms = orjson.loads(body)
        age = now_ms - issued_ms
        if age > ITERATOR_LIFETIME_MS:
            raise ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time "
                f"{_iso(issued_ms)} while right now it is {_iso(now_ms)} which is further in "
                f"the future than the tolerated delay of {ITERATOR_LIFETIME_MS} milliseconds."
            )
        return Position(stream, created_ms, shard_index, position)


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
