"""moto's HTTP server loop, with keep-alive: werkzeug's request handler (moto's subclass of it),
answering each request in one write and keeping the connection open, in werkzeug's threaded
server whose threads are kept for the next connection.

werkzeug 3's development server closes the connection after every answer ("Connection:
close"), so each request costs a TCP connection, a thread and a drain of the socket, and it
writes the status line, the headers and the body in separate system calls and logs through
`logging` (with colour). Here a request's body is read to its end before the application
sees it (so the next request on the connection starts where it should), the answer gets a
Content-Length (werkzeug would have sent it chunked) and goes out in one write, and the
access log is one plain line on stderr in werkzeug's format. The environ, the headers
werkzeug adds (Server, Date) and the status line are werkzeug's own: `make_environ`,
`send_response` and `send_header` are inherited.
"""

import io
import queue
import socket
import sys
import threading
import time
import traceback
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.exceptions import InternalServerError
from werkzeug.http import parse_set_header
from werkzeug.serving import DechunkedInput, ThreadedWSGIServer

# Werkzeug's: a dropped connection is not an error of the application.
DROPPED = (ConnectionError, TimeoutError)
# A request body past this is refused (the sandbox's largest are a few kB).
MAX_BODY = 64 * 1024 * 1024


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, keeping HTTP/1.1 connections open between requests."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one write per answer: nothing to coalesce

    def run_wsgi(self) -> None:  # werkzeug dispatches every do_<METHOD> here
        # http.server's parse_request has answered "Expect: 100-continue" already.
        try:
            body = self.read_body()
        except ValueError as error:
            self.close_connection = True
            self.answer(400, [("Content-Type", "text/plain")], str(error).encode(), "GET")
            return
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body or b"")  # never the socket: the next request is on it
        self.environ = environ
        method = environ["REQUEST_METHOD"]
        try:
            status, headers, chunks = self.call(self.server.app, environ)
        except DROPPED:
            self.close_connection = True
            return
        except Exception:  # as werkzeug: an error page, the traceback in the log
            self.server.log("error", "Error on request:\n" + traceback.format_exc())
            self.close_connection = True
            status, headers, chunks = self.call(InternalServerError(), environ)
        code = int(status.split(None, 1)[0])
        reason = status.split(None, 1)[1] if " " in status else ""
        try:
            self.answer(code, headers, b"".join(chunks), method, reason)
        except DROPPED:
            self.close_connection = True

    def read_body(self) -> bytes | None:
        """The request's body, read to its end (None: none was sent)."""
        if "chunked" in parse_set_header(self.headers.get("Transfer-Encoding")):
            return DechunkedInput(self.rfile).read()  # environ["wsgi.input_terminated"] is set
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        if not length.strip().isdigit() or int(length) > MAX_BODY:
            raise ValueError(f"bad Content-Length {length!r}")
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            raise ConnectionError("the client closed the connection inside the body")
        return body

    @staticmethod
    def call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """Runs the WSGI application to the end of its answer."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append

        chunks: list[bytes] = []
        iterable = app(environ, start_response)
        try:
            for chunk in iterable:
                chunks.append(chunk)
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
        if not started:
            raise AssertionError("the application did not call start_response")
        for chunk in chunks:
            if not isinstance(chunk, bytes):
                raise TypeError("applications must write bytes")
        return started[0], list(started[1]), chunks

    def answer(self, code: int, headers: list[tuple[str, str]], body: bytes, method: str, reason: str = "") -> None:
        """Status line, werkzeug's Server and Date, the application's headers and the body, in
        one write. A body without Content-Length gets one (werkzeug: chunked)."""
        self.send_response(code, reason or None)  # also logs the request (log_request)
        names = set()
        for key, value in headers:
            if key.lower() == "connection":  # the application's own: close when it says so
                self.close_connection = self.close_connection or "close" in value.lower()
                continue
            self.send_header(key, value)
            names.add(key.lower())
        bodiless = method == "HEAD" or 100 <= code < 200 or code in (204, 304)
        if "content-length" not in names and not bodiless:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self._headers_buffer.append(b"\r\n")
        if not bodiless:
            self._headers_buffer.append(body)
        self.flush_headers()

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """werkzeug's access log line, without `logging` and colour."""
        sys.stderr.write(
            f'{self.address_string()} - - [{self.log_date_time_string()}] "{self.requestline}" {code} {size}\n'
        )

    _date_cache: tuple[int, str] = (0, "")

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once a second."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        cached = KeepAliveRequestHandler._date_cache
        if cached[0] != now:
            cached = KeepAliveRequestHandler._date_cache = (now, super().date_time_string(now))
        return cached[1]


class ThreadKeepingWSGIServer(ThreadedWSGIServer):
    """werkzeug's threaded server, its threads kept: a thread that has served a connection to
    its end waits for the next connection instead of ending, so a new connection costs a hand-
    over, not a thread's start (werkzeug starts one per connection: with a client opening fifty
    at once, as discovery's ListClusters burst does, those starts were a fifth of moto's time).
    There are as many threads as connections were ever open at once; none is ever joined
    (werkzeug's are daemons too)."""

    # werkzeug's backlog is 128: a client opening more connections at once (discovery's
    # DescribeCluster calls, 10 per account and region, ~500 at once) had the rest of its SYNs
    # dropped and retried by the kernel a second later, then three.
    request_queue_size = 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle = 0  # threads waiting in _serve for a connection
        self._idle_lock = threading.Lock()
        self._connections: queue.SimpleQueue[tuple[socket.socket, Any]] = queue.SimpleQueue()

    def process_request(self, request: Any, client_address: Any) -> None:
        # Each connection put on the queue was counted off an idle thread, which takes one.
        with self._idle_lock:
            if self._idle:
                self._idle -= 1
                self._connections.put((request, client_address))
                return
        threading.Thread(target=self._serve, args=(request, client_address), daemon=True).start()

    def _serve(self, request: Any, client_address: Any) -> None:
        while True:
            self.process_request_thread(request, client_address)  # closes the connection
            with self._idle_lock:
                self._idle += 1
            request, client_address = self._connections.get()
