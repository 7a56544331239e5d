"""SigV4 on the way in: the header must be there and well formed; signatures checked on request.

Without credentials (the default) any well-formed signature is accepted, as the emulators do, so
boto3 with dummy keys just works. With ``credentials={access_key: secret_key}`` the signature is
recomputed with botocore's own signer over the request as received, and compared; and, as on
AWS, a request signed more than 5 minutes before or after the server's time (the workbench
clock) is refused.

>>> check = SigV4Check(credentials=None)
>>> check.verify("POST", "http://127.0.0.1/", {}, b"")
Traceback (most recent call last):
...
workbench.errors.MissingAuthenticationTokenException: Missing Authentication Token
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from workbench.clock import Clock, WallClock
from workbench.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

_ALGORITHM = "AWS4-HMAC-SHA256"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"  # X-Amz-Date, ISO 8601 basic format
# How far a request's X-Amz-Date may be from the server's time.
_SKEW = timedelta(minutes=5)
_PARTS = ("Credential", "Signature", "SignedHeaders")
# Credential=AKID/20260101/us-east-1/kinesis/aws4_request
_SCOPE = re.compile(r"([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


def _parse(authorization: str) -> dict[str, str]:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != _ALGORITHM:
        raise IncompleteSignatureException(
            f"Authorization header requires the {_ALGORITHM} algorithm, got {algorithm!r}."
        )
    parts = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key] = value
    missing = [
        f"Authorization header requires '{part}' parameter." for part in _PARTS if part not in parts
    ]
    if missing:
        raise IncompleteSignatureException(
            " ".join(missing) + f" Authorization={authorization[:200]}"
        )
    if not _SCOPE.fullmatch(parts["Credential"]):
        raise IncompleteSignatureException(
            f"Credential should be scoped to a valid region and service, got "
            f"{parts['Credential']!r}: expected <key>/<yyyymmdd>/<region>/<service>/aws4_request."
        )
    return parts


def _check_date(date: str, now: datetime) -> None:
    try:
        signed = datetime.strptime(date, _DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format'. Got '{date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None
    now_text = now.strftime(_DATE_FORMAT)
    if signed < now - _SKEW:
        raise InvalidSignatureException(
            f"Signature expired: {date} is now earlier than "
            f"{(now - _SKEW).strftime(_DATE_FORMAT)} ({now_text} - 5 min.)"
        )
    if signed > now + _SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {date} is still later than "
            f"{(now + _SKEW).strftime(_DATE_FORMAT)} ({now_text} + 5 min.)"
        )


class SigV4Check:
    """Checks the ``Authorization`` header of each request.

    ``clock`` (the workbench's, real time by default) is the server's time that signatures
    must be within 5 minutes of, when they are verified: a simulated clock far from real time
    refuses clients that sign with real time, as AWS refuses a client whose clock is off.
    """

    def __init__(
        self, credentials: Mapping[str, str] | None = None, clock: Clock | None = None
    ) -> None:
        self.credentials = dict(credentials) if credentials else None
        self.clock = clock if clock is not None else WallClock()

    def verify(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise the error AWS answers with, or return if the request may go on."""
        lowered = {name.lower(): value for name, value in headers.items()}
        authorization = lowered.get("authorization")
        if not authorization:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        parts = _parse(authorization)
        date = lowered.get("x-amz-date")
        if not date:
            raise IncompleteSignatureException(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header."
            )
        if self.credentials is None:
            return
        access_key, _, region, service = _SCOPE.fullmatch(parts["Credential"]).groups()[:4]
        secret = self.credentials.get(access_key)
        if secret is None:
            raise UnrecognizedClientException(
                "The security token included in the request is invalid."
            )
        _check_date(date, self.clock.datetime())
        signed = parts["SignedHeaders"].split(";")
        request = AWSRequest(
            method=method,
            url=url,
            headers={name: lowered[name] for name in signed if name in lowered},
            data=body,
        )
        request.context["timestamp"] = date
        signer = SigV4Auth(Credentials(access_key, secret), service, region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise InvalidSignatureException(
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service "
                "documentation for details."
            )
