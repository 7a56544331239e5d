"""AWS-named exceptions shared by every service.

Each exception carries the name AWS returns on the wire (``code``) and a message that says what
was wrong and what is allowed, so the server room can answer boto3 with the right ``__type`` and a
notebook user sees the same name as on AWS.

>>> try:
...     raise ResourceNotFoundException("Stream retail-trans under account 000000000000 not found.")
... except ServiceError as error:
...     (error.code, error.status)
('ResourceNotFoundException', 400)
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error a Kinesis-family service returns; ``code`` is its name on the wire."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, str]:
        """The JSON 1.1 error body AWS sends."""
        return {"__type": self.code, "message": self.message}


class ResourceNotFoundException(ServiceError):
    """Unknown stream, shard, consumer, delivery stream, bucket or table."""


class ResourceInUseException(ServiceError):
    """The resource exists already, or is not in a state that allows the operation."""


class InvalidArgumentException(ServiceError):
    """A parameter is out of range or inconsistent with another (Kinesis's catch-all)."""


class ExpiredIteratorException(ServiceError):
    """A shard iterator older than its 300 s lifetime."""


class ExpiredNextTokenException(ServiceError):
    """A pagination token that has expired."""


class ProvisionedThroughputExceededException(ServiceError):
    """Over a shard's read or write quota."""


class LimitExceededException(ServiceError):
    """Over an account or stream quota (shard count, UpdateShardCount calls, consumers...)."""


class ValidationException(ServiceError):
    """The request's shape is wrong, e.g. a record larger than the size limit."""


class ServiceUnavailableException(ServiceError):
    """The service cannot take the request now; retry later."""

    status = 503


class AccessDeniedException(ServiceError):
    """The caller is not allowed to do this."""


class VersionMismatchException(ServiceError):
    """The stream version given does not match the stream's current version."""


class ClientLimitExceededException(ServiceError):
    """A request over a Kinesis Video limit (fragments or bytes in one clip, images per call)."""


class SerializationException(ServiceError):
    """The request body cannot be read: malformed JSON or CBOR, bad base64, a value of the wrong
    type."""


class UnknownOperationException(ServiceError):
    """The ``X-Amz-Target`` names no operation of the service."""


class MissingAuthenticationTokenException(ServiceError):
    """A request without an ``Authorization`` header."""


class IncompleteSignatureException(ServiceError):
    """An ``Authorization`` header that is not a well-formed SigV4 signature."""


class UnrecognizedClientException(ServiceError):
    """A SigV4 signature by an access key the service doesn't know."""


class InvalidSignatureException(ServiceError):
    """A SigV4 signature that doesn't match the request (e.g. a wrong secret key)."""


class InternalFailure(ServiceError):
    """The service failed on its side; the request may be retried."""

    status = 500


# S3's own error names, which the lake raises so code written against the lake reads like S3 code.
class NoSuchBucket(ResourceNotFoundException):
    """The bucket of an ``s3://`` URI does not exist."""

    status = 404


class NoSuchKey(ResourceNotFoundException):
    """No object has this key in the bucket."""

    status = 404


class BucketAlreadyOwnedByYou(ResourceInUseException):
    """create_bucket of a bucket that exists already."""

    status = 409


class BucketNotEmpty(ResourceInUseException):
    """delete_bucket of a bucket that still holds objects."""

    status = 409


class InvalidBucketName(ValidationException):
    """A bucket name outside S3's naming rules."""


class KeyTooLongError(ValidationException):
    """An object key longer than 1,024 bytes of UTF-8."""


class ConcurrentModificationException(ServiceError):
    """A configuration change based on a version that is no longer current."""


class EntityNotFoundException(ResourceNotFoundException):
    """Glue: no such database, table or partition in the catalog."""


class AlreadyExistsException(ResourceInUseException):
    """Glue: a database, table or partition of that name exists already."""


class InvalidRequestException(ValidationException):
    """Athena: the query cannot run as written (syntax, unknown table, unsupported construct)."""
