"""``s3://bucket/key`` URIs: parsing and S3's rules for bucket names and keys."""

from __future__ import annotations

import re

from workbench.errors import InvalidBucketName, KeyTooLongError, ValidationException

SCHEME = "s3://"
MAX_KEY_BYTES = 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket(name: str) -> str:
    """``name`` if it is a valid S3 bucket name, else :class:`InvalidBucketName`.

    >>> check_bucket("retail-lake")
    'retail-lake'
    >>> check_bucket("Retail_Lake")
    Traceback (most recent call last):
    ...
    workbench.errors.InvalidBucketName: The specified bucket is not valid: 'Retail_Lake'. ...
    """
    problem = None
    if not isinstance(name, str) or not _BUCKET.match(name):
        problem = (
            "use 3-63 characters: lowercase letters, digits, dots and hyphens, beginning and "
            "ending with a letter or digit"
        )
    elif ".." in name or ".-" in name or "-." in name:
        problem = "dots may not be next to another dot or a hyphen"
    elif _IP.match(name):
        problem = "a bucket name may not look like an IP address"
    elif name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        problem = f"prefixes {_RESERVED_PREFIXES} and suffixes {_RESERVED_SUFFIXES} are reserved"
    if problem:
        raise InvalidBucketName(f"The specified bucket is not valid: {name!r}. {problem}.")
    return name


def check_key(key: str) -> str:
    """``key`` if the lake can store an object under it.

    S3 allows a few keys that a folder tree cannot hold (empty or ``.``/``..`` path segments,
    a trailing slash); the lake refuses them everywhere so that both backends hold the same keys.
    """
    if not isinstance(key, str) or not key:
        raise ValidationException("An object key must be a non-empty string.")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise KeyTooLongError(
            f"Your key is too long: {len(key.encode())} bytes; at most {MAX_KEY_BYTES} bytes of "
            "UTF-8 are allowed."
        )
    if "\x00" in key:
        raise ValidationException(f"Object key {key!r} contains a NUL character.")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValidationException(
            f"Object key {key!r} is not allowed in the lake: its '/'-separated parts must be "
            "non-empty and not '.' or '..' (no leading, trailing or doubled slash)."
        )
    return key


def parse_uri(uri: str, *, need_key: bool = True) -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key``; the key may be empty when ``need_key`` is False.

    >>> parse_uri("s3://retail-lake/json-data/part-0.json")
    ('retail-lake', 'json-data/part-0.json')
    >>> parse_uri("s3://retail-lake/json-data/", need_key=False)
    ('retail-lake', 'json-data/')
    """
    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        raise ValidationException(
            f"{uri!r} is not a lake URI: write s3://<bucket>/<key>, e.g. s3://retail-lake/a.json"
        )
    bucket, _, key = uri[len(SCHEME) :].partition("/")
    check_bucket(bucket)
    if need_key:
        check_key(key)
    elif key and ("\x00" in key or any(p in (".", "..") for p in key.split("/"))):
        raise ValidationException(f"Prefix {key!r} may not contain NUL, '.' or '..' parts.")
    return bucket, key


def make_uri(bucket: str, key: str = "") -> str:
    """``s3://bucket/key``.

    >>> make_uri("retail-lake", "json-data/")
    's3://retail-lake/json-data/'
    """
    return f"{SCHEME}{bucket}/{key}"
