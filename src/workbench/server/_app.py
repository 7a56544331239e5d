"""The ASGI application: one ``POST /`` that dispatches on ``X-Amz-Target``.

Every request goes through the same steps, each answering with the error AWS gives: size limit,
target (``UnknownOperationException``), SigV4 (``MissingAuthenticationTokenException`` ...), body
codec (``SerializationException``), the model's validation (``ValidationException``), then the
operation's handler. Handlers call the engine, which blocks on files and locks, so most run in a
worker thread and the event loop stays free for other clients; the quick ones (putting and
getting records) run on the event loop.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from workbench.clock import Clock
from workbench.errors import (
    InternalFailure,
    SerializationException,
    ServiceError,
    UnknownOperationException,
)
from workbench.server._auth import SigV4Check
from workbench.server._model import ServiceModel
from workbench.server._wire import JSON, codec_for

log = logging.getLogger("workbench.server")

# A PutRecords of 500 records of 1 MiB is 5 MiB of data, about 7 MiB once base64-encoded; a
# 10 MiB record (MaxRecordSizeInKiB) is about 14 MiB. Anything past 16 MiB is refused unread.
DEFAULT_MAX_BODY = 16 * 1024 * 1024

Handler = Callable[[Any, dict[str, Any]], Any]


@dataclass
class Service:
    """One AWS service: its model and the handler of each operation it serves."""

    model: ServiceModel
    handlers: dict[str, Handler] = field(default_factory=dict)
    quick: set[str] = field(default_factory=set)

    def handler(self, operation: str, *, quick: bool = False) -> Callable[[Handler], Handler]:
        """Register the function below as the handler of ``operation``.

        ``quick``: the handler does a short piece of CPU-bound work that is safe across
        threads and waits on nothing longer than a shard's own lock (putting and getting
        records), so it runs on the event loop itself; the others run in a worker thread.
        """
        if operation not in self.model.operations:
            raise KeyError(f"{self.model.name} has no operation {operation}")

        def register(function: Handler) -> Handler:
            self.handlers[operation] = function
            if quick:
                self.quick.add(operation)
            return function

        return register


@dataclass(frozen=True, eq=False)
class EventStream:
    """What a handler returns to answer with an event stream instead of one body.

    ``close`` ends it early (the client went away, or the server stops).
    """

    messages: Iterator[bytes]
    close: Callable[[], None]


# What a request's dispatch answers: status, codec, headers, and the body or an event stream.
Answer = tuple[int, Any, dict[str, str], "bytes | EventStream"]


# A request's dispatch: from its URL, headers and body (read from ``receive``) to its answer.
Dispatch = Callable[[str, dict[str, str], Receive], Awaitable[Answer]]


class App:
    """The ASGI application of :func:`build_app`: ``POST /`` and nothing else.

    Called by uvicorn itself, without a framework's routing, middleware and request objects
    between them (about 3% of the CPU of a PutRecords of 500 records); answers are two ASGI
    messages, and only an event stream is a starlette response.
    """

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self.event_streams: set[EventStream] = set()  # open ones, closed when the server stops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/":
            await PlainTextResponse("Not Found", 404)(scope, receive, send)
            return
        if scope["method"] != "POST":
            await PlainTextResponse("Method Not Allowed", 405, {"Allow": "POST"})(
                scope, receive, send
            )
            return
        # As starlette reads them: the first of repeated headers, and the URL with its host.
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in reversed(scope["headers"])
        }
        scheme, server = scope.get("scheme", "http"), scope.get("server")
        url = _url(scheme, server, scope["path"], scope["query_string"], headers.get("host"))
        try:
            status, codec, answer_headers, content = await self._dispatch(url, headers, receive)
        except ClientDisconnect:
            return  # nobody to answer
        if isinstance(content, EventStream):
            response = StreamingResponse(
                _until_closed(content, self.event_streams),
                media_type="application/vnd.amazon.eventstream",
                headers=answer_headers,
            )
            await response(scope, receive, send)
            return
        raw_headers = [(name.encode(), value.encode()) for name, value in answer_headers.items()]
        raw_headers += [
            (b"content-type", codec.content_type.encode()),
            (b"content-length", b"%d" % len(content)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})


# A client sends request after request to the same URL: starlette's parsing of it is done once.
@functools.lru_cache(maxsize=64)
def _url(scheme: str, server: tuple | None, path: str, query: bytes, host: str | None) -> str:
    headers = [] if host is None else [(b"host", host.encode("latin-1"))]
    scope = {"scheme": scheme, "server": server, "path": path, "query_string": query}
    return str(URL(scope={**scope, "headers": headers}))


def _error_answer(error: ServiceError, request_id: str, codec=JSON) -> Answer:
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code}
    return error.status, codec, headers, codec.encode(error.to_dict())


async def _read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(int(declared), limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge(size, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _TooLarge(ServiceError):
    status = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"Request body of {size} bytes or more is over the limit of {limit} bytes."
        )

    @property
    def code(self) -> str:
        return "SerializationException"


def build_app(
    context: Any,
    services: list[Service],
    *,
    credentials: dict[str, str] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    quick_on_loop: bool = True,
    clock: Clock | None = None,
) -> App:
    """An ASGI app serving ``services``; each handler is called as ``handler(context, params)``.

    ``quick_on_loop=False`` sends quick handlers to worker threads too (for a context whose
    record path waits on the network). ``clock`` is the server's time for SigV4 (real time
    when None).
    """
    by_prefix = {service.model.target_prefix: service for service in services}
    auth = SigV4Check(credentials, clock)
    # Handler calls from the worker threads take turns: the services are made safe across
    # processes (flock), and the server does not count on every part of every service being
    # safe across threads of one process, except for the record path that quick handlers
    # take. Their work is CPU-bound under the GIL, so little is lost. Event streams are read
    # outside the turn.
    engine_turn = threading.Lock()

    def call(handler: Handler, params: dict[str, Any]) -> Any:
        with engine_turn:
            return handler(context, params)

    async def dispatch(url: str, headers: dict[str, str], receive: Receive) -> Answer:
        request_id = str(uuid.uuid4())
        codec = JSON
        try:
            codec = codec_for(headers.get("content-type"))
            service, operation = _target(headers.get("x-amz-target"), by_prefix)
            body = await _read_body(receive, headers.get("content-length"), max_body)
            auth.verify("POST", url, headers, body)
            params = _params(service.model, operation, codec, body)
            handler = service.handlers[operation]
            if quick_on_loop and operation in service.quick:
                # Sending it to a worker thread and back would cost two thread wake-ups (more
                # than the work of a small put, and far more while the clients keep the cores
                # busy) for work that holds the GIL all the same.
                result = handler(context, params)
            else:
                result = await run_in_threadpool(call, handler, params)
        except ServiceError as error:
            return _error_answer(error, request_id, codec)
        except ClientDisconnect:
            raise  # a client gone before its body arrived is no failure of the server
        except Exception:
            log.exception("request %s failed", request_id)
            return _error_answer(InternalFailure("Internal service error."), request_id, codec)
        answer_headers = {"x-amzn-RequestId": request_id}
        if isinstance(result, EventStream):
            return 200, codec, answer_headers, result
        return 200, codec, answer_headers, codec.encode(result or {})

    return App(dispatch)


async def _until_closed(stream: EventStream, open_streams: set[EventStream]):
    open_streams.add(stream)
    try:
        async for message in iterate_in_threadpool(stream.messages):
            yield message
    finally:
        # The client may have gone: stop the engine's subscription so its thread is freed.
        open_streams.discard(stream)
        stream.close()


def close_event_streams(app: App) -> None:
    """End every open event stream (SubscribeToShard) of ``app``."""
    for stream in list(app.event_streams):
        stream.close()


def _params(model: ServiceModel, operation: str, codec: Any, body: bytes) -> dict[str, Any]:
    # A valid JSON body is decoded and checked in one pass; any other is decoded first, so that
    # the codec's errors and then the model's name what is wrong with it.
    if codec is JSON:
        params = model.decode_json(operation, body)
        if params is not None:
            return params
    return model.parse(operation, _object(codec.decode(body)))


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise SerializationException(
            f"The request body must be an object, got {type(body).__name__}."
        )
    return body


def _target(target: str | None, by_prefix: dict[str, Service]) -> tuple[Service, str]:
    prefix, _, operation = (target or "").partition(".")
    service = by_prefix.get(prefix)
    if service is None or operation not in service.model.operations:
        raise UnknownOperationException(
            f"Unknown operation {target!r}: X-Amz-Target must be one of "
            f"{', '.join(sorted(by_prefix))} followed by '.' and an operation name."
        )
    if operation not in service.handlers:
        raise UnknownOperationException(
            f"{operation} is an AWS operation the workbench does not serve; it serves "
            f"{', '.join(sorted(service.handlers))}."
        )
    return service, operation
