"""Running the endpoint: in the foreground for ``workbench serve``, or in a background thread
for a notebook (its own event loop, so it works beside Jupyter's).

>>> import tempfile
>>> from workbench import Workbench
>>> endpoint = Endpoint(Workbench(home=tempfile.mkdtemp()))
>>> endpoint.start().startswith("http://127.0.0.1:")
True
>>> endpoint.stop()
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from workbench.server._app import DEFAULT_MAX_BODY, build_app, close_event_streams

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4567


def make_app(
    context: Any, *, credentials: dict[str, str] | None = None, max_body: int = DEFAULT_MAX_BODY
):
    """The ASGI app serving Kinesis and Firehose over ``context`` (a Workbench or a backend)."""
    from workbench.server._firehose import FIREHOSE
    from workbench.server._kinesis import KINESIS
    from workbench.server._remote import RemoteStreams

    return build_app(
        context,
        [KINESIS, FIREHOSE],
        credentials=credentials,
        max_body=max_body,
        # A remote backend's puts wait on the network: never on the event loop.
        quick_on_loop=not isinstance(context.streams, RemoteStreams),
        clock=getattr(context, "clock", None),
    )


def _stop_deliveries(context: Any) -> None:
    from workbench.server._firehose import stop_deliveries

    stop_deliveries(context)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (0: a free port), inheritable by worker processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it Nagle holds each response's body behind its headers for a delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class Endpoint:
    """The Kinesis/Firehose endpoint over a workbench, on 127.0.0.1 (port 0: a free port).

    ``start()`` returns the URL to give boto3 as ``endpoint_url``; ``stop()`` ends it. As a
    context manager it yields the URL.
    """

    def __init__(
        self,
        context: Any,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        credentials: dict[str, str] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        log_level: str = "warning",
    ) -> None:
        self.context = context
        # Resolved now, so a notebook that later switches $WORKBENCH_BACKEND to this very
        # endpoint doesn't turn the endpoint into a client of itself.
        _ = context.streams
        self.host, self.port = host, port
        self._app = make_app(context, credentials=credentials, max_body=max_body)
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self._app,
            log_level=self._log_level,
            access_log=False,
            # httptools parses HTTP in C; with h11, uvicorn's pure-Python parser, a PutRecords
            # of 500 records costs the server about 0.2 ms (a tenth) more.
            http="httptools",
            # uvloop where it is installed (not on Windows): its transports in C took about a
            # tenth off the server's CPU per PutRecords of 500 records (2.4 vs 2.7 ms).
            loop="auto",
            # boto3 keeps connections open between calls; keep them long enough to be reused.
            timeout_keep_alive=30,
            lifespan="off",
            # Nothing reads the client's address, so X-Forwarded-For need not be applied to it.
            proxy_headers=False,
            timeout_graceful_shutdown=5,
        )

    def serve_forever(
        self, announce: Callable[[str], object] = print, *, sock: socket.socket | None = None
    ) -> None:
        """Serve in this thread until interrupted (Ctrl-C); ``announce`` gets the URL first.

        ``sock``: a listening socket to serve on instead of binding one, such as the one that
        ``workbench serve --workers`` shares among its processes.
        """
        sock = sock if sock is not None else listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        announce(self.url)
        try:
            uvicorn.Server(self._config()).run(sockets=[sock])
        finally:
            _stop_deliveries(self.context)

    def start(self) -> str:
        """Serve in a background thread; return the endpoint URL once it accepts connections."""
        if self._thread is not None:
            return self.url
        sock = listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(self._config())
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="workbench-endpoint", daemon=True
        )
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the endpoint on {self.url} failed to start")
            thread.join(0.01)
        self._server, self._thread = server, thread
        return self.url

    def stop(self) -> None:
        """Stop serving; open event streams are closed."""
        if self._server is None or self._thread is None:
            return
        close_event_streams(self._app)
        self._server.should_exit = True
        self._thread.join(10)
        self._server = self._thread = None
        _stop_deliveries(self.context)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        return f"Endpoint({self.url!r}, {state})"
