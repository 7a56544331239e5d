"""The lake: S3-shaped buckets and objects, in folders under the home or on an S3 service."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from workbench.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
    ValidationException,
)
from workbench.lake._localfs import LocalLakeFileSystem, remove_leftover_temp_files
from workbench.lake._uri import check_bucket, make_uri, parse_uri

ENDPOINT_ENV = "WORKBENCH_LAKE_ENDPOINT_URL"


@dataclass(frozen=True)
class ObjectInfo:
    """One object in a listing, as S3's ListObjectsV2 describes it."""

    uri: str
    key: str
    size: int
    last_modified: datetime


class Lake:
    """Buckets of objects addressed as ``s3://bucket/key``.

    By default the objects are files under a local folder (bucket = top folder, key = path
    below it); :meth:`s3` stores them on any S3-compatible service instead. Either way every
    object appears whole or not at all, and :attr:`filesystem` hands the same ``s3://`` URIs to
    DuckDB, pyarrow and polars.

    >>> import tempfile
    >>> lake = Lake.local(tempfile.mkdtemp())
    >>> lake.create_bucket("retail-lake")
    's3://retail-lake/'
    >>> lake.put("s3://retail-lake/json-data/a.json", b'{"Invoice": "489434"}\\n')
    >>> [(o.key, o.size) for o in lake.list("s3://retail-lake/json-data/")]
    [('json-data/a.json', 22)]
    >>> lake.get("s3://retail-lake/json-data/a.json")
    b'{"Invoice": "489434"}\\n'
    """

    def __init__(self, filesystem: Any, *, where: str, create: Callable[[str], None]) -> None:
        self.filesystem = filesystem
        self.where = where
        self._create = create

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def local(cls, root: str | os.PathLike[str], *, clock: Any = None) -> Lake:
        """A lake in the folders under ``root``; ``clock`` stamps objects' modification times."""
        fs = LocalLakeFileSystem(root, clock=clock.now if clock is not None else None)
        remove_leftover_temp_files(fs.tmp_dir)

        def create(bucket: str) -> None:
            try:
                fs.local_path(bucket).mkdir()
            except FileExistsError:
                raise _already_owned(bucket) from None

        return cls(fs, where=str(fs.root), create=create)

    @classmethod
    def s3(
        cls,
        endpoint_url: str | None = None,
        *,
        key: str | None = None,
        secret: str | None = None,
        region: str | None = None,
    ) -> Lake:
        """A lake on an S3-compatible service (AWS S3, moto's server, MinIO...).

        Credentials default to the usual AWS chain (environment, ~/.aws). Objects get the
        service's own LastModified times.
        """
        import s3fs  # an optional backend; imported only when used

        region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        fs = s3fs.S3FileSystem(
            key=key,
            secret=secret,
            endpoint_url=endpoint_url,
            client_kwargs={"region_name": region},
            # Other processes write the lake too: never answer from a stale listing.
            use_listings_cache=False,
            skip_instance_cache=True,
        )

        def create(bucket: str) -> None:
            params: dict[str, Any] = {"Bucket": bucket}
            if region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": region}
            if fs.exists(bucket):
                raise _already_owned(bucket)
            fs.call_s3("create_bucket", **params)
            fs.invalidate_cache()

        return cls(fs, where=endpoint_url or "AWS S3", create=create)

    @classmethod
    def for_home(cls, home: Any, clock: Any = None) -> Lake:
        """The lake of a workbench home: ``<home>/lake/``, or the S3 service that
        ``$WORKBENCH_LAKE_ENDPOINT_URL`` names."""
        endpoint = os.environ.get(ENDPOINT_ENV)
        if endpoint:
            return cls.s3(endpoint)
        return cls.local(home.service_dir("lake"), clock=clock)

    # -- buckets -------------------------------------------------------------------------------
    def create_bucket(self, name: str, *, exist_ok: bool = False) -> str:
        """Create bucket ``name`` and return its URI (BucketAlreadyOwnedByYou if it exists)."""
        check_bucket(name)
        try:
            self._create(name)
        except BucketAlreadyOwnedByYou:
            if not exist_ok:
                raise
        return make_uri(name)

    def list_buckets(self) -> list[str]:
        """Names of the buckets, sorted."""
        return sorted(
            e["name"].rstrip("/").split("/")[-1]
            for e in self.filesystem.ls("", detail=True)
            if e.get("type") == "directory"
        )

    def bucket_exists(self, name: str) -> bool:
        check_bucket(name)
        return self.filesystem.isdir(name)

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket (BucketNotEmpty while it holds objects)."""
        self._need_bucket(name)
        if self.filesystem.find(name):
            raise BucketNotEmpty(
                f"The bucket {name!r} you tried to delete is not empty: delete its objects first."
            )
        self.filesystem.rmdir(name)

    # -- objects -------------------------------------------------------------------------------
    def put(self, uri: str, data: bytes) -> None:
        """Store ``data`` as the object at ``uri``, replacing any object there, atomically."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValidationException(f"An object's body is bytes, not {type(data).__name__}.")
        path = self._object_path(uri, for_write=True)
        self.filesystem.pipe_file(path, bytes(data))

    def get(self, uri: str) -> bytes:
        """The bytes of the object at ``uri`` (NoSuchBucket, NoSuchKey)."""
        path = self._object_path(uri)
        try:
            return self.filesystem.cat_file(path)
        except (FileNotFoundError, IsADirectoryError):
            raise self._missing(uri) from None

    def exists(self, uri: str) -> bool:
        """Whether an object is stored at ``uri``."""
        return self.filesystem.isfile(self._object_path(uri))

    def info(self, uri: str) -> ObjectInfo:
        """Size and modification time of the object at ``uri``."""
        path = self._object_path(uri)
        try:
            entry = self.filesystem.info(path)
        except FileNotFoundError:
            raise self._missing(uri) from None
        if entry.get("type") != "file":
            raise self._missing(uri)
        return _object_info(uri, entry)

    def list(self, prefix_uri: str) -> list[ObjectInfo]:
        """Every object whose key starts with the prefix of ``s3://bucket/prefix``, by key.

        As on S3 a prefix is plain text, not a folder: ``s3://b/json`` lists ``json-data/...``.
        """
        bucket, prefix = parse_uri(prefix_uri, need_key=False)
        self._need_bucket(bucket)
        folder = "/".join([bucket, *prefix.split("/")[:-1]])
        try:
            found = self.filesystem.find(folder, detail=True)
        except FileNotFoundError:
            return []
        objects = []
        for path, entry in found.items():
            key = path.split("/", 1)[1] if "/" in path else ""
            if entry.get("type") == "file" and key.startswith(prefix):
                objects.append(_object_info(make_uri(bucket, key), entry))
        return sorted(objects, key=lambda o: o.key.encode())

    def delete(self, uri: str) -> None:
        """Delete the object at ``uri``; deleting a missing key is not an error (as on S3)."""
        path = self._object_path(uri)
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.rm_file(path)

    def open(self, uri: str, mode: str = "rb") -> IO[bytes]:
        """A binary file on the object: ``"rb"`` reads it, ``"wb"`` writes it whole on close
        (nothing appears if the ``with`` block fails)."""
        if mode not in ("rb", "wb"):
            raise ValidationException(f"Open lake objects with 'rb' or 'wb', not {mode!r}.")
        path = self._object_path(uri, for_write=mode == "wb")
        if mode == "wb":
            return self.filesystem.open(path, "wb")
        try:
            return self.filesystem.open(path, "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise self._missing(uri) from None

    def tree(self, prefix_uri: str) -> str:
        """The objects under a prefix drawn as a folder tree, for notebooks.

        >>> import tempfile
        >>> lake = Lake.local(tempfile.mkdtemp())
        >>> _ = lake.create_bucket("lab")
        >>> lake.put("s3://lab/json-data/year=2026/a.json", b"{}")
        >>> print(lake.tree("s3://lab/"))
        s3://lab/
        json-data/
            year=2026/
                a.json  (2 bytes)
        """
        bucket, prefix = parse_uri(prefix_uri, need_key=False)
        lines = [make_uri(bucket, prefix)]
        shown: set[tuple[str, ...]] = set()
        for obj in self.list(prefix_uri):
            parts = obj.key[len(prefix) :].split("/")
            for depth in range(1, len(parts)):
                folder = tuple(parts[:depth])
                if folder not in shown:
                    shown.add(folder)
                    lines.append(f"{'    ' * (depth - 1)}{parts[depth - 1]}/")
            lines.append(f"{'    ' * (len(parts) - 1)}{parts[-1]}  ({obj.size:,} bytes)")
        return "\n".join(lines)

    # -- helpers -------------------------------------------------------------------------------
    def _object_path(self, uri: str, *, for_write: bool = False) -> str:
        bucket, key = parse_uri(uri)
        if for_write:
            self._need_bucket(bucket)
        return f"{bucket}/{key}"

    def _need_bucket(self, bucket: str) -> None:
        if not self.bucket_exists(bucket):
            raise NoSuchBucket(
                f"The specified bucket does not exist: {bucket!r}. Create it with "
                f"lake.create_bucket({bucket!r})."
            )

    def _missing(self, uri: str) -> Exception:
        bucket, key = parse_uri(uri)
        if not self.bucket_exists(bucket):
            return NoSuchBucket(f"The specified bucket does not exist: {bucket!r}.")
        return NoSuchKey(f"The specified key does not exist: {key!r} in bucket {bucket!r}.")

    def __repr__(self) -> str:
        return f"Lake({self.where!r})"


def _already_owned(bucket: str) -> BucketAlreadyOwnedByYou:
    return BucketAlreadyOwnedByYou(
        f"Your previous request to create the named bucket succeeded and you already own it: "
        f"{bucket!r}."
    )


def _object_info(uri: str, entry: dict[str, Any]) -> ObjectInfo:
    modified = entry.get("LastModified")
    if modified is None:
        modified = datetime.fromtimestamp(entry["mtime"], UTC)
    elif modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return ObjectInfo(
        uri=uri, key=uri.split("/", 3)[3], size=int(entry["size"]), last_modified=modified
    )
