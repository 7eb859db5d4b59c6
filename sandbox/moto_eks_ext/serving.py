"""moto's HTTP server: one asyncio event loop that parses HTTP/1.1 with httptools and runs the
WSGI application on the loop's own thread, one request after another, connections kept open.

moto answers one request at a time however it is served (Python's GIL). werkzeug's threaded
server added ~0.6 ms to each answer on top of moto's ~0.3 ms: a thread per connection woken
for each request, http.server's header parsing, the GIL passed between threads. Here a request
costs a parse in C and a call; fifty connections opened at once are answered in a third of the
time. A request that may be held (a sandbox fault with a delay is armed: `hold()` says so)
runs on a thread instead, so it holds only its own connection, as before.

The environ is werkzeug's (`make_environ`): the same keys, PATH_INFO unquoted, headers with an
underscore in their name dropped, repeated headers joined with a comma, a chunked body
dechunked (`wsgi.input_terminated`). Each answer goes out in one write with a Date and a
Content-Length (when the application gives none), and one access-log line in werkzeug's
format goes to stderr.
"""

import asyncio
import concurrent.futures
import io
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlsplit

import httptools
from werkzeug.exceptions import InternalServerError

# A client opening more connections at once than the backlog (discovery's DescribeCluster
# calls, ~500 at once) has the rest of its SYNs dropped and retried by the kernel a second later.
BACKLOG = 1024
# A request body past this is refused (the sandbox's largest are a few kB).
MAX_BODY = 64 * 1024 * 1024
# Requests held by a fault run on these threads (tests hold a few at once).
HELD_THREADS = 64

WSGIApp = Callable[..., Any]


def call(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Runs the WSGI application to the end of its answer: status, headers, body."""
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]
        return chunks.append

    iterable = app(environ, start_response)
    try:
        for chunk in iterable:
            if not isinstance(chunk, bytes):
                raise TypeError("applications must write bytes")
            chunks.append(chunk)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    if not started:
        raise AssertionError("the application did not call start_response")
    return started[0], list(started[1]), b"".join(chunks)


def answer_or_error(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes, bool]:
    """The application's answer; an error page (and the traceback on stderr) when it raised.
    The last item: whether the connection must close after it."""
    try:
        return (*call(app, environ), False)
    except Exception:  # as werkzeug: the error page, the traceback in the log
        sys.stderr.write("Error on request:\n" + traceback.format_exc())
        return (*call(InternalServerError(), environ), True)


_date: list[Any] = [0, ""]


def date_header() -> str:
    """The Date header's value, formatted once a second."""
    now = int(time.time())
    if _date[0] != now:
        _date[:] = [now, formatdate(now, usegmt=True)]
    return _date[1]


def wsgi_text(text: str) -> str:
    """PEP 3333's native string of a URL part (werkzeug's _wsgi_encoding_dance)."""
    return text.encode().decode("latin-1")


class Connection(asyncio.Protocol):
    """One client connection: its requests parsed as they arrive and answered in order."""

    def __init__(self, server: "EventLoopWSGIServer"):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("<local>", 0)
        self.pending: deque[tuple[dict[str, Any], bool]] = deque()  # parsed (environ, keep-alive), not answered yet
        self.busy = False  # a request is on a thread
        self.closing = False
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_size = 0

    # asyncio.Protocol

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = (peer[0], peer[1])

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade, ValueError) as error:
            self.refuse(f"bad request: {error}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.pending.clear()

    # httptools' callbacks

    def on_message_begin(self) -> None:
        self._url, self._headers, self._body, self._body_size = b"", [], [], 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        for name, value in self._headers:
            if name.lower() == b"expect" and value.lower() == b"100-continue":
                assert self.transport is not None  # headers arrive on an open connection
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY:
            raise ValueError(f"a body past {MAX_BODY} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.pending.append((self.environ(), self.parser.should_keep_alive()))
        self.serve()

    # serving

    def environ(self) -> dict[str, Any]:
        """werkzeug's make_environ of the request just parsed."""
        target = self._url.decode("latin-1")
        url = urlsplit(target)
        path = f"/{url.netloc}{url.path}" if not url.scheme and url.netloc else url.path
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b"".join(self._body)),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "SERVER_SOFTWARE": "moto_eks_ext",
            "REQUEST_METHOD": self.parser.get_method().decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": wsgi_text(unquote(path)),
            "QUERY_STRING": wsgi_text(url.query),
            "REQUEST_URI": wsgi_text(target),
            "RAW_URI": wsgi_text(target),
            "REMOTE_ADDR": self.peer[0],
            "REMOTE_PORT": self.peer[1],
            "SERVER_NAME": self.server.host,
            "SERVER_PORT": str(self.server.port),
            "SERVER_PROTOCOL": f"HTTP/{self.parser.get_http_version()}",
        }
        for raw_name, raw_value in self._headers:
            name = raw_name.decode("latin-1")
            if "_" in name:
                continue
            key = name.upper().replace("-", "_")
            value = raw_value.decode("latin-1")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = f"HTTP_{key}"
                if key in environ:
                    value = f"{environ[key]},{value}"
            environ[key] = value
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            environ["wsgi.input_terminated"] = True
        if url.scheme and url.netloc:
            environ["HTTP_HOST"] = url.netloc
        return environ

    def serve(self) -> None:
        """Answers the parsed requests in order: on this thread, or on one of the held-request
        threads when the server says a request may be held (then the rest wait for it)."""
        while self.pending and not self.busy and not self.closing:
            environ, keep_alive = self.pending.popleft()
            if not self.server.hold():
                self.send(environ, keep_alive, *answer_or_error(self.server.app, environ))
                continue
            self.busy = True
            held = self.server.loop.run_in_executor(self.server.held, answer_or_error, self.server.app, environ)
            held.add_done_callback(lambda done, environ=environ, keep_alive=keep_alive: self.held_answered(environ, keep_alive, done))

    def held_answered(self, environ: dict[str, Any], keep_alive: bool, done: "asyncio.Future[Any]") -> None:
        self.busy = False
        if not self.closing:
            self.send(environ, keep_alive, *done.result())
            self.serve()

    def send(
        self, environ: dict[str, Any], keep_alive: bool, status: str, headers: list[tuple[str, str]], body: bytes, close: bool
    ) -> None:
        """Status line, Date, the application's headers and the body, in one write."""
        assert self.transport is not None  # requests are parsed on an open connection
        close = close or not keep_alive
        code = int(status.split(None, 1)[0])
        lines = [f"HTTP/1.1 {status}", f"Date: {date_header()}"]
        has_length = False
        for name, value in headers:
            lower = name.lower()
            if lower == "connection":  # the application's own: close when it says so
                close = close or "close" in value.lower()
                continue
            has_length = has_length or lower == "content-length"
            lines.append(f"{name}: {value}")
        bodiless = environ["REQUEST_METHOD"] == "HEAD" or 100 <= code < 200 or code in (204, 304)
        if not has_length and not bodiless:
            lines.append(f"Content-Length: {len(body)}")
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.transport.write(head if bodiless else head + body)
        request_line = f'{environ["REQUEST_METHOD"]} {environ["RAW_URI"]} {environ["SERVER_PROTOCOL"]}'
        stamp = time.strftime("%d/%b/%Y %H:%M:%S")
        sys.stderr.write(f'{self.peer[0]} - - [{stamp}] "{request_line}" {code} -\n')
        if close:
            self.closing = True
            self.transport.close()

    def refuse(self, message: str) -> None:
        """A 400 for what cannot be parsed, and the connection closed."""
        assert self.transport is not None  # data arrives on an open connection
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.closing = True
        self.transport.close()


class EventLoopWSGIServer:
    """Serves a WSGI application on host:port (port 0: a free one, then `port` says which)."""

    def __init__(self, host: str, port: int, app: WSGIApp, hold: Callable[[], bool] = lambda: False):
        self.host, self.app, self.hold = host, app, hold
        self.loop = asyncio.new_event_loop()
        self.held = concurrent.futures.ThreadPoolExecutor(HELD_THREADS, thread_name_prefix="held")
        self.server = self.loop.run_until_complete(
            self.loop.create_server(lambda: Connection(self), host, port, backlog=BACKLOG, reuse_address=True)
        )
        self.port: int = self.server.sockets[0].getsockname()[1]

    def serve_forever(self) -> None:
        try:
            self.loop.run_forever()
        finally:
            self.server.close()
            self.held.shutdown(wait=False, cancel_futures=True)
