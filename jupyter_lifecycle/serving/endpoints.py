"""Model endpoints: scoring servers started from a notebook, registered in the store (issue #16, part 3).

``serve(model_uri)`` starts ``jupyter-lifecycle serve`` as a detached process
(its own session, so it outlives the kernel that started it and a kernel
restart does not take it down), records it in the store's ``endpoints``
table and returns an ``Endpoint`` handle once ``/ping`` answers. Any process
on the store sees it (``endpoints()``, ``get_endpoint()``) and can stop it;
one whose process is gone reads as ``DEAD``.

``run_endpoint`` is the server side: ``jupyter-lifecycle serve`` calls it,
so a server started from a shell is an endpoint too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import InvalidInput, InvalidState, LifecycleError, NotFound
from ..scoring.environment import ENV_MANAGERS
from ..store import Store, open_store
from ..store.endpoints import EndpointRow
from ..store.liveness import HOST, process_alive

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Endpoint", "endpoints", "get_endpoint", "run_endpoint", "serve", "stop_endpoint"]

START_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
_children: dict[int, subprocess.Popen[bytes]] = {}  # servers this process started, reaped when they end


def _registered(model_uri: str, store: Store) -> tuple[str | None, str | None]:
    """The registered model name and version a ``models:/`` URI names now (``None``s for other URIs)."""
    if not model_uri.startswith("models:/") or model_uri.startswith("models:/m-"):
        return None, None
    from ..registry import resolve_version

    version = resolve_version(model_uri, store)
    return version.name, str(version.version)


def _absolute(model_uri: str) -> str:
    """A local path made absolute, so the endpoint means the same model from any working directory."""
    scheme, colon, _ = model_uri.partition(":")
    if colon and len(scheme) > 1:
        return model_uri
    return str(Path(model_uri).expanduser().resolve())


class Endpoint:
    """A handle on a model endpoint: where it answers, ``predict``, ``logs``, ``stop``.

    The handle is only the endpoint's id and what the store says about it, so
    one rebuilt in another kernel (``get_endpoint``) works the same.
    """

    def __init__(self, row: EndpointRow, home: Path) -> None:
        self._row = row
        self._home = home

    def _refresh(self) -> EndpointRow:
        self._row = open_store(self._home).endpoints.get(self._row.endpoint_id)
        return self._row

    @property
    def endpoint_id(self) -> str:
        """The endpoint's id (``ep-...``)."""
        return self._row.endpoint_id

    @property
    def model_uri(self) -> str:
        """The model URI it was started with."""
        return self._row.model_uri

    @property
    def model_name(self) -> str | None:
        """The registered model served, for ``models:/`` URIs."""
        return self._row.model_name

    @property
    def version(self) -> str | None:
        """The registered model version served (resolved when it started)."""
        return self._row.model_version

    @property
    def host(self) -> str:
        """The address it binds."""
        return self._row.host

    @property
    def port(self) -> int | None:
        """The port it listens on."""
        return self._row.port

    @property
    def pid(self) -> int | None:
        """The server's process id (on the host that started it)."""
        return self._row.pid

    @property
    def url(self) -> str:
        """Its base URL, e.g. ``http://127.0.0.1:54321``."""
        host = self._row.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{'[' + host + ']' if ':' in host else host}:{self._row.port}"

    @property
    def status(self) -> str:
        """``STARTING``, ``RUNNING``, ``DEAD`` (its process is gone), ``STOPPED`` or ``FAILED``, read now."""
        return self._refresh().status

    @property
    def alive(self) -> bool:
        """Whether it is running now."""
        return self._refresh().status == "RUNNING"

    @property
    def requests_served(self) -> int:
        """``/invocations`` requests answered so far (counted in batches, about once a second)."""
        return self._refresh().requests_served

    def predict(self, data: Any, params: dict[str, Any] | None = None, timeout: float = 60.0) -> Any:
        """Score ``data`` over HTTP with MLflow's protocol; a DataFrame for record predictions, else an array.

        A DataFrame goes as ``dataframe_split``, an array or list as
        ``instances``, a dict as ``inputs``; an error answer raises a
        ``LifecycleError`` with the server's status and message.
        """
        import numpy as np
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            payload = '{"dataframe_split": ' + data.to_json(orient="split", index=False, date_format="iso") + "}"
            body: dict[str, Any] = json.loads(payload)
        elif isinstance(data, np.ndarray):
            body = {"instances": data.tolist()}
        elif isinstance(data, list):
            body = {"instances": data}
        elif isinstance(data, dict):
            body = {"inputs": data}
        else:
            raise InvalidInput(f"predict takes a DataFrame, an array, a list or a dict, not {type(data).__name__}")
        if params:
            body["params"] = params
        answer = _post(f"{self.url}/invocations", json.dumps(body).encode(), timeout)
        predictions = answer["predictions"]
        if isinstance(predictions, list) and predictions and isinstance(predictions[0], dict):
            return pd.DataFrame(predictions)
        return np.asarray(predictions)

    def logs(self, tail: int | None = None) -> str:
        """What the server process wrote (its last ``tail`` lines with ``tail``)."""
        path = self._row.log_path
        if not path or not Path(path).exists():
            return ""
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        return "".join(text.splitlines(keepends=True)[-tail:]) if tail else text

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the server (SIGTERM, a graceful shutdown that flushes its inference log; SIGKILL after ``timeout``)."""
        self._row = stop_endpoint(self._row.endpoint_id, timeout, home=self._home)

    def __repr__(self) -> str:
        row = self._row
        what = f"{row.model_name} v{row.model_version}" if row.model_name else row.model_uri
        return f"Endpoint({row.endpoint_id!r}, {what}, {self.url}, pid {row.pid}, {row.status})"


def _post(url: str, body: bytes, timeout: float) -> Any:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own endpoint's URL
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", exc.reason)
        except ValueError:
            message = exc.reason
        error = LifecycleError(f"the endpoint answered {exc.code}: {message}")
        error.http_status = exc.code
        raise error from None
    except urllib.error.URLError as exc:
        raise InvalidState(f"the endpoint at {url} does not answer ({exc.reason}): check endpoints() "
                           "for its status") from None  # fmt: skip


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def serve(
    model_uri: str,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    workers: int = 1,
    env_manager: str = "local",
    log_requests: bool = False,
    replace: bool = False,
    timeout: float = START_TIMEOUT_SECONDS,
) -> Endpoint:
    """Start a scoring server for ``model_uri`` in the background; return its handle once ``/ping`` answers.

    The server is a detached process registered in the store: it survives the
    kernel that started it, and any process sees it (``endpoints()``) and can
    stop it. It binds ``127.0.0.1`` unless ``host`` says otherwise; ``port=0``
    picks a free port. ``env_manager="virtualenv"`` runs it in an isolated
    environment built from the model's ``requirements.txt`` (built once, then
    reused). ``log_requests=True`` appends every ``/invocations`` request and
    answer to the store's inference table (``inference_log``).
    ``replace=True`` first stops the running endpoints of the same registered
    model (or the same model URI).
    """
    if env_manager not in ENV_MANAGERS:
        raise InvalidInput(f"unknown env_manager {env_manager!r}: use one of {', '.join(ENV_MANAGERS)}")
    if not isinstance(workers, int) or workers < 1:
        raise InvalidInput(f"workers must be a whole number of at least 1, not {workers!r}")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidInput(f"port must be between 0 and 65535 (0: any free port), not {port!r}")
    from ..models.uri import resolve_model_uri

    model_uri = _absolute(str(model_uri))
    store = open_store()
    name, version = _registered(model_uri, store)
    resolve_model_uri(model_uri)  # a bad URI fails here, not in a background process
    if replace:
        for row in store.endpoints.list(model_name=name) if name else store.endpoints.list():
            if row.live and (name is not None or row.model_uri == model_uri):
                stop_endpoint(row.endpoint_id, home=store.home)
    python = sys.executable
    if env_manager == "virtualenv":
        from ..scoring.environment import ensure_environment

        python = str(ensure_environment(model_uri))
    row = store.endpoints.create(model_uri, name, version, host, workers, env_manager, log_requests)
    Path(row.log_path or "").parent.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "jupyter_lifecycle.cli", "serve", model_uri, "--host", host, "--port", str(port),
               "--workers", str(workers), "--endpoint-id", row.endpoint_id]  # fmt: skip
    env = {**os.environ, config.HOME_ENV: str(store.db_path), "PYTHONUNBUFFERED": "1"}
    try:
        with open(row.log_path or os.devnull, "ab") as log:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)  # fmt: skip
    except OSError as exc:
        store.endpoints.mark_ended(row.endpoint_id, "FAILED", f"could not start {python}: {exc}")
        raise LifecycleError(f"could not start the endpoint's server with {python}: {exc}") from exc
    _children[proc.pid] = proc
    store.endpoints.set_process(row.endpoint_id, proc.pid)
    handle = Endpoint(row, store.home)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = handle.logs(tail=15).strip()
            store.endpoints.mark_ended(row.endpoint_id, "FAILED", f"exited with status {proc.returncode}")
            raise LifecycleError(f"the endpoint for {model_uri!r} exited with status {proc.returncode} before "
                                 f"answering; its log ({row.log_path}) ends with:\n{tail}")  # fmt: skip
        current = handle._refresh()
        if current.status == "RUNNING" and current.port and _pings(handle.url):
            return handle
        time.sleep(0.05)
    stop_endpoint(row.endpoint_id, home=store.home)
    store.endpoints.mark_ended(row.endpoint_id, "FAILED", f"did not answer within {timeout:g} s")
    raise LifecycleError(f"the endpoint for {model_uri!r} did not answer /ping within {timeout:g} s; "
                         f"see its log {row.log_path}")  # fmt: skip


def _gone(pid: int, since_ms: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return False
        del _children[pid]
        return True
    return not process_alive(pid, since_ms)


def stop_endpoint(endpoint_id: str, timeout: float = STOP_TIMEOUT_SECONDS, home: Path | None = None) -> EndpointRow:
    """Stop an endpoint from any process on its host: SIGTERM to its process group, SIGKILL after ``timeout``."""
    store = open_store(home)
    row = store.endpoints.get(endpoint_id)
    if row.status in ("STOPPED", "FAILED"):
        return row
    if row.owner_host != HOST:
        raise InvalidState(f"endpoint {endpoint_id} runs on another host ({row.owner_host}): stop it there")
    pid, since = row.pid, row.pid_time or row.start_time
    if pid is not None and not _gone(pid, since):
        # A server started by serve() leads its own session (start_new_session):
        # signal its process group, forked workers included. One started from
        # a shell (jupyter-lifecycle serve) shares its job's group with other
        # commands (a pipe): signal it alone, it stops its workers itself.
        try:
            group = os.getsid(pid) == pid
        except ProcessLookupError:
            group = False
        kill = os.killpg if group else os.kill
        try:
            kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while not _gone(pid, since) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _gone(pid, since):
            try:
                kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    store.endpoints.mark_ended(endpoint_id, "STOPPED")
    return store.endpoints.get(endpoint_id)


def get_endpoint(endpoint: str) -> Endpoint:
    """The handle of an endpoint: by id (``ep-...``), or the newest live endpoint serving a model URI or registered model."""
    store = open_store()
    if endpoint.startswith("ep-"):
        return Endpoint(store.endpoints.get(endpoint), store.home)
    uri = _absolute(endpoint) if not endpoint.startswith("models:/") and Path(endpoint).exists() else endpoint
    for row in store.endpoints.list():
        if row.live and uri in (row.model_uri, row.model_name):
            return Endpoint(row, store.home)
    raise NotFound(f"no running endpoint serves {endpoint!r}; start one with serve({endpoint!r}) "
                   "or list them with endpoints()")  # fmt: skip


def endpoints(all: bool = False) -> pd.DataFrame:  # noqa: A002 - the natural name for "stopped ones too"
    """Endpoints of the store, newest first: running and dead ones (stopped ones too with ``all=True``).

    Columns: endpoint_id, model_uri, model_name, version, url, port, pid,
    status (``RUNNING``, ``STARTING``, ``DEAD``, ``STOPPED``, ``FAILED``),
    uptime, requests_served, log_requests, start_time.
    """
    import pandas as pd

    store = open_store()
    now = time.time() * 1000
    rows = []
    for row in store.endpoints.list(include_ended=all):
        handle = Endpoint(row, store.home)
        running = row.status in ("RUNNING", "STARTING")
        uptime = (now - row.start_time) if running else ((row.end_time or row.start_time) - row.start_time)
        rows.append({
            "endpoint_id": row.endpoint_id, "model_uri": row.model_uri, "model_name": row.model_name,
            "version": row.model_version, "url": handle.url if row.port else None, "port": row.port, "pid": row.pid,
            "status": row.status, "uptime": pd.Timedelta(milliseconds=max(0.0, uptime)).round("s"),
            "requests_served": row.requests_served, "log_requests": row.log_requests,
            "start_time": pd.Timestamp(row.start_time, unit="ms", tz="UTC"),
        })  # fmt: skip
    columns = ["endpoint_id", "model_uri", "model_name", "version", "url", "port", "pid", "status", "uptime",
               "requests_served", "log_requests", "start_time"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def run_endpoint(
    model_uri: str,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    max_request_bytes: int | None = None,
    log_requests: bool = False,
    endpoint_id: str | None = None,
) -> None:
    """Serve in this process until SIGTERM/SIGINT, registered as an endpoint (``jupyter-lifecycle serve``).

    With ``endpoint_id`` the row was created by ``serve()`` (which also says
    whether to log requests); without, this process registers itself.
    """
    from .inference import RequestRecorder
    from .server import serve as serve_forever

    store = open_store()
    if endpoint_id is None:
        model_uri = _absolute(model_uri)
        name, version = _registered(model_uri, store)
        row = store.endpoints.create(model_uri, name, version, host, workers, "local", log_requests,
                                     pid=os.getpid(), status="STARTING")  # fmt: skip
    else:
        row = store.endpoints.get(endpoint_id)
    # Serve exactly the version resolved at the start, even if an alias moves meanwhile.
    load_uri = f"models:/{row.model_name}/{row.model_version}" if row.model_name else row.model_uri
    recorder = RequestRecorder(store, row)

    def ready(url: str) -> None:
        store.endpoints.mark_running(row.endpoint_id, int(url.rsplit(":", 1)[1]), os.getpid())
        print(f"Serving {model_uri} at {url} (workers: {workers}, endpoint {row.endpoint_id}"
              f"{', logging requests' if row.log_requests else ''})", flush=True)  # fmt: skip

    try:
        serve_forever(load_uri, host=host, port=port, workers=workers, max_request_bytes=max_request_bytes,
                      on_ready=ready, recorder=recorder)  # fmt: skip
    except BaseException as exc:
        store.endpoints.mark_ended(row.endpoint_id, "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    recorder.close()
    store.endpoints.mark_ended(row.endpoint_id, "STOPPED")
