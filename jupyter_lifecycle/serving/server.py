"""The scoring server: a thin HTTP layer over ``protocol.invocations``.

HTTP stack: tornado's ``HTTPServer`` with a bare ``HTTPMessageDelegate`` (no
``web.Application``). Tornado is already installed with jupyter_server, so
this adds no dependency; its HTTP/1.1 parser handles keep-alive, chunked
bodies and malformed requests; the delegate sees the headers before the body,
so an oversized request is refused with 413 without being buffered; and
``bind_sockets`` + ``fork`` give several worker processes on one port.
A request tornado itself cannot parse (a control character in a header, a
bad chunk size) gets tornado's bare ``400`` line; ``_json_errors`` turns it
into the same JSON error as every other answer, naming what was wrong.
Measured on this machine with a keep-alive client and a trivial handler:
asyncio raw protocol ~3.5k req/s, tornado bare delegate ~2.4–3.6k req/s,
stdlib ``ThreadingHTTPServer`` ~2.6k req/s (and 23 req/s until Nagle is
turned off), tornado ``web.Application`` ~2k req/s: every choice is well
under a millisecond, far below the model's own predict time, so the most
robust parser without a new dependency wins. Predictions run on the event
loop thread: with the GIL a thread pool would only add hand-off latency;
``--workers N`` is the way to use more cores.

Routes: ``POST /invocations``, ``GET /ping``, ``/health``, ``/version``,
``/metadata``, ``/openapi.json``. Errors are JSON ``{"error_code", "message"}``.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import InvalidInput, LifecycleError
from ..scoring.model import ScoringModel
from . import protocol
from .openapi import openapi_document

if TYPE_CHECKING:
    from .inference import RequestRecorder

log = logging.getLogger(__name__)

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
Response = tuple[int, str, bytes]
STATUS_TEXT = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
               413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error"}  # fmt: skip
LINGER_SECONDS = 30.0
"""After a 413 sent before the body, how long the body is still read (and dropped) before closing."""
LINGER_IDLE_SECONDS = 5.0
"""...and how long a pause in it ends that early (nginx's ``lingering_time`` and ``lingering_timeout``)."""
_TORNADO_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"


def _error(status: int, code: str, message: str) -> Response:
    return status, JSON, protocol.dumps({"error_code": code, "message": message})


def _closing(response: Response) -> bytes:
    """A whole HTTP/1.1 response that ends the connection, as bytes for a raw stream."""
    status, ctype, body = response
    return (f"HTTP/1.1 {status} {STATUS_TEXT[status]}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body  # fmt: skip


async def _answer_and_linger(stream: Any, response: Response, unread: int) -> None:
    """Send ``response`` on a detached stream, then read and drop up to ``unread`` bytes before closing.

    Closing a socket with unread input makes the kernel reset the connection,
    and a client still sending its body then never reads the answer (issue
    #12, defect 5: a 50 MiB body got a reset instead of the 413). Dropping the
    rest for a bounded time costs no memory.
    """
    from tornado.iostream import StreamClosedError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_SECONDS
    try:
        await stream.write(_closing(response))
        if stream.socket is not None:
            stream.socket.shutdown(socket.SHUT_WR)  # the client sees the whole answer now, even while it sends
        while unread > 0 and loop.time() < deadline:
            wait = min(LINGER_IDLE_SECONDS, deadline - loop.time())
            unread -= len(await asyncio.wait_for(stream.read_bytes(min(unread, 1 << 16), partial=True), wait))
    except (StreamClosedError, OSError, asyncio.TimeoutError):
        pass  # the client went away or stalled: nothing left to protect
    finally:
        stream.close()


class ScoringApp:
    """Routing and answers, independent of the HTTP library: ``respond(method, path, ...)``."""

    def __init__(self, model: ScoringModel, max_request_bytes: int | None = None,
                 recorder: RequestRecorder | None = None) -> None:  # fmt: skip
        from .._version import __version__

        self.model = model
        self.recorder = recorder
        self.max_request_bytes = max_request_bytes or config.SERVE_MAX_REQUEST_BYTES
        metadata = {**model.describe(), "version": __version__}
        self._static: dict[str, Response] = {
            "/ping": (200, TEXT, b"\n"),
            "/health": (200, TEXT, b"\n"),
            "/version": (200, TEXT, __version__.encode()),
            "/metadata": (200, JSON, protocol.dumps(metadata)),
            "/openapi.json": (200, JSON, protocol.dumps(openapi_document(model, __version__))),
        }

    def respond(self, method: str, path: str, content_type: str | None, body: bytes) -> Response:
        """The status, content type and body answering one request."""
        path = path.split("?", 1)[0]
        if path == "/invocations":
            if self.recorder is None:
                return self._invocations(method, content_type, body)
            started, t0 = time.time(), time.perf_counter()
            scored = self._invocations(method, content_type, body)
            self.recorder.record(started, (time.perf_counter() - t0) * 1000, scored[0], content_type, body, scored[2])
            return scored
        answer = self._static.get(path)
        if answer is None:
            known = ", ".join(["/invocations", *self._static])
            return _error(404, "ENDPOINT_NOT_FOUND", f"no route {path!r}; the routes are {known}")
        if method not in ("GET", "HEAD"):
            return _error(405, "BAD_REQUEST", f"{method} {path} is not allowed: use GET")
        return answer

    def _invocations(self, method: str, content_type: str | None, body: bytes) -> Response:
        if method != "POST":
            return _error(405, "BAD_REQUEST", f"{method} /invocations is not allowed: use POST")
        try:
            return 200, JSON, protocol.dumps(protocol.invocations(body, content_type, self.model))
        except LifecycleError as exc:
            return exc.http_status, JSON, protocol.dumps(exc.to_dict())
        except Exception as exc:  # a bug here must still answer in JSON
            log.exception("scoring failed")
            return _error(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")

    def too_large(self, size: int | None) -> Response:
        """The 413 answer for a body over the limit."""
        got = f" ({size} bytes)" if size is not None else ""
        return _error(413, "BAD_REQUEST", f"request body too large{got}: the limit is {self.max_request_bytes} bytes; "
                      "send smaller batches or start the server with a larger --max-request-size")  # fmt: skip


def _tornado_delegate(app: ScoringApp, worker_pid: bool = False) -> Any:
    """A tornado ``HTTPServerConnectionDelegate`` answering with ``app``."""
    from tornado import httputil

    limit = app.max_request_bytes
    lingering: set[asyncio.Task[None]] = set()  # referenced until done, as asyncio asks

    class Request(httputil.HTTPMessageDelegate):
        def __init__(self, connection: Any) -> None:
            self.connection = connection
            self.chunks: list[bytes] = []
            self.size = 0
            self.declared: int | None = None

        def headers_received(self, start_line: Any, headers: Any) -> None:
            self.method, self.path = start_line.method, start_line.path
            self.content_type = headers.get("Content-Type")
            length = headers.get("Content-Length")
            self.declared = int(length) if length and length.isdigit() else None
            if self.declared is not None and self.declared > limit:
                # Answer from the headers alone: nothing of the body is read
                # into memory (and a client sending Expect: 100-continue, as
                # curl does for big bodies, never sends it).
                stream = self.connection.detach()
                task = asyncio.ensure_future(_answer_and_linger(stream, app.too_large(self.declared), self.declared))
                lingering.add(task)
                task.add_done_callback(lingering.discard)

        def data_received(self, chunk: bytes) -> None:
            # A chunked body has no length up front: past the limit, keep
            # reading but drop the bytes, and answer 413 at its end
            # (answering before the client finished sending would reset its connection).
            self.size += len(chunk)
            if self.size <= limit:
                self.chunks.append(chunk)
            else:
                self.chunks.clear()

        def finish(self) -> None:
            if self.size > limit:
                status, ctype, body = app.too_large(self.size)
            else:
                body_in = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
                status, ctype, body = app.respond(self.method, self.path, self.content_type, body_in)
            head = httputil.HTTPHeaders({"Content-Type": ctype, "Content-Length": str(len(body))})
            if worker_pid:  # says which worker answered (--workers N)
                head["X-Worker-Pid"] = str(os.getpid())
            start = httputil.ResponseStartLine("HTTP/1.1", status, STATUS_TEXT.get(status, ""))
            self.connection.write_headers(start, head, b"" if self.method == "HEAD" else body)
            self.connection.finish()

        def on_connection_close(self) -> None:
            self.chunks.clear()

    class Router(httputil.HTTPServerConnectionDelegate):
        def start_request(self, server_conn: object, request_conn: Any) -> Any:
            return Request(request_conn)

    return Router()


def _bind(host: str, port: int) -> list[socket.socket]:
    from tornado.netutil import bind_sockets

    try:
        return bind_sockets(port, host, family=socket.AF_INET if host in ("127.0.0.1", "0.0.0.0") else socket.AF_UNSPEC)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise LifecycleError(f"port {port} on {host} is already in use: pick another with --port "
                                 "(or --port 0 for any free port)") from exc  # fmt: skip
        raise


class _MalformedReason(logging.Filter):
    """Keeps the reason tornado logs for a request it cannot parse, for the JSON 400 that answers it."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Malformed HTTP message from %s: %s" and isinstance(record.args, tuple):
            self.reason = str(record.args[-1])  # tornado writes its 400 right after logging this, in the same step
            return False  # answered in JSON below: not worth a log line
        return True


def _json_errors(server_class: type) -> type:
    """A tornado ``HTTPServer`` subclass whose answer to an unparseable request is a JSON 400 naming the problem."""
    from tornado.log import gen_log

    reasons = _MalformedReason()
    gen_log.addFilter(reasons)
    if not gen_log.isEnabledFor(logging.INFO):  # else the filter never sees the record
        gen_log.setLevel(logging.INFO)

    class JsonErrors(server_class):  # type: ignore[misc, valid-type]
        def handle_stream(self, stream: Any, address: Any) -> Any:
            write = stream.write

            def json_write(data: Any, *args: Any, **kwargs: Any) -> Any:
                if data == _TORNADO_400:  # tornado's only raw answer: a request it could not parse
                    reason = reasons.reason or "the request line or a header could not be parsed"
                    data = _closing(_error(400, "BAD_REQUEST", f"malformed HTTP request: {reason}. Send a valid "
                                           "HTTP/1.1 request: header values are printable text (no control "
                                           "characters), a body has a numeric Content-Length or valid chunks."))  # fmt: skip
                    reasons.reason = ""
                return write(data, *args, **kwargs)

            stream.write = json_write
            return super().handle_stream(stream, address)

    return JsonErrors


async def _serve_forever(app: ScoringApp, sockets: list[socket.socket], worker_pid: bool = False) -> None:
    from tornado.httpserver import HTTPServer

    # No cap from tornado: a declared length over the limit is answered from
    # the headers, and a chunked body over it is dropped as it arrives.
    server = _json_errors(HTTPServer)(_tornado_delegate(app, worker_pid), max_body_size=sys.maxsize,
                                      idle_connection_timeout=300)  # fmt: skip
    server.add_sockets(sockets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    # Graceful: stop accepting, let the request in progress finish (predictions
    # run on this loop, so none is mid-flight here), then close keep-alive connections.
    server.stop()
    await server.close_all_connections()
    if app.recorder is not None:
        app.recorder.close()  # the inference log's last batch, before a worker exits


def serve(
    model_uri: str,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    max_request_bytes: int | None = None,
    on_ready: Callable[[str], None] | None = None,
    recorder: RequestRecorder | None = None,
) -> None:
    """Serve ``model_uri`` over HTTP until SIGTERM or SIGINT (Ctrl+C), then shut down gracefully.

    Binds ``127.0.0.1`` unless ``host`` says otherwise; ``port=0`` picks a
    free port. With ``workers > 1`` the model is loaded once and that many
    processes are forked, all accepting on the same socket. ``recorder``
    counts (and with ``log_requests``, logs) every ``/invocations`` answer.
    """
    from ..scoring.model import load_scoring_model

    if workers < 1:
        raise InvalidInput(f"--workers must be at least 1, not {workers}")
    if workers > 1 and not hasattr(os, "fork"):
        raise InvalidInput("--workers > 1 needs fork(), which this platform lacks: run one worker per port instead")
    model = load_scoring_model(model_uri)
    app = ScoringApp(model, max_request_bytes, recorder)
    # Everything loaded so far (pandas, the model's libraries) lives as long as
    # the server: keep it out of the cyclic GC's scans, which otherwise add
    # multi-millisecond pauses to some requests, and out of copy-on-write
    # page faults in forked workers.
    gc.freeze()
    sockets = _bind(host, port)
    bound = sockets[0].getsockname()
    url = f"http://{host if ':' not in host else '[' + host + ']'}:{bound[1]}"
    (on_ready or (lambda u: print(f"Serving {model_uri} at {u} (workers: {workers})", flush=True)))(url)
    if workers <= 1:
        asyncio.run(_serve_forever(app, sockets))
        return
    _run_workers(app, sockets, workers)


def _run_workers(app: ScoringApp, sockets: list[socket.socket], workers: int) -> None:
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 0
            try:
                asyncio.run(_serve_forever(app, sockets, worker_pid=True))
            except BaseException:
                log.exception("scoring worker failed")
                code = 1
            finally:
                os._exit(code)
        children.add(pid)

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        if not stopping:  # a worker died: replace it, as gunicorn does
            print(f"worker {pid} exited with status {status}; starting another", file=sys.stderr, flush=True)
            spawn()
    for sock in sockets:
        sock.close()
